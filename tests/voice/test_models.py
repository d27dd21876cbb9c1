"""`python -m voice.models download`: against a local HTTP server on loopback standing in for the model site."""

from __future__ import annotations

import hashlib
import io
import socket
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from voice.models import KNOWN_MODELS, KnownModel, ModelError, find_model, install_model, is_model_dir, main

SMALL = KNOWN_MODELS["small"].name
LARGE = KNOWN_MODELS["large"].name


def fake_model_zip(name: str = SMALL, *, extra: dict[str, bytes] | None = None, model: bool = True) -> bytes:
    """A tiny archive laid out like Alpha Cephei's: one top folder holding am/, conf/, graph/."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        if model:
            zf.writestr(f"{name}/am/final.mdl", b"acoustic model stand-in")
        zf.writestr(f"{name}/conf/model.conf", "--beam=10.0\n")
        zf.writestr(f"{name}/graph/HCLr.fst", b"graph stand-in")
        zf.writestr(f"{name}/README", "fake model for tests\n")
        for path, data in (extra or {}).items():
            zf.writestr(path, data)
    return buf.getvalue()


@dataclass
class FakeSite:
    base: str
    files: dict[str, bytes]
    requests: list[str] = field(default_factory=list)


@pytest.fixture
def site() -> Iterator[FakeSite]:
    """An HTTP server on 127.0.0.1 serving ``files`` by path (404 otherwise), recording each request."""
    files: dict[str, bytes] = {}
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            body = files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/zip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield FakeSite(f"http://127.0.0.1:{server.server_port}", files, requests)
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def closed_port() -> int:
    """A loopback port nobody listens on: connecting to it fails at once, like a machine without internet."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def leftovers(dest: Path) -> list[str]:
    return sorted(p.name for p in dest.iterdir()) if dest.exists() else []


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_matching_checksum_installs_the_model(site: FakeSite, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    archive = fake_model_zip()
    site.files["/small.zip"] = archive
    dest = tmp_path / "models"
    code, out, err = run(["download", "--dest", str(dest), "--url", f"{site.base}/small.zip",
                          "--sha256", sha256(archive)], capsys)
    assert code == 0, err
    assert site.requests == ["/small.zip"]
    assert is_model_dir(dest / SMALL)
    assert (dest / SMALL / "conf" / "model.conf").read_text() == "--beam=10.0\n"
    assert leftovers(dest) == [SMALL]  # no partial download, no unpack folder
    assert f"Modèle installé : {dest / SMALL}" in out
    assert "100 %" in err  # progress
    assert find_model(dest) == dest / SMALL


def test_size_sha256_and_md5_of_the_table_are_all_checked(site: FakeSite, tmp_path: Path) -> None:
    archive = fake_model_zip()
    site.files["/m.zip"] = archive
    good = KnownModel(SMALL, f"{site.base}/m.zip", size=len(archive), sha256=sha256(archive),
                      md5=hashlib.md5(archive).hexdigest())
    for bad in (KnownModel(SMALL, good.url, size=len(archive) + 1, sha256=good.sha256, md5=good.md5),
                KnownModel(SMALL, good.url, size=good.size, sha256=good.sha256, md5="0" * 32),
                KnownModel(SMALL, good.url, size=good.size, sha256="0" * 64, md5=good.md5)):
        with pytest.raises(ModelError, match="refusée"):
            install_model(bad, tmp_path)
        assert leftovers(tmp_path) == []
    assert install_model(good, tmp_path) == tmp_path / SMALL
    assert leftovers(tmp_path) == [SMALL]


def test_wrong_checksum_is_refused_and_leaves_nothing(site: FakeSite, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    site.files["/small.zip"] = fake_model_zip()
    dest = tmp_path / "models"
    code, _, err = run(["download", "--dest", str(dest), "--url", f"{site.base}/small.zip",
                        "--sha256", sha256(b"something else")], capsys)
    assert code == 1
    assert "refusée" in err and "SHA-256" in err and "Rien n'a été installé" in err
    assert leftovers(dest) == []
    assert find_model(dest) is None


def test_offline_says_what_to_download_and_where_exit_2(tmp_path: Path, closed_port: int,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    dest = tmp_path / "models"
    url = f"http://127.0.0.1:{closed_port}/vosk/models/{SMALL}.zip"
    code, _, err = run(["download", "--dest", str(dest), "--url", url, "--timeout", "5"], capsys)
    assert code == 2
    assert f"Pas d'accès à 127.0.0.1:{closed_port}" in err
    assert f"téléchargez {url}" in err and f"placez-le dans {dest}/" in err and "make models" in err
    assert leftovers(dest) == []


def test_http_error_is_reported_like_no_access(site: FakeSite, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["download", "--dest", str(tmp_path), "--url", f"{site.base}/missing.zip"], capsys)
    assert code == 2
    assert "a répondu 404" in err
    assert leftovers(tmp_path) == []


def test_an_archive_placed_by_hand_is_verified_and_installed_without_network(
        tmp_path: Path, closed_port: int, capsys: pytest.CaptureFixture[str]) -> None:
    archive = fake_model_zip()
    (tmp_path / f"{SMALL}.zip").write_bytes(archive)
    code, _, err = run(["download", "--dest", str(tmp_path), "--url", f"http://127.0.0.1:{closed_port}/x.zip",
                        "--sha256", sha256(archive)], capsys)
    assert code == 0, err
    assert is_model_dir(tmp_path / SMALL)


def test_a_placed_archive_that_does_not_match_is_refused(tmp_path: Path, closed_port: int,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / f"{SMALL}.zip").write_bytes(fake_model_zip())
    code, _, err = run(["download", "--dest", str(tmp_path)], capsys)  # the table's real checksums
    assert code == 1 and "refusée" in err
    assert leftovers(tmp_path) == [f"{SMALL}.zip"]  # the operator's file is kept, nothing else appears


def test_model_without_known_checksum_is_refused_unless_accepted(site: FakeSite, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert KNOWN_MODELS["large"].sha256 is None  # when it is filled in, this test should use a model without one
    site.files["/large.zip"] = fake_model_zip(LARGE)
    argv = ["download", "--large", "--dest", str(tmp_path), "--url", f"{site.base}/large.zip"]
    code, _, err = run(argv, capsys)
    assert code == 3
    assert "--accept-unverified" in err and "--sha256" in err
    assert site.requests == []  # refused before downloading 1.4 GB
    assert leftovers(tmp_path) == []

    code, _, err = run([*argv, "--accept-unverified"], capsys)
    assert code == 0, err
    assert "SANS vérification" in err
    assert is_model_dir(tmp_path / LARGE)


def test_already_installed_model_is_not_downloaded_again(site: FakeSite, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / SMALL / "am").mkdir(parents=True)
    (tmp_path / SMALL / "am" / "final.mdl").write_bytes(b"x")
    code, out, _ = run(["download", "--dest", str(tmp_path), "--url", f"{site.base}/small.zip"], capsys)
    assert code == 0
    assert "déjà installé" in out
    assert site.requests == []


@pytest.mark.parametrize("member", ["../evil.txt", "/etc/evil.txt"])
def test_archive_with_paths_outside_the_folder_is_refused(site: FakeSite, tmp_path: Path, member: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    archive = fake_model_zip(extra={member: b"owned"})
    site.files["/small.zip"] = archive
    dest = tmp_path / "models"
    code, _, err = run(["download", "--dest", str(dest), "--url", f"{site.base}/small.zip",
                        "--sha256", sha256(archive)], capsys)
    assert code == 1 and "chemin dangereux" in err
    assert leftovers(dest) == []
    assert not (tmp_path / "evil.txt").exists()


def test_archive_without_a_model_is_refused(site: FakeSite, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    archive = fake_model_zip(model=False)
    site.files["/small.zip"] = archive
    code, _, err = run(["download", "--dest", str(tmp_path), "--url", f"{site.base}/small.zip",
                        "--sha256", sha256(archive)], capsys)
    assert code == 1 and "ne contient pas de modèle Vosk" in err
    assert leftovers(tmp_path) == []


def test_find_model(tmp_path: Path) -> None:
    assert find_model(tmp_path / "nowhere") is None
    assert find_model(tmp_path) is None
    for name in (SMALL, LARGE):
        (tmp_path / name / "am").mkdir(parents=True)
        (tmp_path / name / "am" / "final.mdl").write_bytes(b"x")
    assert find_model(tmp_path / SMALL) == tmp_path / SMALL  # a model folder itself
    assert find_model(tmp_path) == tmp_path / LARGE  # the large one when both are installed
    (tmp_path / LARGE / "am" / "final.mdl").unlink()
    assert find_model(tmp_path) == tmp_path / SMALL


def test_known_models_table() -> None:
    small, large = KNOWN_MODELS["small"], KNOWN_MODELS["large"]
    assert small.url == "https://alphacephei.com/vosk/models/vosk-model-small-fr-0.22.zip"
    assert large.url == "https://alphacephei.com/vosk/models/vosk-model-fr-0.22.zip"
    assert small.sha256 is not None and len(small.sha256) == 64 and int(small.sha256, 16) >= 0
    assert small.md5 is not None and len(small.md5) == 32
    assert small.size == 42_233_323

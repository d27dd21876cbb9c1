"""``python -m booking`` as a real process: starts on its flags, creates its schema, answers over HTTP,
refuses bad configuration with a clear message."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _wait_healthy(url: str, process: asyncio.subprocess.Process, wait_s: float = 30.0) -> None:
    deadline = time.monotonic() + wait_s
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                assert process.stderr is not None
                pytest.fail((await process.stderr.read()).decode())
            try:
                async with session.get(f"{url}/health") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    pytest.fail(f"{url} not healthy after {wait_s}s")


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_service_runs_and_books(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    port = _free_port()
    database = (f"sqlite:///{tmp_path / 'sub' / 'booking.db'}" if backend == "sqlite"
                else request.getfixturevalue("pg_database"))
    env = {"PATH": "/usr/bin:/bin", "GUICHET_DATA_DIR": str(tmp_path / "data")}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "booking", "--port", str(port), "--database", database,
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        await _wait_healthy(url, process)
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{url}/api/openapi.json") as response:
                assert (await response.json())["info"]["title"]
            async with session.get(f"{url}/api/v1/slots", params={"procedure": "passport", "from": "2027-01-04",
                                                                  "to": "2027-02-26", "limit": "1"}) as response:
                slot = (await response.json())["slots"][0]
            body = {"slot_id": slot["id"], "procedure": "passport", "name": "Jeanne Martin", "phone": "0611223344"}
            async with session.post(f"{url}/api/v1/appointments", json=body) as response:
                assert response.status == 201
                reference = (await response.json())["reference"]
            token = (tmp_path / "data" / "staff.token").read_text().strip()
            async with session.get(f"{url}/api/v1/staff/appointments/{reference}",
                                   headers={"Authorization": f"Bearer {token}"}) as response:
                assert (await response.json())["name"] == "Jeanne Martin"
    finally:
        process.terminate()
        _, stderr = await asyncio.wait_for(process.communicate(), 15)
    log = stderr.decode()
    assert "0611223344" not in log and "+33611223344" not in log and "Jeanne" not in log
    if backend == "sqlite":
        assert (tmp_path / "sub" / "booking.db").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--port", "99999"], "--port"),
    (["--database", "mysql://x"], "--database"),
])
def test_bad_configuration_is_refused_clearly(args: list[str], message: str, tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "booking", *args], cwd=ROOT, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "GUICHET_DATA_DIR": str(tmp_path)}, timeout=60, check=False)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr

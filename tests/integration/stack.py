"""The real dialogue stack on loopback for tests: booking backend, action server, Rasa server (REST, voice and
socket.io channels, HTTP API behind a token) and, when asked, the desk service, as processes."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RASA = ROOT / ".venv-rasa" / "bin" / "rasa"
MODEL = ROOT / "data" / "models" / "guichet.tar.gz"
LOGGING = ROOT / "deploy" / "logging.yml"  # personal data masked in every record of Rasa and the action server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Stack:
    booking_url: str
    actions_url: str
    rasa_url: str
    work: Path
    processes: dict[str, subprocess.Popen[bytes]]
    last_headers: dict[str, str] = field(default_factory=dict)
    desk_url: str | None = None
    tokens: dict[str, str] = field(default_factory=dict)  # desk, rasa, staff
    start: Callable[[str], subprocess.Popen[bytes]] | None = None  # starts one service again (restart)
    health_urls: dict[str, str] = field(default_factory=dict)

    def restart(self, name: str) -> None:
        """Stop one service (and its workers) and start it again; returns once it answers."""
        assert self.start is not None
        stop(self.processes[name])
        self.processes[name] = self.start(name)
        wait_ready(self.health_urls[name], self.processes[name], name, self.work, 180)

    @property
    def rasa_token(self) -> str:
        return self.tokens["rasa"]

    @property
    def desk_db(self) -> Path:
        return self.work / "data" / "desk.sqlite3"

    def add_operator(self, username: str, password: str, role: str = "agent") -> None:
        """Create a console operator with ``python -m web operator add`` on the stack's data folder."""
        env = {**os.environ, "GUICHET_DATA_DIR": str(self.work / "data")}
        done = subprocess.run([sys.executable, "-m", "web", "operator", "add", username, "--role", role], cwd=ROOT,
                              env=env, input=password + "\n", capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"operator add failed ({done.returncode}): {done.stderr}{done.stdout}")

    @property
    def booking_db(self) -> Path:
        return self.work / "booking.db"

    def appointments_mark(self) -> int:
        """The booking database's last appointment row: a test sharing the stack reads the rows after it."""
        with sqlite3.connect(self.booking_db) as db:
            return int(db.execute("SELECT coalesce(max(rowid), 0) FROM appointments").fetchone()[0])

    @property
    def tickets_db(self) -> Path:
        return self.work / "data" / "tickets.sqlite3"

    def say(self, sender: str, text: str, metadata: dict[str, Any] | None = None, *,
            channel: str = "rest") -> list[dict[str, Any]]:
        """One turn through Rasa's REST (or voice) channel; the bot's replies. On the voice channel, as the phone
        gateway, with the dialogue server's token."""
        body = json.dumps({"sender": sender, "message": text, "metadata": metadata or {}}).encode()
        headers = {"Content-Type": "application/json"}
        if channel == "voice":
            headers["Authorization"] = f"Bearer {self.rasa_token}"
        request = urllib.request.Request(f"{self.rasa_url}/webhooks/{channel}/webhook", data=body, headers=headers)
        with urllib.request.urlopen(request, timeout=60) as response:
            replies: list[dict[str, Any]] = json.loads(response.read())
            self.last_headers = dict(response.headers)
        return replies

    def tracker(self, sender: str) -> dict[str, Any]:
        url = f"{self.rasa_url}/conversations/{sender}/tracker?token={self.rasa_token}"
        with urllib.request.urlopen(url, timeout=30) as response:
            tracker: dict[str, Any] = json.loads(response.read())
        return tracker

    def log(self, name: str) -> str:
        """The whole log of one service (checks such as « no traceback » must see all of it)."""
        return (self.work / f"{name}.log").read_text(errors="replace")

    def log_tail(self, name: str, chars: int = 4000) -> str:
        """The end of one service's log, for an assertion's message."""
        return self.log(name)[-chars:]


def wait_ready(url: str, process: subprocess.Popen[bytes], name: str, work: Path, seconds: float) -> None:
    """Until ``url`` answers 200; fails with the tail of ``work/<name>.log`` if the process exits or is too slow."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited ({process.returncode}):\n{(work / f'{name}.log').read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{name} not ready after {seconds:.0f} s:\n{(work / f'{name}.log').read_text()[-3000:]}")


@contextmanager
def running_stack(work: Path, *, booking_env: dict[str, str] | None = None, desk: bool = False,
                  endpoints: Path = ROOT / "bot" / "endpoints.yml",
                  rasa_env: dict[str, str] | None = None) -> Iterator[Stack]:
    """Start the services (the desk too with ``desk=True``); stop them all on exit, whatever happened.

    ``endpoints``: Rasa's endpoints file (``deploy/endpoints.local.yml`` keeps conversations in SQLite under the
    stack's data folder, as ``make run`` does).
    ``rasa_env``: variables for the dialogue server only (its channels' limits…); by default browsers of any
    origin may use it (``--cors *`` and ``GUICHET_ALLOWED_ORIGINS=*``), for the browser tests' pages.

    Without the desk, the action server's desk address is a closed port: hand-offs go to its fallback outbox
    (``data/tickets.sqlite3``), as when the desk is down.
    """
    if not MODEL.exists():
        raise RuntimeError(f"No trained model at {MODEL}: run `make test` (it trains the model first)")
    (work / "data").mkdir(parents=True, exist_ok=True)  # SQLite cannot create a file in a missing folder
    ports = {name: free_port() for name in ("booking", "actions", "rasa", "desk")}
    tokens = {name: secrets.token_urlsafe(24) for name in ("desk", "rasa", "staff")}
    rasa_url = f"http://127.0.0.1:{ports['rasa']}"
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
           "GUICHET_DATA_DIR": str(work / "data"), "GUICHET_BOOKING_URL": f"http://127.0.0.1:{ports['booking']}",
           "GUICHET_ACTIONS_URL": f"http://127.0.0.1:{ports['actions']}/webhook", "PYTHONUNBUFFERED": "1",
           "SANIC_HOST": "127.0.0.1", "GUICHET_DESK_URL": f"http://127.0.0.1:{ports['desk']}",
           "GUICHET_DESK_TOKEN": tokens["desk"], "GUICHET_RASA_TOKEN": tokens["rasa"],
           "GUICHET_STAFF_TOKEN": tokens["staff"], "GUICHET_DIALOGUE_URL": rasa_url,
           "GUICHET_DIALOGUE_PUBLIC_URL": rasa_url, "GUICHET_ALLOWED_ORIGINS": "*",
           "GUICHET_PUBLIC_URL": f"http://127.0.0.1:{ports['desk']}"}  # the citizen's page, in the desk
    commands = {
        "booking": [sys.executable, "-m", "booking", "--port", str(ports["booking"]),
                    "--database", f"sqlite:///{work / 'booking.db'}"],
        "actions": [sys.executable, "-m", "rasa_sdk", "--actions", "actions", "--port", str(ports["actions"]),
                    "--logging-config_file", str(LOGGING)],
        "rasa": [str(RASA), "run", "--enable-api", "--interface", "127.0.0.1", "--port", str(ports["rasa"]),
                 "--model", str(MODEL), "--endpoints", str(endpoints), "--credentials",
                 str(ROOT / "bot" / "credentials.yml"), f"--auth-token={tokens['rasa']}", "--cors", "*",
                 "--logging-config-file", str(LOGGING)],
    }
    if desk:
        commands["desk"] = [sys.executable, "-m", "web", "--port", str(ports["desk"])]
    health = {"booking": "/health", "actions": "/health", "rasa": f"/status?token={tokens['rasa']}",
              "desk": "/health"}
    processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(name: str) -> subprocess.Popen[bytes]:
        log = (work / f"{name}.log").open("ab")
        process_env = {**env, **({"booking": booking_env, "rasa": rasa_env}.get(name) or {})}
        # Each service in its own process group: stopping it stops its workers too (Sanic's can outlive it).
        return subprocess.Popen(commands[name], cwd=ROOT, env=process_env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)

    urls = {name: f"http://127.0.0.1:{ports[name]}{health[name]}" for name in commands}
    try:
        for name in commands:
            processes[name] = start(name)
        for name in commands:
            wait_ready(urls[name], processes[name], name, work, 180)
        yield Stack(f"http://127.0.0.1:{ports['booking']}", f"http://127.0.0.1:{ports['actions']}", rasa_url, work,
                    processes, desk_url=f"http://127.0.0.1:{ports['desk']}" if desk else None, tokens=tokens,
                    start=start, health_urls=urls)
    finally:
        stop_all(processes.values())


def signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def stop_all(processes: Iterable[subprocess.Popen[bytes]]) -> None:
    """SIGTERM to each process group, then SIGKILL to what is left of each after 20 s (workers included)."""
    started = list(processes)
    for process in started:
        signal_group(process, signal.SIGTERM)
    for process in started:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=20)
        signal_group(process, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop one service of the stack and everything it started (a fault test's way to break it)."""
    stop_all([process])

"""A small process group for tests and benchmarks: start services, wait for their health URL, stop them all.

Unlike tests/integration/stack.py (one fixed stack), the caller chooses the commands, so it can start several
dialogue servers against shared stores (tests/integration/test_scale_out.py, bench/chat.py).
"""

from __future__ import annotations

import json
import socket
import subprocess
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.integration.stack import MODEL, RASA, ROOT, free_port, stop_all, wait_ready

__all__ = ["MODEL", "RASA", "ROOT", "Processes", "free_port", "get_json", "post_json", "reachable"]


def reachable(host: str, port: int, timeout: float = 2.0) -> str | None:
    """None if a TCP connection to host:port succeeds, else the reason."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as exc:
        return str(exc)


def get_json(url: str, timeout: float = 30) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


def post_json(url: str, body: Any, timeout: float = 60) -> Any:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


@dataclass
class Processes:
    """Named processes started in ``work`` (one log file each); ``stop()`` ends them all, whatever happened."""

    work: Path
    env: Mapping[str, str]
    running: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, command: Sequence[str], env: Mapping[str, str] | None = None) -> None:
        log = (self.work / f"{name}.log").open("wb")
        # Own process group: Sanic (action server) and Rasa run worker processes that must stop with them.
        self.running[name] = subprocess.Popen(list(command), cwd=ROOT, env={**self.env, **(env or {})}, stdout=log,
                                              stderr=subprocess.STDOUT, start_new_session=True)

    def log(self, name: str, tail: int = 3000) -> str:
        return (self.work / f"{name}.log").read_text(errors="replace")[-tail:]

    def wait(self, name: str, url: str, seconds: float = 240) -> None:
        """Until ``url`` answers 200; fails with the service's log if it exits or takes too long."""
        wait_ready(url, self.running[name], name, self.work, seconds)

    def stop(self) -> None:
        """SIGTERM to each process group, SIGKILL to the groups still there after 20 s."""
        stop_all(self.running.values())

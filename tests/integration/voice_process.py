"""`python -m voice serve` as a real process for tests: started against a running stack, stopped with SIGTERM."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.integration.stack import ROOT, Stack, free_port


@dataclass
class VoiceServe:
    process: subprocess.Popen[bytes]
    audio_port: int
    metrics_port: int
    log: Path


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path, limit_s: float = 60) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        assert process.poll() is None, f"voice serve exited:\n{log.read_text()[-3000:]}"
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.2)
    raise AssertionError(f"voice serve not listening after {limit_s} s:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def voice_serve(stack: Stack, work: Path, args: Sequence[str] = (), env: Mapping[str, str] | None = None,
                ready_s: float = 60) -> Iterator[VoiceServe]:
    """`python -m voice serve --audiosocket … --metrics … ARGS` with the stack's dialogue server; SIGTERM must end
    it cleanly (exit code 0)."""
    audio_port, metrics_port = free_port(), free_port()
    environment = {**os.environ, "GUICHET_DIALOGUE_URL": stack.rasa_url, "GUICHET_RASA_TOKEN": stack.rasa_token,
                   "GUICHET_TTS_RATE": "320", "GUICHET_VAD_HANGOVER_MS": "400", "GUICHET_SILENCE_TIMEOUT": "60",
                   "GUICHET_BOT_TIMEOUT": "60", "PYTHONUNBUFFERED": "1", **(env or {})}
    log = work / "voice.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "voice", "serve", "--audiosocket", f"127.0.0.1:{audio_port}",
             "--metrics", f"127.0.0.1:{metrics_port}", *args],
            cwd=ROOT, env=environment, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(audio_port, process, log, ready_s)
        wait_for_port(metrics_port, process, log, ready_s)
        yield VoiceServe(process, audio_port, metrics_port, log)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert code == 0, log.read_text()[-3000:]

"""`python -m voice serve` end to end: the real gateway process, called over AudioSocket like Asterisk would.

The test plays Asterisk: it opens the TCP connection with a UUID carrying the caller's number (what
deploy/asterisk/extensions.conf builds), streams 8 kHz audio in real time (silence, and espeak-ng speech for each
caller turn) and records the bot's audio. The gateway runs with `--scripted-stt` (the words of each utterance come
from a file: there is no French Vosk model here) against the real dialogue stack. The call must end with an
appointment booked on the voice channel for the caller's number, the bot must have spoken, and `GET /metrics`
must count the call, its turns and their latencies.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.stack import ROOT, Stack, free_port, running_stack
from tests.integration.test_voice_call import SCRIPT
from tests.voice.test_session import CALLER, speech
from voice.audio import SLIN8K, rms
from voice.gateways.audiosocket import AudioFrame, Decoder, HangupFrame, UuidFrame, caller_uuid, encode

pytestmark = pytest.mark.rasa_env
QUIET_MS = 1200.0


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("stack")) as running:
        yield running


class FakeAsterisk:
    """One AudioSocket call as Asterisk places it: real-time 20 ms frames out, the bot's frames recorded."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.bot: list[tuple[float, bytes]] = []  # (monotonic s, 20 ms of audio)
        self.said_until: list[float] = []  # when each clip finished playing
        self.hung_up_by_bot = False
        self._clips: list[bytes] = []
        self._done = False

    def say(self, pcm: bytes) -> None:
        self._clips.append(pcm)

    def quiet_since(self, after: float) -> bool:
        last = self.bot[-1][0] if self.bot else 0.0
        return last > after and time.monotonic() - last > QUIET_MS / 1000 and not self._clips

    async def send_loop(self) -> None:
        size = SLIN8K.bytes_per_frame(20)
        deadline = time.monotonic()
        current = b""
        while not self._done:
            if not current and self._clips:
                current = self._clips.pop(0)
            chunk, current = current[:size], current[size:]
            if chunk and not current:
                self.said_until.append(time.monotonic())
            self.writer.write(encode(AudioFrame(chunk + SLIN8K.silence(20)[len(chunk):])))
            await self.writer.drain()
            deadline += 0.02
            await asyncio.sleep(max(0.0, deadline - time.monotonic()))

    async def receive_loop(self) -> None:
        decoder = Decoder()
        while True:
            data = await self.reader.read(4096)
            if not data:
                break
            for frame in decoder.feed(data):
                if isinstance(frame, AudioFrame):
                    self.bot.append((time.monotonic(), frame.pcm))
                elif isinstance(frame, HangupFrame):
                    self.hung_up_by_bot = True
                    self._done = True
                    return
        self._done = True

    async def hang_up(self) -> None:
        self._done = True
        self.writer.write(encode(HangupFrame()))
        await self.writer.drain()


async def until(condition: Callable[[], bool], limit_s: float, what: str) -> None:
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def metrics(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            out[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return out


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path, limit_s: float = 60) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        assert process.poll() is None, f"voice serve exited:\n{log.read_text()[-3000:]}"
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.2)
    raise AssertionError(f"voice serve not listening after {limit_s} s:\n{log.read_text()[-3000:]}")


@dataclass
class VoiceServe:
    process: subprocess.Popen[bytes]
    audio_port: int
    metrics_port: int
    log: Path


@pytest.fixture
def voice_serve(stack: Stack, tmp_path: Path) -> Iterator[VoiceServe]:
    """`python -m voice serve --audiosocket … --metrics … --scripted-stt SCRIPT`; stopped with SIGTERM, which must
    end it cleanly (exit code 0)."""
    script = tmp_path / "script.txt"
    script.write_text("# one utterance per line\n" + "\n".join(SCRIPT) + "\n", encoding="utf-8")
    audio_port, metrics_port = free_port(), free_port()
    env = {**os.environ, "GUICHET_DIALOGUE_URL": stack.rasa_url, "GUICHET_RASA_TOKEN": stack.rasa_token,
           "GUICHET_TTS_RATE": "320",
           "GUICHET_VAD_HANGOVER_MS": "400", "GUICHET_SILENCE_TIMEOUT": "60", "GUICHET_BOT_TIMEOUT": "60",
           "PYTHONUNBUFFERED": "1"}
    log = tmp_path / "voice.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "voice", "serve", "--audiosocket", f"127.0.0.1:{audio_port}",
             "--metrics", f"127.0.0.1:{metrics_port}", "--scripted-stt", str(script)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(audio_port, process, log)
        wait_for_port(metrics_port, process, log)
        yield VoiceServe(process, audio_port, metrics_port, log)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert code == 0, log.read_text()[-3000:]


def _said(asterisk: FakeAsterisk, clips: int) -> Callable[[], bool]:
    return lambda: len(asterisk.said_until) >= clips


async def test_voice_serve_books_an_appointment_over_audiosocket(
        stack: Stack, voice_serve: VoiceServe, tmp_path: Path) -> None:
    log, audio_port, metrics_port = voice_serve.log, voice_serve.audio_port, voice_serve.metrics_port
    utterance, _ = speech(tmp_path, "Je voudrais un rendez-vous.", SLIN8K)
    reader, writer = await asyncio.open_connection("127.0.0.1", audio_port)
    writer.write(encode(UuidFrame(caller_uuid(CALLER))))
    asterisk = FakeAsterisk(reader, writer)
    tasks = [asyncio.create_task(asterisk.send_loop()), asyncio.create_task(asterisk.receive_loop())]
    try:
        await until(lambda: asterisk.quiet_since(0.0), 60, "the greeting")
        for turn in range(len(SCRIPT)):
            asterisk.say(utterance)
            await until(_said(asterisk, turn + 1), 30, f"turn {turn + 1} to be said")
            await until(lambda: asterisk.quiet_since(asterisk.said_until[-1]), 90,
                        f"the answer to turn {turn + 1}\n{log.read_text()[-2000:]}")
            assert not asterisk.hung_up_by_bot, log.read_text()[-3000:]
        await asterisk.hang_up()
        await asyncio.wait_for(tasks[1], 10)  # the gateway closes the connection
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        writer.close()
    await until(lambda: metrics(metrics_port).get("guichet_voice_active_calls") == 0, 10, "the call to end")
    figures = metrics(metrics_port)
    text = log.read_text()

    with sqlite3.connect(stack.booking_db) as db:
        row = db.execute("SELECT phone, channel, procedure, people, status FROM appointments "
                         "WHERE name = 'Jeanne Martin'").fetchone()
    assert row == (CALLER, "voice", "cni", 1, "booked"), text[-3000:]  # the number came through the UUID
    bot_audio = b"".join(pcm for _, pcm in asterisk.bot)
    assert rms(bot_audio, SLIN8K) > 500 and SLIN8K.duration_ms(len(bot_audio)) > 15_000

    assert figures["guichet_voice_calls_started_total{gateway=audiosocket}"] == 1
    assert figures["guichet_voice_calls_ended_total{outcome=caller}"] == 1
    assert figures["guichet_voice_turns_total"] == len(SCRIPT)
    assert figures["guichet_voice_turn_latency_seconds_count"] == len(SCRIPT)
    assert 0 < figures["guichet_voice_turn_latency_seconds_sum"] < 10 * len(SCRIPT)
    assert "scripted speech recognition" in text
    assert "33612345678" not in text and "0612345678" not in text  # no caller number in the gateway's log

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
import sqlite3
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.stack import Stack
from tests.integration.test_voice_call import SCRIPT
from tests.integration.voice_process import VoiceServe
from tests.integration.voice_process import voice_serve as serve
from tests.voice.test_session import CALLER, speech
from voice.audio import SLIN8K, rms
from voice.gateways.audiosocket import UuidFrame, caller_uuid, encode
from voice.testing.asterisk import FakeAsterisk, until

pytestmark = pytest.mark.rasa_env


def metrics(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            out[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return out


@pytest.fixture
def voice_serve(stack: Stack, tmp_path: Path) -> Iterator[VoiceServe]:
    """`python -m voice serve --audiosocket … --metrics … --scripted-stt SCRIPT`."""
    script = tmp_path / "script.txt"
    script.write_text("# one utterance per line\n" + "\n".join(SCRIPT) + "\n", encoding="utf-8")
    with serve(stack, tmp_path, ["--scripted-stt", str(script)]) as running:
        yield running


def _said(asterisk: FakeAsterisk, clips: int) -> Callable[[], bool]:
    return lambda: len(asterisk.said_until) >= clips


async def test_voice_serve_books_an_appointment_over_audiosocket(
        stack: Stack, voice_serve: VoiceServe, tmp_path: Path) -> None:
    mark = stack.appointments_mark()  # the stack is shared: this call's booking comes after
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
                         "WHERE name = 'Jeanne Martin' AND rowid > ?", (mark,)).fetchone()
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

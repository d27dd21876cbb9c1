"""A whole phone call through the real voice session and the real dialogue stack (Rasa + actions + booking).

Caller audio is espeak-ng speech on an in-memory line (it makes the VAD fire); a scripted transcriber decides the
words; the bot's answers are synthesized by espeak-ng and played in real time. The call must end with an appointment
booked on the voice channel for the caller's number.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import uuid
from pathlib import Path

import pytest

from tests.integration.stack import Stack
from tests.voice.test_session import CALLER, MemoryCallIO, speech, until
from voice.audio import SLIN8K, rms
from voice.bot_client import HttpBotClient
from voice.scripted import ScriptedTranscriber
from voice.session import CallSession
from voice.settings import VoiceSettings
from voice.tts import EspeakSynthesizer

pytestmark = pytest.mark.rasa_env
log = logging.getLogger(__name__)

SCRIPT = ["je voudrais un rendez-vous pour une carte d'identité", "une personne", "non", "le plus tôt possible",
          "le premier", "Jeanne Martin", "oui", "oui"]


async def test_a_caller_books_an_id_card_appointment_by_voice(stack: Stack, tmp_path: Path) -> None:
    mark = stack.appointments_mark()  # the stack is shared: this call's booking comes after
    utterance, _ = speech(tmp_path, "Je voudrais un rendez-vous.", SLIN8K)
    io = MemoryCallIO(SLIN8K, call_id=f"voice-{uuid.uuid4().hex[:10]}", caller=CALLER)
    transcriber = ScriptedTranscriber(SCRIPT)
    bot = HttpBotClient(stack.rasa_url, timeout_s=60, token=stack.rasa_token)
    synthesizer = EspeakSynthesizer(rate=320)  # the call plays in real time: fast speech keeps the test short
    settings = VoiceSettings(dialogue_url=stack.rasa_url, silence_timeout_s=60, vad_hangover_ms=400)
    session = CallSession(io, transcriber=transcriber, synthesizer=synthesizer, bot=bot, settings=settings)
    task = asyncio.create_task(session.run())

    def answered_and_quiet(after: float) -> bool:
        return task.done() or (bool(io.played) and io.played[-1][0] > after and io.quiet_for(1200))

    try:
        await until(lambda: answered_and_quiet(0.0), limit_s=60, what="the greeting")
        for _ in SCRIPT:
            io.say(utterance)
            await until(lambda: len(io.said_at) == len(transcriber.heard) + 1 or task.done(), what="the speech")
            await until(lambda: answered_and_quiet(io.said_at[-1]), limit_s=90,
                        what=f"the answer to turn {len(transcriber.heard)}\n{_transcript(session)}")
        assert not task.done(), _transcript(session)
        io.hang_up()
        await asyncio.wait_for(task, 10)
    finally:
        task.cancel()
        await bot.close()
        synthesizer.close()

    assert transcriber.remaining == 0 and len(session.turn_latencies_ms) == len(SCRIPT), _transcript(session)
    said = " ".join(text for who, text in session.transcript if who == "bot").lower()
    assert "assistant automatique" in said and "réservé" in said, _transcript(session)
    with sqlite3.connect(stack.booking_db) as db:
        row = db.execute("SELECT phone, channel, name, procedure, people, status FROM appointments "
                         "WHERE name = 'Jeanne Martin' AND rowid > ?", (mark,)).fetchone()
    assert row == (CALLER, "voice", "Jeanne Martin", "cni", 1, "booked"), _transcript(session)
    assert rms(io.bot_audio(), SLIN8K) > 500
    latencies = sorted(session.turn_latencies_ms)
    log.warning("voice call turn latencies (ms): %s; median %.0f, max %.0f",
                [round(x) for x in session.turn_latencies_ms], latencies[len(latencies) // 2], latencies[-1])
    print(f"\nturn latencies (ms): {[round(x) for x in session.turn_latencies_ms]}")


def _transcript(session: CallSession) -> str:
    return "\n".join(f"{'>' if who == 'caller' else ' '} {text}" for who, text in session.transcript)

"""A caller made of real human French speech books a passport appointment through the real phone line.

No scripted transcriber: `python -m voice serve` runs with the Whisper recognizer `make setup` installs, behind the
AudioSocket gateway, against the real dialogue stack. The caller is Debian's human French recordings
(asterisk-core-sounds-fr, one speaker), joined into answers — the pré-demande code spelled, the day, the name
spelled, the phone number by pairs — sent as 8 kHz audio in real time as Asterisk does; where the recordings have
no words for an answer (« passeport », « oui »: they are IVR prompts), the caller uses the keys the bot offers.
The bot reads the code back: the caller presses 1 when it is right, 2 when it was misheard, and then says it again,
slower (the recognizer mishears « un, deux » as « i, d » in some cuts of the fast version).
The caller number is withheld, so the number comes from the voice. What it says depends on what the bot asks
(read from the dialogue server's tracker, never from the audio), and the appointment must be in the booking
database with the procedure, day, name, pré-demande number and phone number said.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from guichet.clock import PARIS
from tests.integration.stack import Stack
from tests.integration.voice_process import VoiceServe, voice_serve
from voice.gateways.audiosocket import UuidFrame, caller_uuid, encode, split_call_uuid
from voice.testing.asterisk import FakeAsterisk, until
from voice.testing.human import HumanVoice
from voice.whisper_model import DEFAULT_DEST, find_whisper_model

pytestmark = pytest.mark.rasa_env
ROOT = Path(__file__).resolve().parents[2]
CODE, NAME, PHONE, DAY = "AB12CD34EF", "BERNARD", "0612345678", "jeudi"
Answer = str | bytes | Callable[[dict[str, Any]], str]  # a key, speech, or a key chosen from the slots heard


def right_or_wrong(slots: dict[str, Any]) -> str:
    """The caller's key after the code is read back: 1 when the bot heard it right, 2 when not."""
    return "1" if slots.get("predemande_ids") == [CODE] else "2"


@pytest.fixture
def whisper_line(stack: Stack, tmp_path: Path) -> Iterator[VoiceServe]:
    if find_whisper_model(ROOT / DEFAULT_DEST) is None:
        pytest.fail("no Whisper model in data/models/whisper-base: `make setup` installs it", pytrace=False)
    # the default end of turn (600 ms; 1.2 s while a number is dictated): the recordings pause between pairs
    env = {"GUICHET_STT_ENGINE": "whisper", "GUICHET_WHISPER_MODEL": str(ROOT / DEFAULT_DEST),
           "GUICHET_VAD_HANGOVER_MS": "600"}
    with voice_serve(stack, tmp_path, env=env) as running:
        yield running


async def test_a_human_voice_books_a_passport_appointment_on_the_phone(
        stack: Stack, whisper_line: VoiceServe) -> None:
    mark = stack.appointments_mark()  # the stack is shared: this call's booking comes after
    voice, slower = HumanVoice(rate=8000), HumanVoice(rate=8000, pause_ms=450)
    answers: dict[str, Answer] = {  # the bot's question (requested slot) → what the caller does
        "greeting": "1", "procedure": "1", "people": "1",
        "has_predemande": voice.spell(CODE).pcm,  # the code at once, in answer to « avez-vous fait la pré-demande ? »
        "predemande_ids": slower.spell(CODE).pcm,  # asked again after a wrong read-back: said slower
        # the code read back: the caller says whether it is right (by key: the recordings have no « oui »)
        "predemande_checked": right_or_wrong,
        "when": voice.weekday(DAY).pcm, "chosen_slot": "1", "person_name": voice.spell(NAME).pcm,
        "phone": voice.digits(PHONE).pcm, "booking_confirmed": "1",
    }
    call = caller_uuid(None)  # number withheld
    sender = split_call_uuid(call)[0]
    reader, writer = await asyncio.open_connection("127.0.0.1", whisper_line.audio_port)
    writer.write(encode(UuidFrame(call)))
    asterisk = FakeAsterisk(reader, writer)
    tasks = [asyncio.create_task(asterisk.send_loop()), asyncio.create_task(asterisk.receive_loop())]
    log = whisper_line.log
    asked: list[str] = []
    readbacks: list[str] = []  # the caller's key after each read-back of the code: 1 right, 2 wrong
    try:
        await until(lambda: asterisk.quiet_since(0.0), 60, "the greeting")
        for turn in range(18):
            state = stack.tracker(sender)
            if (state.get("slots") or {}).get("reference"):
                break
            question = str((state.get("slots") or {}).get("requested_slot") or ("greeting" if turn == 0 else ""))
            asked.append(question)
            assert question in answers, f"unexpected question {question!r} after {asked}\n{log.read_text()[-3000:]}"
            answer = answers[question]
            if callable(answer):
                answer = answer(state.get("slots") or {})
                readbacks.append(answer)
            if isinstance(answer, str):
                asterisk.press(answer)
            else:
                asterisk.say(answer)
            await until(lambda n=turn: len(asterisk.said_until) >= n + 1, 60, f"turn {turn + 1} to be said")
            await until(lambda: asterisk.quiet_since(asterisk.said_until[-1]) or asterisk.hung_up_by_bot, 90,
                        f"the answer to {question}\n{log.read_text()[-3000:]}")
            if asterisk.hung_up_by_bot:  # after the booking, the bot says goodbye and hangs up
                break
        if not asterisk.hung_up_by_bot:
            await asterisk.hang_up()
        await asyncio.wait_for(tasks[1], 10)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        writer.close()

    with sqlite3.connect(stack.booking_db) as db:
        row = db.execute("SELECT procedure, people, name, phone, channel, status, start_at, application_ids "
                         "FROM appointments WHERE channel = 'voice' AND rowid > ? ORDER BY rowid DESC LIMIT 1",
                         (mark,)).fetchone()
    heard = [e.get("text") for e in stack.tracker(sender).get("events", []) if e.get("event") == "user"]
    assert row is not None, f"nothing booked; questions: {asked}; heard: {heard}\n{log.read_text()[-3000:]}"
    procedure, people, name, phone, channel, status, start, ids = row
    assert asked[-1] == "booking_confirmed", asked  # the call went to its end, by the dialogue's own steps
    assert (procedure, people, channel, status) == ("passport", 1, "voice", "booked"), asked
    assert name.lower() == NAME.lower() and phone == "+33" + PHONE[1:], (name, phone)
    assert ids.split() == [CODE], ids
    assert datetime.fromtimestamp(start, PARIS).weekday() == 3, start  # a Thursday, as said
    # the code was read back before booking, and asked again only when it had been misheard
    assert readbacks and readbacks[-1] == "1", (asked, readbacks)
    assert asked.count("predemande_ids") == readbacks.count("2"), (asked, readbacks)

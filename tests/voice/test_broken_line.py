"""A broken audio stream ends the call cleanly (the session hangs up, frees its recognition streams, never raises),
and a call running next to it on the same synthesizer and bot is not affected."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.voice.test_session import GREETING, LONG_REPLY, MemoryCallIO, TrackedTranscriber, now_ms, speech, until
from voice.audio import SLIN8K
from voice.bot_client import BotTurn, FakeBotClient
from voice.call import BotReply, CallEvent
from voice.metrics import VoiceMetrics
from voice.session import CallSession
from voice.settings import VoiceSettings
from voice.tts import EspeakSynthesizer

SETTINGS = VoiceSettings(silence_timeout_s=5.0, vad_hangover_ms=400)


class BrokenLine(MemoryCallIO):
    """A line that breaks the way ``how`` says one second after the caller started speaking over the bot."""

    def __init__(self, how: str, speech: bytes) -> None:
        super().__init__(SLIN8K, call_id=f"broken-{how}")
        self.how, self.speech = how, speech
        self.break_at: int | None = None

    async def events(self) -> AsyncIterator[CallEvent]:
        n = 0
        async for event in super().events():
            if self.break_at is None and len(self.played) > 10:  # the bot speaks: the caller talks over it
                self.say(self.speech)
                self.break_at = n + 50
            if self.break_at is not None and n >= self.break_at:
                if self.how == "reset":
                    raise ConnectionResetError("connection reset by peer")
                return  # "dropped": the iterator just stops, no Hangup event
            n += 1
            yield event


@pytest.fixture(scope="module")
def synthesizer() -> EspeakSynthesizer:
    return EspeakSynthesizer()


@pytest.fixture(scope="module")
def rdv(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return speech(tmp_path_factory.mktemp("speech"), "Je voudrais un rendez-vous.", SLIN8K)[0]


@pytest.mark.parametrize(("how", "ended_by", "hangups"), [("reset", "error", 1), ("dropped", "caller", 0)])
async def test_a_broken_stream_ends_only_its_call(synthesizer: EspeakSynthesizer, rdv: bytes, how: str,
                                                  ended_by: str, hangups: int) -> None:
    metrics = VoiceMetrics()
    healthy_io = MemoryCallIO(SLIN8K, call_id="healthy")
    healthy_bot = FakeBotClient([GREETING, ["Pour combien de personnes ?"]])
    healthy = CallSession(healthy_io, transcriber=TrackedTranscriber(["un rendez-vous"]), synthesizer=synthesizer,
                          bot=healthy_bot, settings=SETTINGS, now_ms=now_ms)
    broken_io = BrokenLine(how, rdv)
    stt = TrackedTranscriber(["allô"])
    broken = CallSession(broken_io, transcriber=stt, synthesizer=synthesizer,
                         bot=FakeBotClient([BotTurn([BotReply(LONG_REPLY)])]), settings=SETTINGS, now_ms=now_ms,
                         observer=metrics)
    healthy_task = asyncio.create_task(healthy.run())
    await asyncio.wait_for(broken.run(), 10)  # returns, does not raise
    broke_at = now_ms()
    assert broken.ended_by == ended_by and len(broken_io.hangups) == hangups
    assert broken_io.break_at is not None
    assert len(stt.streams) == 1 and stt.streams[0].closed  # the utterance cut short: its stream was closed
    assert max(t for t, _ in broken_io.played) < broke_at + 100  # nothing played after the break

    await until(lambda: bool(healthy_io.played) and healthy_io.quiet_for(300), what="the healthy greeting")
    healthy_io.say(rdv)
    await until(lambda: len(healthy_bot.sent) == 2, what="the healthy call's turn")
    await until(lambda: any(t > healthy_io.said_at[0] for t, _ in healthy_io.played), what="its answer")
    assert not healthy_task.done()
    healthy_io.hang_up()
    await asyncio.wait_for(healthy_task, 5)
    assert healthy.ended_by == "caller"

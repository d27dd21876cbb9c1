"""CallSession over an in-memory phone line: real VAD, real espeak-ng speech and TTS, scripted recognition, fake bot.

The line sends 20 ms frames in real time (silence, or the speech a test puts on it), like a gateway does; the
scripted transcriber decides the words, the espeak-ng audio makes the VAD fire.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

import pytest

from voice.audio import SLIN8K, ULAW8K, AudioFormat, convert, dbfs, read_wav, rms
from voice.bot_client import BotTurn, BotUnavailable, FakeBotClient
from voice.call import AudioIn, BotReply, CallEvent, Dtmf, Hangup
from voice.cues import thinking_cue
from voice.hints import hints_for_slot
from voice.scripted import ScriptedTranscriber
from voice.session import (
    CALL_AGAIN,
    CALLED_BACK,
    SAY_AGAIN,
    SILENCE_GOODBYE,
    SILENT_CALLBACK_OFFER,
    STILL_THERE,
    TECHNICAL,
    UNAVAILABLE,
    CallSession,
)
from voice.settings import VoiceSettings
from voice.stt import TranscriberStream, Transcript
from voice.tts import EspeakSynthesizer, Synthesizer
from voice.turns import extension_for, hangover_for, is_backchannel

CALLER = "+33612345678"
LONG_REPLY = ("Voici les pièces à apporter pour une carte d'identité : le formulaire de pré-demande, une photo "
              "d'identité récente, un justificatif de domicile de moins d'un an, et votre ancienne carte si vous en "
              "avez une. Le rendez-vous dure environ quinze minutes.")


def now_ms() -> float:
    return time.monotonic() * 1000


class MemoryCallIO:
    """A phone line in memory: real-time caller frames out of :meth:`events`, everything the bot does recorded."""

    def __init__(self, fmt: AudioFormat = SLIN8K, *, call_id: str = "call-test", caller: str | None = CALLER,
                 transfer_ok: bool = True, sends_silence: bool = True) -> None:
        self.format, self.call_id, self.caller = fmt, call_id, caller
        self.sends_silence = sends_silence  # False: like gateways that send nothing while the caller is silent
        self.transfer_ok = transfer_ok
        self.played: list[tuple[float, bytes]] = []  # (monotonic ms, chunk)
        self.cleared: list[float] = []
        self.hangups: list[float] = []
        self.transfers: list[str] = []
        self.said_at: list[float] = []  # when each clip put on the line started
        self._clips: list[bytes] = []
        self._control: asyncio.Queue[CallEvent] = asyncio.Queue()
        self._closed = False

    # --- the test's side ---
    def say(self, pcm: bytes) -> None:
        """Put speech (in `format`) on the line, after what is already queued."""
        self._clips.append(pcm)

    def press(self, digits: str) -> None:
        for digit in digits:
            self._control.put_nowait(Dtmf(digit))

    def hang_up(self) -> None:
        self._control.put_nowait(Hangup())

    def bot_audio(self, since: float = 0.0, until: float = float("inf")) -> bytes:
        return b"".join(chunk for t, chunk in self.played if since <= t <= until)

    def quiet_for(self, ms: float) -> bool:
        return bool(self.played) and now_ms() - self.played[-1][0] > ms and not self._clips

    # --- CallIO ---
    async def events(self) -> AsyncIterator[CallEvent]:
        frame_bytes = self.format.bytes_per_frame(20)
        current = b""
        deadline = time.monotonic()
        while not self._closed:
            while not self._control.empty():
                event = self._control.get_nowait()
                yield event
                if isinstance(event, Hangup):
                    return
            if not current and self._clips:
                current = self._clips.pop(0)
                self.said_at.append(now_ms())
            frame, current = current[:frame_bytes], current[frame_bytes:]
            if frame or self.sends_silence:
                yield AudioIn(frame + self.format.silence(20)[len(frame):])
            deadline += 0.02
            await asyncio.sleep(max(0.0, deadline - time.monotonic()))

    async def play(self, pcm: bytes) -> None:
        assert not self._closed, "audio played after the hang-up"
        self.played.append((now_ms(), pcm))

    async def clear(self) -> None:
        self.cleared.append(now_ms())

    async def hangup(self) -> None:
        self.hangups.append(now_ms())
        self._closed = True

    async def transfer(self, target: str) -> bool:
        self.transfers.append(target)
        if self.transfer_ok:
            self._closed = True
        return self.transfer_ok


class TrackedTranscriber:
    """The scripted transcriber, remembering its streams and whether each was closed with aclose()."""

    def __init__(self, script: Sequence[str]) -> None:
        self.inner = ScriptedTranscriber(script)
        self.streams: list[TrackedStream] = []

    def open(self, fmt: AudioFormat, *, hints: Sequence[str] = ()) -> TranscriberStream:
        stream = TrackedStream(self.inner.open(fmt, hints=hints))
        self.streams.append(stream)
        return stream


class TrackedStream:
    def __init__(self, inner: TranscriberStream) -> None:
        self.inner, self.closed, self.pushed = inner, False, 0

    def push(self, pcm: bytes) -> None:
        self.pushed += len(pcm)
        self.inner.push(pcm)

    def end(self) -> None:
        self.inner.end()

    def __aiter__(self) -> TrackedStream:
        return self

    async def __anext__(self) -> Transcript:
        return await self.inner.__anext__()

    async def aclose(self) -> None:
        self.closed = True
        await self.inner.aclose()


# --- fixtures -------------------------------------------------------------------------------------------------------


def speech(tmp: Path, text: str, fmt: AudioFormat) -> tuple[bytes, float]:
    """espeak-ng saying ``text``, in ``fmt``, and where its voice starts (ms)."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        pytest.fail("espeak-ng is missing: `apt-get install espeak-ng` (`make test` installs it)", pytrace=False)
    wav = tmp / f"{abs(hash((text, str(fmt))))}.wav"
    subprocess.run([espeak, "-v", "fr", "-w", str(wav), text], check=True, capture_output=True, timeout=30)
    data, src = read_wav(wav)
    pcm = convert(data, src, fmt)
    frame = fmt.bytes_per_frame(20)
    onset = next(i for i in range(0, len(pcm), frame) if dbfs(pcm[i:i + frame], fmt) > -40)
    return pcm, fmt.duration_ms(onset)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[bytes, float]]:
    tmp = tmp_path_factory.mktemp("speech")
    return {"rdv": speech(tmp, "Je voudrais un rendez-vous.", SLIN8K),
            "non": speech(tmp, "Non merci, ça ira.", SLIN8K),
            "rdv_ulaw": speech(tmp, "Je voudrais un rendez-vous.", ULAW8K)}


@pytest.fixture(scope="module")
def synthesizer() -> EspeakSynthesizer:
    return EspeakSynthesizer()


SETTINGS = VoiceSettings(silence_timeout_s=1.0, vad_hangover_ms=400, dtmf_timeout_s=0.5)


async def until(condition: Callable[[], bool], limit_s: float = 15.0, what: str = "") -> None:
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await asyncio.sleep(0.01)


class RecordingCallbacks:
    """Stands in for the desk: records each callback request (``ok`` says whether it was stored)."""

    def __init__(self, ok: bool = True) -> None:
        self.ok = ok
        self.requests: list[tuple[str, str, list[tuple[str, str]], str]] = []

    async def request(self, call_id: str, caller: str, transcript: list[tuple[str, str]], reason: str) -> bool:
        self.requests.append((call_id, caller, list(transcript), reason))
        return self.ok


class Call:
    """One session running on a MemoryCallIO."""

    def __init__(self, synthesizer: Synthesizer, bot: FakeBotClient, script: Sequence[str] = (), *,
                 settings: VoiceSettings = SETTINGS, io: MemoryCallIO | None = None,
                 callbacks: RecordingCallbacks | None = None) -> None:
        self.io = io or MemoryCallIO()
        self.bot = bot
        self.stt = TrackedTranscriber(script)
        self.session = CallSession(self.io, transcriber=self.stt, synthesizer=synthesizer, bot=bot,
                                   settings=settings, now_ms=now_ms, callbacks=callbacks)
        self.task = asyncio.create_task(self.session.run())
        self.last_action = 0.0

    def press(self, digits: str) -> None:
        self.last_action = now_ms()
        self.io.press(digits)

    async def idle(self, ms: float = 300) -> None:
        """Wait until the bot has answered the last thing the caller did, and has finished speaking."""
        after = max([*self.io.said_at, self.last_action])
        await until(lambda: (self.io.quiet_for(ms) and self.io.played[-1][0] > after) or self.task.done(),
                    what="the bot to finish speaking")

    async def sent(self, n: int) -> None:
        await until(lambda: len(self.bot.sent) >= n, what=f"{n} messages to the bot")

    async def finished(self, limit_s: float = 15.0) -> None:
        await asyncio.wait_for(asyncio.shield(self.task), limit_s)
        assert self.task.result() is None


GREETING = BotTurn([BotReply("Bonjour, je suis l'assistant automatique.")])


# --- scenarios ------------------------------------------------------------------------------------------------------


async def test_the_greeting_is_spoken_before_the_caller_says_anything(synthesizer: EspeakSynthesizer) -> None:
    call = Call(synthesizer, FakeBotClient([GREETING]))
    await call.idle()
    assert call.bot.sent[0].text == "/greet"
    assert call.bot.sent[0].metadata == {"caller": CALLER, "call_id": "call-test"}
    assert call.io.said_at == []
    assert rms(call.io.bot_audio(), SLIN8K) > 500  # real speech, not silence
    assert 1000 < SLIN8K.duration_ms(len(call.io.bot_audio())) < 5000
    call.io.hang_up()
    await call.finished()
    assert call.session.ended_by == "caller" and call.io.hangups == []


@pytest.mark.parametrize("fmt", [SLIN8K, ULAW8K])
async def test_one_turn_speech_to_the_bot_and_its_reply_back(
        synthesizer: EspeakSynthesizer, clips: dict[str, tuple[bytes, float]], fmt: AudioFormat) -> None:
    people = BotTurn([BotReply("Pour combien de personnes ?")], requested_slot="people")
    call = Call(synthesizer, FakeBotClient([GREETING, people]), ["je voudrais un rendez-vous", "une personne"],
                io=MemoryCallIO(fmt))
    await call.idle()
    call.io.say(clips["rdv" if fmt == SLIN8K else "rdv_ulaw"][0])
    await call.sent(2)
    assert call.bot.sent[1].text == "je voudrais un rendez-vous"
    assert call.bot.sent[1].metadata == {"caller": CALLER, "call_id": "call-test"}
    await call.idle()
    reply = call.io.bot_audio(since=call.io.said_at[0])
    assert rms(reply, fmt) > 500 and fmt.duration_ms(len(reply)) > 800
    assert len(call.session.turn_latencies_ms) == 1 and 0 < call.session.turn_latencies_ms[0] < 1500
    (timing,) = call.session.turn_timings  # TTFA from the caller's last word, and where the time went
    assert 350 <= timing.endpoint_ms <= 500 and timing.recognition_ms >= 0 and timing.synthesis_ms > 0
    assert abs(timing.ttfa_ms - timing.endpoint_ms - call.session.turn_latencies_ms[0]) < 50
    # the next utterance is recognized with the hints of the question just asked
    call.io.say(clips["rdv" if fmt == SLIN8K else "rdv_ulaw"][0])
    await call.sent(3)
    assert call.bot.sent[2].text == "une personne"
    assert call.stt.inner.opened[0][1] == () and call.stt.inner.opened[1][1] == hints_for_slot("people") != ()
    assert call.stt.streams[0].pushed > 16000 * 2 * 0.8  # ~1 s of 16 kHz audio reached the recognizer
    call.io.hang_up()
    await call.finished()


class LeadingSilence:
    """espeak-ng's speech after ``ms`` of silence, as a synthesizer that starts with a pause would give it."""

    def __init__(self, inner: EspeakSynthesizer, ms: float) -> None:
        self.inner, self.ms = inner, ms
        self.sample_rate = inner.sample_rate

    async def synthesize(self, text: str) -> AsyncIterator[bytes]:
        yield b"\0\0" * int(self.sample_rate * self.ms / 1000)
        async for chunk in self.inner.synthesize(text):
            yield chunk


async def test_the_answer_counts_from_its_first_audible_sample_not_from_leading_silence(
        synthesizer: EspeakSynthesizer, clips: dict[str, tuple[bytes, float]]) -> None:
    people = BotTurn([BotReply("Pour combien de personnes ?")], requested_slot="people")
    quick = Call(synthesizer, FakeBotClient([GREETING, people]), ["je voudrais un rendez-vous"])
    slow = Call(LeadingSilence(synthesizer, 500), FakeBotClient([GREETING, people]),
                ["je voudrais un rendez-vous"])
    for call in (quick, slow):
        await call.idle()
        call.io.say(clips["rdv"][0])
        await call.sent(2)
        await call.idle()
        call.io.hang_up()
        await call.finished()
    (heard_at_once,), (after_silence,) = quick.session.turn_timings, slow.session.turn_timings
    # the 500 ms of silence is waiting time for the caller: it is in the synthesis part of the TTFA
    assert after_silence.synthesis_ms >= heard_at_once.synthesis_ms + 400
    assert slow.session.turn_latencies_ms[0] >= quick.session.turn_latencies_ms[0] + 400


async def test_barge_in_stops_the_reply_and_keeps_the_callers_words(
        synthesizer: EspeakSynthesizer, clips: dict[str, tuple[bytes, float]]) -> None:
    call = Call(synthesizer, FakeBotClient([GREETING, [LONG_REPLY], ["Très bien."]]),
                ["je voudrais un rendez-vous", "non merci"])
    await call.idle()
    call.io.say(clips["rdv"][0])
    await call.sent(2)
    await until(lambda: len(call.io.played) > 0 and call.io.played[-1][0] > call.io.said_at[0] + 1500,
                what="the long reply to play")
    reply_start = next(t for t, _ in call.io.played if t > call.io.said_at[0])
    await asyncio.sleep(0.5)
    pcm, onset = clips["non"]
    call.io.say(pcm)
    await call.sent(3)
    voice_at = call.io.said_at[1] + onset
    assert call.bot.sent[2].text == "non merci"  # the interrupting words were the next utterance
    assert len(call.io.cleared) == 1 and call.io.cleared[0] >= voice_at
    long_reply_plays = [t for t, _ in call.io.played if reply_start <= t <= voice_at + 1000]
    print(f"\nbarge-in: last bot audio {max(long_reply_plays) - voice_at:.0f} ms after the caller's voice started")
    late = max(long_reply_plays) - voice_at  # the voice must first last barge_in_min_ms (not a « hm »)
    assert late <= SETTINGS.barge_in_min_ms + 200, f"played {late:.0f} ms after speech"
    assert max(long_reply_plays) - reply_start < 8000  # it was stopped well before its end
    await call.idle()
    call.io.hang_up()
    await call.finished()


async def test_a_short_hm_over_the_bot_neither_stops_it_nor_becomes_a_turn(
        synthesizer: EspeakSynthesizer, clips: dict[str, tuple[bytes, float]]) -> None:
    call = Call(synthesizer, FakeBotClient([GREETING, [LONG_REPLY], ["Très bien."]]),
                ["je voudrais un rendez-vous", "hm", "non merci"])
    await call.idle()
    call.io.say(clips["rdv"][0])
    await call.sent(2)
    await until(lambda: len(call.io.played) > 0 and call.io.played[-1][0] > call.io.said_at[0] + 1500,
                what="the long reply to play")
    pcm, onset = clips["non"]
    cut = int((onset + 180) * SLIN8K.bytes_per_second / 1000) // 2 * 2
    short = pcm[:cut] + SLIN8K.silence(600)  # 180 ms of voice: a « hm »
    call.io.say(short)
    await call.idle(ms=600)  # the long reply played to its end
    assert call.io.cleared == [] and len(call.bot.sent) == 2, call.bot.sent  # not stopped, nothing sent
    reply = call.io.bot_audio(since=call.io.said_at[0])
    assert SLIN8K.duration_ms(len(reply)) > 8000  # the whole explanation was heard
    call.io.say(pcm)  # a real answer afterwards is a turn as usual
    await call.sent(3)
    assert call.bot.sent[2].text == "non merci"
    call.io.hang_up()
    await call.finished()


@pytest.mark.parametrize(("text", "slot", "dropped"), [
    ("Hmm.", None, True), ("euh", "when", True), ("", "when", True), ("oui", None, True),
    ("d'accord", "when", True), ("oui", "booking_confirmed", False), ("non", None, False),
    ("jeudi", "when", False), ("hm jeudi", "when", False),
])
def test_what_counts_as_a_backchannel(text: str, slot: str | None, dropped: bool) -> None:
    assert is_backchannel(text, slot) is dropped


async def test_keypad_entries_are_sent_as_text(synthesizer: EspeakSynthesizer) -> None:
    call = Call(synthesizer, FakeBotClient([GREETING, ["Noté."], ["Noté."]]))
    await call.idle()
    call.press("06#")
    await call.sent(2)
    assert call.bot.sent[1].text == "06"
    assert call.bot.sent[1].metadata == {"caller": CALLER, "call_id": "call-test", "dtmf": True}
    await call.idle()
    call.press("1")  # no "#": the entry ends after dtmf_timeout_s without a key
    await call.sent(3)
    assert call.bot.sent[2].text == "1"
    call.io.hang_up()
    await call.finished()


async def test_after_the_greeting_key_1_books_and_a_choice_key_is_read_as_the_choice(
        synthesizer: EspeakSynthesizer) -> None:
    procedure = BotTurn([BotReply("C'est pour un passeport ?")], requested_slot="procedure")
    call = Call(synthesizer, FakeBotClient([GREETING, procedure, ["Noté."]]))
    await call.idle()
    call.press("1#")
    await call.sent(2)
    await call.idle()
    call.press("3#")
    await call.sent(3)
    assert [m.text for m in call.bot.sent[1:]] == ["je voudrais prendre rendez-vous", "passeport et carte d'identité"]
    assert call.session.transcript[1] == ("caller", "[clavier] 1")
    call.io.hang_up()
    await call.finished()


async def test_a_slow_answer_is_announced_by_a_short_cue_and_a_quick_one_is_not(
        synthesizer: EspeakSynthesizer) -> None:
    bot = FakeBotClient([GREETING, ["Noté."], ["Très bien."]])
    call = Call(synthesizer, bot)
    await call.idle()
    call.press("5#")
    await call.sent(2)
    await call.idle()
    assert call.session.cues_played == 0
    bot.delay_s = 1.6
    call.press("6#")
    await call.sent(3)
    pressed = now_ms()
    await until(lambda: len(call.session.turn_latencies_ms) == 2, what="the slow answer")
    await call.idle()
    assert call.session.cues_played == 1
    cue = thinking_cue(call.io.format)
    first = call.io.bot_audio(since=pressed)
    assert first[:len(cue)] == cue  # the cue came first, then the answer
    assert call.session.turn_latencies_ms[-1] >= 1500  # the turn's latency is the answer's, not the cue's
    call.io.hang_up()
    await call.finished()


def test_the_end_of_turn_waits_through_a_dictated_number_and_is_quick_after_yes_no() -> None:
    assert hangover_for("phone", 600) == 1200 and hangover_for("predemande_ids", 600) == 1200
    assert hangover_for("booking_confirmed", 600) == 350 and hangover_for("when", 600) == 600
    assert hangover_for("phone", 1500) == 1500  # a longer configured wait is kept
    # more than a yes after a yes/no question: the usual wait, or the dictation one where a code is likely
    assert extension_for("booking_confirmed", 600) == (900, 600) and extension_for("when", 600) is None
    assert extension_for("has_predemande", 600) == (900, 1200)


async def test_a_key_pressed_during_playback_stops_it(synthesizer: EspeakSynthesizer) -> None:
    call = Call(synthesizer, FakeBotClient([BotTurn([BotReply(LONG_REPLY)])]))
    await until(lambda: len(call.io.played) > 25, what="the greeting to play")
    call.press("2")
    pressed = now_ms()
    await call.sent(2)
    assert call.bot.sent[1].text == "2" and call.io.cleared
    # before the digit's answer (the entry ends dtmf_timeout_s = 500 ms after the key), nothing more was played
    assert max(t for t, _ in call.io.played if t < pressed + 400) - pressed < 150
    call.io.hang_up()
    await call.finished()


async def test_a_silent_caller_gets_two_gentle_reprompts_then_a_polite_goodbye(synthesizer: EspeakSynthesizer) -> None:
    call = Call(synthesizer, FakeBotClient([GREETING]), io=MemoryCallIO(caller=None))  # no number: no callback offer
    await call.finished(limit_s=30)
    said = [text for who, text in call.session.transcript if who == "bot"]
    assert said == [GREETING.replies[0].text, STILL_THERE, STILL_THERE, SILENCE_GOODBYE]
    assert len(call.io.hangups) == 1 and call.io.hangups[0] >= call.io.played[-1][0]
    assert call.session.ended_by == "silence" and len(call.bot.sent) == 1


async def test_after_the_reprompts_a_silent_caller_is_offered_a_callback_by_key(
        synthesizer: EspeakSynthesizer) -> None:
    callbacks = RecordingCallbacks()
    call = Call(synthesizer, FakeBotClient([GREETING]), callbacks=callbacks)
    await until(lambda: SILENT_CALLBACK_OFFER in [t for who, t in call.session.transcript if who == "bot"], 30,
                "the callback offer")
    await call.idle()
    call.press("1")
    await call.finished(limit_s=30)
    said = [text for who, text in call.session.transcript if who == "bot"]
    assert said == [GREETING.replies[0].text, STILL_THERE, STILL_THERE, SILENT_CALLBACK_OFFER, CALLED_BACK]
    assert [(r[1], r[3]) for r in callbacks.requests] == [(CALLER, "silence")]
    assert call.session.ended_by == "silence" and len(call.bot.sent) == 1  # the key went to no one else


async def test_without_a_key_after_the_offer_the_call_ends_politely(synthesizer: EspeakSynthesizer) -> None:
    callbacks = RecordingCallbacks()
    call = Call(synthesizer, FakeBotClient([GREETING]), callbacks=callbacks)
    await call.finished(limit_s=40)
    said = [text for who, text in call.session.transcript if who == "bot"]
    assert said[-2:] == [SILENT_CALLBACK_OFFER, SILENCE_GOODBYE] and callbacks.requests == []


async def test_a_line_silent_until_the_caller_speaks_gets_the_full_silence_delay(
        synthesizer: EspeakSynthesizer) -> None:
    """Some gateways send no audio while the caller is silent: « Êtes-vous toujours là ? » still waits its delay."""
    call = Call(synthesizer, FakeBotClient([GREETING]), io=MemoryCallIO(sends_silence=False))
    await until(lambda: len([t for who, t in call.session.transcript if who == "bot"]) >= 2, 20, "the re-prompt")
    await asyncio.sleep(0.5)  # the re-prompt's first audio is out
    said = [text for who, text in call.session.transcript if who == "bot"]
    times = [t for t, _ in call.io.played]
    pause = max(b - a for a, b in itertools.pairwise(times))  # between the greeting's end and the re-prompt
    assert said[:2] == [GREETING.replies[0].text, STILL_THERE]
    assert pause >= SETTINGS.silence_timeout_s * 1000 - 50, pause
    call.io.hang_up()
    await call.finished()


async def test_an_unheard_utterance_is_asked_again(
        synthesizer: EspeakSynthesizer, clips: dict[str, tuple[bytes, float]]) -> None:
    call = Call(synthesizer, FakeBotClient([GREETING, ["Noté."]]), ["", "je voudrais un rendez-vous"])
    await call.idle()
    call.io.say(clips["rdv"][0])
    await until(lambda: ("bot", SAY_AGAIN) in call.session.transcript, what="a request to repeat")
    await call.idle()
    assert len(call.bot.sent) == 1
    call.io.say(clips["rdv"][0])
    await call.sent(2)
    assert call.bot.sent[1].text == "je voudrais un rendez-vous"
    call.io.hang_up()
    await call.finished()


async def test_goodbye_hangs_up_after_the_reply_is_played(
        synthesizer: EspeakSynthesizer, clips: dict[str, tuple[bytes, float]]) -> None:
    bye = BotTurn([BotReply("Au revoir et bonne journée.")], ended="goodbye")
    call = Call(synthesizer, FakeBotClient([GREETING, bye]), ["merci au revoir"])
    await call.idle()
    call.io.say(clips["rdv"][0])
    await call.finished()
    reply = [t for t, _ in call.io.played if t > call.io.said_at[0]]
    assert len(reply) * 20 > 1000  # the whole goodbye was played...
    assert call.io.hangups[0] >= reply[-1]  # ...before the hang-up
    assert call.io.hangups[0] - reply[0] >= len(reply) * 20 - 100  # in real time
    assert call.session.ended_by == "bot" and call.io.transfers == []


@pytest.mark.parametrize("transfer_ok", [True, False])
async def test_handoff_transfers_to_the_operator(
        synthesizer: EspeakSynthesizer, clips: dict[str, tuple[bytes, float]], transfer_ok: bool) -> None:
    handoff = BotTurn([BotReply("Je vous passe un conseiller.")], ended="handoff")
    settings = VoiceSettings(silence_timeout_s=1.0, vad_hangover_ms=400, operator_number="+33130000000")
    call = Call(synthesizer, FakeBotClient([GREETING, handoff]), ["un conseiller"], settings=settings,
                io=MemoryCallIO(transfer_ok=transfer_ok))
    await call.idle()
    call.io.say(clips["rdv"][0])
    await call.finished()
    assert call.io.transfers == ["+33130000000"]
    assert len(call.io.hangups) == (0 if transfer_ok else 1)
    assert call.session.ended_by == ("transfer" if transfer_ok else "bot")


async def test_handoff_without_an_operator_number_hangs_up_after_the_message(
        synthesizer: EspeakSynthesizer, clips: dict[str, tuple[bytes, float]]) -> None:
    handoff = BotTurn([BotReply("Un conseiller vous rappellera.")], ended="handoff")
    call = Call(synthesizer, FakeBotClient([GREETING, handoff]), ["un conseiller"])
    await call.idle()
    call.io.say(clips["rdv"][0])
    await call.finished()
    assert call.io.transfers == [] and len(call.io.hangups) == 1
    assert rms(call.io.bot_audio(since=call.io.said_at[0]), SLIN8K) > 500


async def test_an_unavailable_bot_gets_an_apology_and_a_hang_up(synthesizer: EspeakSynthesizer) -> None:
    call = Call(synthesizer, FakeBotClient([BotUnavailable("down")]))
    await call.finished()
    assert [text for who, text in call.session.transcript if who == "bot"] == [UNAVAILABLE]
    assert rms(call.io.bot_audio(), SLIN8K) > 500 and SLIN8K.duration_ms(len(call.io.bot_audio())) > 2000
    assert len(call.io.hangups) == 1 and call.session.ended_by == "unavailable"


async def test_when_the_bot_cannot_go_on_the_caller_is_promised_a_callback_that_is_filed(
        synthesizer: EspeakSynthesizer) -> None:
    callbacks = RecordingCallbacks()
    call = Call(synthesizer, FakeBotClient([GREETING, BotTurn([BotReply(TECHNICAL)], ended="unavailable")]),
                callbacks=callbacks)
    await call.idle()
    call.press("1#")
    await call.finished()
    assert [text for who, text in call.session.transcript if who == "bot"][-2:] == [TECHNICAL, CALLED_BACK]
    assert callbacks.requests == [("call-test", CALLER, call.session.transcript[:-1], "technical")]
    assert ("caller", "[clavier] 1") in callbacks.requests[0][2], "the callback carries what the caller said"
    assert len(call.io.hangups) == 1 and call.session.ended_by == "unavailable"


async def test_an_unreachable_dialogue_server_also_files_a_callback(synthesizer: EspeakSynthesizer) -> None:
    callbacks = RecordingCallbacks()
    call = Call(synthesizer, FakeBotClient([BotUnavailable("down")]), callbacks=callbacks)
    await call.finished()
    assert [text for who, text in call.session.transcript if who == "bot"] == [f"{TECHNICAL} {CALLED_BACK}"]
    assert len(callbacks.requests) == 1 and call.session.ended_by == "unavailable"


async def test_without_a_stored_callback_the_caller_is_asked_to_call_again(synthesizer: EspeakSynthesizer) -> None:
    call = Call(synthesizer, FakeBotClient([GREETING, BotTurn([BotReply(TECHNICAL)], ended="unavailable")]),
                callbacks=RecordingCallbacks(ok=False))
    await call.idle()
    call.press("1#")
    await call.finished()
    assert [text for who, text in call.session.transcript if who == "bot"][-2:] == [TECHNICAL, CALL_AGAIN]


async def test_the_caller_hangs_up_mid_reply(
        synthesizer: EspeakSynthesizer, clips: dict[str, tuple[bytes, float]]) -> None:
    call = Call(synthesizer, FakeBotClient([BotTurn([BotReply(LONG_REPLY)])]), ["allô"])
    await until(lambda: len(call.io.played) > 25, what="the greeting to play")
    call.io.say(clips["rdv"][0])  # the caller talks over it, then hangs up while still talking
    await until(lambda: bool(call.stt.streams), what="a recognition stream")
    call.io.hang_up()
    hung_up = now_ms()
    await call.finished(limit_s=2)
    assert call.session.ended_by == "caller" and call.io.hangups == []
    assert all(stream.closed for stream in call.stt.streams)
    assert max(t for t, _ in call.io.played) < hung_up + 100
    assert len(call.bot.sent) == 1  # the half-said words were not sent

"""One phone call: caller audio → endpointing → recognition → dialogue server → speech back, with barge-in.

Two tasks share the call. The *listener* reads the gateway's events without ever waiting on anything slow: it
converts and frames the caller's audio, runs the VAD and the :class:`~voice.vad.Endpointer`, feeds the recognition
stream of the current utterance, collects keypad digits, and stops the bot's playback the moment the caller speaks
or presses a key. The *conversation* takes what the listener hands over (an utterance, digits, a silence), asks the
dialogue server, and speaks the replies in real-time-paced 20 ms chunks. Transcripts and phone numbers are never
logged (personal data): only the call id, timings and counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from guichet.voice_channel import TECHNICAL_PROBLEM
from voice.audio import AudioFormat, Framer, StreamConverter, dbfs
from voice.bot_client import BotTurn, BotUnavailable
from voice.call import BotClient, CallIO, Dtmf, Hangup
from voice.callbacks import Callbacks
from voice.cues import THINKING_AFTER_S, thinking_cue
from voice.heard import checked
from voice.hints import hints_for_slot
from voice.keypad import GREETING, keys_as_words
from voice.settings import VoiceSettings
from voice.stt import Transcriber, TranscriberStream
from voice.tts import Synthesizer
from voice.turns import extension_for, hangover_for, is_backchannel
from voice.vad import (
    BargeIn,
    Endpointer,
    EndpointerConfig,
    NoSpeech,
    SpeechEnded,
    SpeechStarted,
    VoiceActivity,
    WebRtcVad,
)

log = logging.getLogger(__name__)

GREETING_MESSAGE = "/greet"
SAY_AGAIN = "Pardon, pouvez-vous répéter ?"
STILL_THERE = "Êtes-vous toujours là ?"
SILENT_CALLBACK_OFFER = ("Je ne vous entends pas. Pour qu'un agent de la mairie vous rappelle à ce numéro, tapez 1. "
                         "Sinon, je vais raccrocher.")
SILENCE_GOODBYE = "Je n'entends plus rien. Vous pouvez rappeler à tout moment. Au revoir."
UNAVAILABLE = "Le service est momentanément indisponible. Merci de rappeler un peu plus tard."
TECHNICAL = TECHNICAL_PROBLEM
CALLED_BACK = "Un agent de la mairie vous rappellera à ce numéro aux heures d'ouverture. Au revoir."
CALL_AGAIN = "Merci de rappeler un peu plus tard. Au revoir."
FREQUENT_PROMPTS = (SAY_AGAIN, STILL_THERE, SILENCE_GOODBYE, UNAVAILABLE)
"""Prompts worth synthesizing at start-up (``EspeakSynthesizer.warm_up``)."""

FRAME_MS = 20
_PLAY_LEAD_MS = 60  # audio sent ahead of real time, so that gateway jitter does not starve the line
AUDIBLE_DBFS = -50.0  # the first frame of an answer louder than this is when the caller hears it (TTFA)
_IDLE_TICK_S = 0.2  # how often the no-speech timer is checked when the gateway sends no audio


@dataclass(frozen=True)
class _Utterance:
    stream: TranscriberStream
    ended_ms: float  # on the session clock, when the end of speech was detected
    waited_ms: float = 0.0  # silence after the last word before the end was detected (the endpoint wait)
    over_the_bot: bool = False  # said while the bot spoke, too short to stop it: maybe only a backchannel


@dataclass(frozen=True)
class TurnTiming:
    """One answered turn: the caller's last word → the answer's first audio (TTFA), and where the time went."""

    endpoint_ms: float  # silence waited before the turn counted as ended
    recognition_ms: float  # end detected → words ready
    dialogue_ms: float  # words sent → the dialogue server's answer
    synthesis_ms: float  # answer received → its first audio on the line

    @property
    def ttfa_ms(self) -> float:
        return self.endpoint_ms + self.recognition_ms + self.dialogue_ms + self.synthesis_ms


@dataclass(frozen=True)
class _Digits:
    digits: str
    by_key: bool = False  # ended by « # » (else by the keypad timeout)


@dataclass(frozen=True)
class _Silence:
    pass


_Input = _Utterance | _Digits | _Silence


def _wall_ms() -> float:
    return time.monotonic() * 1000


class CallObserver(Protocol):
    """What a session reports as it happens (``voice.metrics.VoiceMetrics`` in the service)."""

    def turn_answered(self, latency_ms: float) -> None:
        """The first audio of an answer left, ``latency_ms`` after the end of the caller's turn was detected."""

    def barge_in(self, by: str) -> None:
        """The caller stopped the bot's playback, ``by`` "speech" or "key"."""

    def escalation(self, transferred: bool) -> None:
        """The dialogue handed the call off: transferred to the operator number, or not (callback case)."""


class _NoObserver:
    def turn_answered(self, latency_ms: float) -> None:
        pass

    def barge_in(self, by: str) -> None:
        pass

    def escalation(self, transferred: bool) -> None:
        pass


class CallSession:
    """Drives one call over a :class:`~voice.call.CallIO` until either side hangs up; :meth:`run` never raises
    (except when cancelled from outside).

    After the call: :attr:`turn_latencies_ms` (end of the caller's speech detected → first bot audio sent, one per
    answered turn), :attr:`transcript` (what was heard and said, in memory only) and :attr:`ended_by`.
    """

    def __init__(self, io: CallIO, *, transcriber: Transcriber, synthesizer: Synthesizer, bot: BotClient,
                 settings: VoiceSettings, vad: VoiceActivity | None = None,
                 now_ms: Callable[[], float] | None = None, observer: CallObserver | None = None,
                 callbacks: Callbacks | None = None) -> None:
        self.io, self.transcriber, self.synthesizer, self.bot = io, transcriber, synthesizer, bot
        self.callbacks = callbacks  # files a callback case when the bot cannot go on (None: just apologize)
        self.observer: CallObserver = observer or _NoObserver()
        self.settings = settings
        self.now_ms = now_ms or _wall_ms
        self.format = AudioFormat("slin16", settings.stt_sample_rate)  # what the VAD and the recognizer get
        self.vad = vad or WebRtcVad(self.format, settings.vad_aggressiveness)
        if self.vad.format != self.format:
            raise ValueError(f"the VAD takes {self.vad.format}, the session gives it {self.format}")
        self.endpointer = Endpointer(self.format, EndpointerConfig(
            start_ms=settings.vad_start_ms, hangover_ms=settings.vad_hangover_ms,
            silence_timeout_ms=settings.silence_timeout_s * 1000, max_speech_ms=settings.max_speech_s * 1000))
        self.turn_latencies_ms: list[float] = []
        self.cues_played = 0  # « one moment » cues: answers that took more than THINKING_AFTER_S
        self.transcript: list[tuple[Literal["caller", "bot"], str]] = []
        self.ended_by: str | None = None  # "caller", "bot", "silence", "unavailable", "transfer", "error"
        self._inputs: asyncio.Queue[_Input] = asyncio.Queue()
        self._stop_playback = asyncio.Event()
        self._stream: TranscriberStream | None = None  # the utterance being heard
        self._open_streams: set[TranscriberStream] = set()
        self._requested_slot: str | None = None
        self._caller_turns = 0  # utterances and key entries so far
        self._audio_ms = 0.0  # caller audio received so far: the endpointer's timeline
        # Wall time of the last caller audio, or of the moment listening started when later (set again by
        # run(): a gateway that sends nothing before the caller speaks must not look silent since the clock's origin).
        self._last_audio_wall = self.now_ms()
        self._digits = ""
        self._dtmf_timer: asyncio.TimerHandle | None = None
        self._turn_ended_ms: float | None = None  # waiting for the first audio of the answer to this turn
        self.turn_timings: list[TurnTiming] = []
        self._timing: dict[str, float] = {}  # the turn being answered: endpoint, recognition, asked/answered at
        self._over_the_bot = False  # the caller started speaking over the bot, not (yet) long enough to stop it

    # --- the call ---------------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Greet, then converse until the call ends."""
        log.info("call %s: session started (%s)", self.io.call_id, self.io.format)
        self._last_audio_wall = self.now_ms()
        listener = asyncio.create_task(self._listen(), name=f"listen-{self.io.call_id}")
        talker = asyncio.create_task(self._converse(), name=f"converse-{self.io.call_id}")
        try:
            done, _ = await asyncio.wait({listener, talker}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    self.ended_by = self.ended_by or "error"
                    log.error("call %s: session failed", self.io.call_id, exc_info=task.exception())
                    with contextlib.suppress(Exception):
                        await self.io.hangup()
        finally:
            for task in (listener, talker):
                task.cancel()
            await asyncio.gather(listener, talker, return_exceptions=True)
            if self._dtmf_timer is not None:
                self._dtmf_timer.cancel()
            for stream in list(self._open_streams):
                with contextlib.suppress(Exception):
                    await stream.aclose()
            self._open_streams.clear()
            latencies = ", ".join(f"{ms:.0f}" for ms in self.turn_latencies_ms)
            log.info("call %s: ended by %s; turn latencies (ms): [%s]", self.io.call_id, self.ended_by, latencies)

    async def _converse(self) -> None:
        if not await self._ask(GREETING_MESSAGE, {}):
            return
        repeats = silences = 0
        while True:
            item = await self._inputs.get()
            if isinstance(item, _Silence):
                silences += 1
                if silences <= self.settings.max_silences:  # a gentle re-prompt, at most this many
                    await self._say(STILL_THERE)
                    continue
                if silences == self.settings.max_silences + 1 and self._can_call_back():
                    await self._say(SILENT_CALLBACK_OFFER)  # key 1 files a callback (see below)
                    continue
                await self._say(SILENCE_GOODBYE)
                await self._hang_up("silence")
                return
            offered, silences = silences > self.settings.max_silences, 0
            if isinstance(item, _Digits) and offered and item.digits == "1":
                await self._call_back_after_silence()
                return
            if isinstance(item, _Digits):
                repeats = 0
                self.transcript.append(("caller", f"[clavier] {item.digits}"))
                asked = GREETING if not self._caller_turns and self._requested_slot is None else self._requested_slot
                words = keys_as_words(item.digits, asked)
                self._caller_turns += 1
                self._timing = {"endpoint": 0.0 if item.by_key else self.settings.dtmf_timeout_s * 1000,
                                "recognition": 0.0}
                if not await self._ask(words, {"dtmf": True}, turn_ended_ms=self.now_ms()):
                    return
                continue
            heard, confidence = await self._final_text(item.stream)
            if item.over_the_bot and is_backchannel(heard, self._requested_slot):
                log.info("call %s: backchannel over the bot ignored", self.io.call_id)
                if not self.endpointer.in_speech and self._inputs.empty():
                    self.endpointer.listen(self._audio_ms)  # the prompt played out: listen for the answer now
                continue
            self._timing = {"endpoint": item.waited_ms, "recognition": self.now_ms() - item.ended_ms}
            self._caller_turns += 1
            text = checked(heard, self._requested_slot)
            if text != heard:
                log.info("call %s: heard words read for %s", self.io.call_id, self._requested_slot)
            self.transcript.append(("caller", text))
            if not text or confidence < self.settings.min_confidence:
                log.info("call %s: utterance not understood (%s)", self.io.call_id, "empty" if not text else "low")
                if repeats < self.settings.max_repeats:
                    repeats += 1
                    self._turn_ended_ms = item.ended_ms
                    await self._say(SAY_AGAIN)
                    continue
                if not text:  # asked twice already: listen again without a word, rather than nag
                    repeats = 0
                    if not self.endpointer.in_speech:
                        self.endpointer.listen(self._audio_ms)
                    continue
                # a low-confidence text after two repeats goes to the bot: it may still understand it
            repeats = 0
            if not await self._ask(text, {}, turn_ended_ms=item.ended_ms):
                return

    async def _final_text(self, stream: TranscriberStream) -> tuple[str, float]:
        """The final transcripts of an ended utterance, joined, and their lowest confidence."""
        texts: list[str] = []
        confidences: list[float] = []
        try:
            async for heard in stream:
                if heard.final and heard.text.strip():
                    texts.append(heard.text.strip())
                    confidences.append(heard.confidence)
        finally:
            self._open_streams.discard(stream)
        return " ".join(texts), min(confidences, default=0.0)

    async def _ask(self, text: str, extra: dict[str, object], *, turn_ended_ms: float | None = None) -> bool:
        """Send a turn to the bot and speak its answer; False when the call is over."""
        metadata: dict[str, object] = {"caller": self.io.caller, "call_id": self.io.call_id, **extra}
        self._turn_ended_ms = turn_ended_ms
        self._timing["asked"] = self.now_ms()
        try:
            turn: BotTurn = await self._answer_of(text, metadata, cue=turn_ended_ms is not None)
            self._timing["answered"] = self.now_ms()
        except BotUnavailable as exc:
            log.error("call %s: dialogue server unavailable (%s)", self.io.call_id, exc)
            await self._technical_end(None)
            return False
        self._requested_slot = turn.requested_slot
        self.endpointer.hangover_ms = hangover_for(turn.requested_slot, self.settings.vad_hangover_ms)
        self.endpointer.extension = extension_for(turn.requested_slot, self.settings.vad_hangover_ms)
        for reply in turn.replies:
            if reply.text.strip() and not await self._say(reply.text):
                break  # barge-in: the rest of the answer is dropped, the caller's words come next
        if turn.ended == "handoff":
            number = self.settings.operator_number
            if number and await self.io.transfer(number):
                self.ended_by = "transfer"
                self.observer.escalation(True)
                log.info("call %s: transferred to an operator", self.io.call_id)
                return False
            self.observer.escalation(False)
            await self._hang_up("bot")
            return False
        if turn.ended == "goodbye":
            await self._hang_up("bot")
            return False
        if turn.ended == "unavailable":  # the bot said it cannot go on (its action server is down…)
            await self._technical_end(turn)
            return False
        return True

    async def _answer_of(self, text: str, metadata: dict[str, object], *, cue: bool) -> BotTurn:
        """The bot's answer; when it takes longer than a second, the caller hears the « one moment » cue."""
        sending = asyncio.ensure_future(self.bot.send(self.io.call_id, text, metadata=metadata))
        done, _ = await asyncio.wait({sending}, timeout=THINKING_AFTER_S if cue else None)
        if done:
            return sending.result()
        playing = asyncio.create_task(self._play_cue())
        try:
            return await sending
        finally:
            playing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await playing

    async def _play_cue(self) -> None:
        """The cue in real time, not counted as the answer (the turn's latency is the answer's first audio)."""
        audio = thinking_cue(self.io.format)
        frame = self.io.format.bytes_per_frame(FRAME_MS)
        self.cues_played += 1
        started = self.now_ms()
        for i in range(0, len(audio), frame):
            await self.io.play(audio[i:i + frame])
            ahead = (i // frame + 1) * FRAME_MS - (self.now_ms() - started) - _PLAY_LEAD_MS
            if ahead > 0:
                await asyncio.sleep(ahead / 1000)

    def _can_call_back(self) -> bool:
        return self.callbacks is not None and bool(self.io.caller)

    async def _file_callback(self, reason: str) -> bool:
        """A callback case with the call's transcript, when the caller's number is known; True if it was stored."""
        if not self._can_call_back():
            return False
        assert self.callbacks is not None and self.io.caller
        filed = await self.callbacks.request(self.io.call_id, self.io.caller, list(self.transcript), reason)
        if filed:
            self.observer.escalation(False)
        return filed

    async def _call_back_after_silence(self) -> None:
        """The silent caller pressed 1 after the offer: a callback case, the promise, a polite hang-up."""
        filed = await self._file_callback("silence")
        await self._say(CALLED_BACK if filed else CALL_AGAIN)
        await self._hang_up("silence")

    async def _technical_end(self, turn: BotTurn | None) -> None:
        """The bot cannot go on: a callback case when the caller's number is known, an apology, a polite hang-up."""
        filed = await self._file_callback("technical")
        if turn is None:  # nothing was said yet: the dialogue server did not answer at all
            await self._say(f"{TECHNICAL} {CALLED_BACK}" if filed else UNAVAILABLE)
        else:  # the bot already apologized
            await self._say(CALLED_BACK if filed else CALL_AGAIN)
        await self._hang_up("unavailable")

    async def _hang_up(self, why: str) -> None:
        self.ended_by = why
        await self.io.hangup()

    # --- speaking ---------------------------------------------------------------------------------------------

    async def _say(self, text: str) -> bool:
        """Speak ``text`` in real time; False when the caller interrupted it (speech or key)."""
        self.transcript.append(("bot", text))
        self._stop_playback.clear()
        self.endpointer.stop_listening()
        self.endpointer.bot_playing = True
        fmt = self.io.format
        converter = StreamConverter(AudioFormat("slin16", self.synthesizer.sample_rate), fmt)
        framer = Framer(fmt, FRAME_MS)
        started: float | None = None
        sent_ms = 0.0
        interrupted = False
        audio = self.synthesizer.synthesize(text)
        try:
            async for chunk in audio:
                for frame in framer.push(converter.convert(chunk)):
                    if self._stop_playback.is_set():
                        interrupted = True
                        break
                    started = started if started is not None else self.now_ms()
                    await self._play(frame)
                    sent_ms += FRAME_MS
                    ahead = sent_ms - (self.now_ms() - started) - _PLAY_LEAD_MS
                    if ahead > 0:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._stop_playback.wait(), ahead / 1000)
                if interrupted or self._stop_playback.is_set():
                    interrupted = True
                    break
            if not interrupted:
                for frame in framer.push(converter.flush()) + framer.flush():
                    await self._play(frame)
                    sent_ms += FRAME_MS
                if started is not None:  # let the last chunks play out before listening again
                    rest = sent_ms - (self.now_ms() - started)
                    if rest > 0:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._stop_playback.wait(), rest / 1000)
                interrupted = self._stop_playback.is_set()
        finally:
            close = getattr(audio, "aclose", None)  # stop the synthesis generator now, not when it is collected
            if close is not None:
                await close()
            self.endpointer.bot_playing = False
            if not self.endpointer.in_speech and self._inputs.empty():
                self.endpointer.listen(self._audio_ms)
                # on a line that sends nothing in silence, the silence counts from now, not from the last audio
                self._last_audio_wall = max(self._last_audio_wall, self.now_ms())
        return not interrupted

    async def _play(self, frame: bytes) -> None:
        # the turn is answered at the first *audible* frame: leading silence of the synthesis counts as waiting
        if self._turn_ended_ms is not None and dbfs(frame, self.io.format) > AUDIBLE_DBFS:
            latency = self.now_ms() - self._turn_ended_ms
            self._turn_ended_ms = None
            self.turn_latencies_ms.append(latency)
            self.observer.turn_answered(latency)
            log.info("call %s: turn latency %.0f ms", self.io.call_id, latency)
            timing, self._timing = self._timing, {}
            if {"endpoint", "recognition", "asked", "answered"} <= timing.keys():
                turn = TurnTiming(timing["endpoint"], timing["recognition"], timing["answered"] - timing["asked"],
                                  self.now_ms() - timing["answered"])
                self.turn_timings.append(turn)
                log.info("call %s: TTFA %.0f ms (endpoint %.0f, recognition %.0f, dialogue %.0f, synthesis %.0f)",
                         self.io.call_id, turn.ttfa_ms, turn.endpoint_ms, turn.recognition_ms, turn.dialogue_ms,
                         turn.synthesis_ms)
        await self.io.play(frame)

    async def _interrupt(self, why: str) -> None:
        if self.endpointer.bot_playing and not self._stop_playback.is_set():
            self._stop_playback.set()
            self.observer.barge_in("key" if why == "key pressed" else "speech")
            log.info("call %s: playback stopped (%s)", self.io.call_id, why)
            await self.io.clear()

    # --- listening --------------------------------------------------------------------------------------------

    async def _listen(self) -> None:
        converter = None if self.io.format == self.format else StreamConverter(self.io.format, self.format)
        framer = Framer(self.format, FRAME_MS)
        ticker = asyncio.create_task(self._tick())
        try:
            async for event in self.io.events():
                if isinstance(event, Hangup):
                    break
                if isinstance(event, Dtmf):
                    await self._on_digit(event.digit)
                    continue
                self._last_audio_wall = self.now_ms()
                pcm = converter.convert(event.pcm) if converter else event.pcm
                for frame in framer.push(pcm):
                    timestamp = self._audio_ms
                    self._audio_ms += FRAME_MS
                    if self._stream is not None:
                        self._stream.push(frame)
                    for ep_event in self.endpointer.feed(frame, self.vad.is_speech(frame), timestamp):
                        await self._on_endpoint(ep_event)
                    if self._over_the_bot and self.endpointer.speech_ms >= self.settings.barge_in_min_ms:
                        self._over_the_bot = False  # long enough: a real barge-in
                        await self._interrupt("barge-in")
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
        self.ended_by = self.ended_by or "caller"
        log.info("call %s: caller hung up", self.io.call_id)

    async def _tick(self) -> None:
        """The no-speech timer when the gateway sends nothing during silence (some do)."""
        while True:
            await asyncio.sleep(_IDLE_TICK_S)
            idle = self.now_ms() - self._last_audio_wall
            if idle > 2 * _IDLE_TICK_S * 1000:
                for event in self.endpointer.tick(self._audio_ms + idle):
                    await self._on_endpoint(event)

    async def _on_endpoint(self, event: BargeIn | SpeechStarted | SpeechEnded | NoSpeech) -> None:
        if isinstance(event, BargeIn):
            self._over_the_bot = True  # stopped once it lasts barge_in_min_ms (checked frame by frame)
            if self.settings.barge_in_min_ms <= 0:
                self._over_the_bot = False
                await self._interrupt("barge-in")
        elif isinstance(event, SpeechStarted):
            stream = self.transcriber.open(self.format, hints=hints_for_slot(self._requested_slot))
            self._open_streams.add(stream)
            stream.push(event.audio)  # the frame that decided it is in the pre-roll already
            self._stream = stream
        elif isinstance(event, SpeechEnded):
            ending, self._stream = self._stream, None
            if ending is not None:
                ending.end()
                self._inputs.put_nowait(_Utterance(ending, self.now_ms(), event.detected_ms - event.at_ms,
                                                   over_the_bot=self._over_the_bot))
            self._over_the_bot = False
        elif self._inputs.empty() and not self._digits:
            self._inputs.put_nowait(_Silence())

    async def _on_digit(self, digit: str) -> None:
        await self._interrupt("key pressed")
        self.endpointer.stop_listening()
        if self._dtmf_timer is not None:
            self._dtmf_timer.cancel()
            self._dtmf_timer = None
        if digit != "#":
            self._digits += digit
            loop = asyncio.get_running_loop()
            self._dtmf_timer = loop.call_later(self.settings.dtmf_timeout_s, self._digits_done)
        else:
            self._digits_done(by_key=True)

    def _digits_done(self, *, by_key: bool = False) -> None:
        self._dtmf_timer = None
        digits, self._digits = self._digits, ""
        if digits:
            self._inputs.put_nowait(_Digits(digits, by_key))

"""Voice activity detection and end-of-turn detection for the phone line.

Two layers, kept apart so that each can be tested alone:

* :class:`VoiceActivity` says whether one short frame holds speech (:class:`WebRtcVad`, or :class:`EnergyVad`).
* :class:`Endpointer` is a pure state machine fed with ``(frame, is_speech, timestamp_ms)``; it never reads a
  clock. It turns the frame decisions into turn events: :class:`SpeechStarted` (with the pre-roll audio, so the
  first syllable reaches the recognizer), :class:`BargeIn` (the caller spoke while the bot was playing: stop the
  playback now), :class:`SpeechEnded` and :class:`NoSpeech` (nothing said after a prompt: re-prompt).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Literal, Protocol

import webrtcvad

from voice.audio import SLIN8K, AudioFormat, dbfs

_VAD_FRAME_MS = (10, 20, 30)
_VAD_RATES = (8000, 16000, 32000, 48000)


class VoiceActivity(Protocol):
    """Frame-level speech detector for mono slin16 frames of 10, 20 or 30 ms."""

    @property
    def format(self) -> AudioFormat:
        """The format of the frames it accepts."""
        ...

    def is_speech(self, frame: bytes) -> bool:
        """Whether this frame holds speech."""
        ...


def _check_frame(fmt: AudioFormat, frame: bytes) -> None:
    if len(frame) not in {fmt.bytes_per_frame(ms) for ms in _VAD_FRAME_MS}:
        raise ValueError(f"a VAD frame must be 10, 20 or 30 ms of {fmt}, not {len(frame)} bytes")


def _check_format(fmt: AudioFormat) -> None:
    if fmt.encoding != "slin16" or fmt.channels != 1 or fmt.rate not in _VAD_RATES:
        raise ValueError(f"VAD needs mono slin16 at 8, 16, 32 or 48 kHz, not {fmt}")


class WebRtcVad:
    """The WebRTC voice activity detector (``webrtcvad-wheels``).

    ``aggressiveness`` 0–3: higher rejects more non-speech (and some quiet speech). 2 suits a phone line.
    """

    def __init__(self, fmt: AudioFormat = SLIN8K, aggressiveness: int = 2) -> None:
        _check_format(fmt)
        if aggressiveness not in (0, 1, 2, 3):
            raise ValueError(f"aggressiveness must be 0 to 3, not {aggressiveness}")
        self._format = fmt
        self.aggressiveness = aggressiveness
        self._vad = webrtcvad.Vad(aggressiveness)

    @property
    def format(self) -> AudioFormat:
        return self._format

    def is_speech(self, frame: bytes) -> bool:
        _check_frame(self._format, frame)
        return bool(self._vad.is_speech(frame, self._format.rate))


class EnergyVad:
    """A level threshold: a crude detector for quiet lines and tests, not for noisy calls."""

    def __init__(self, fmt: AudioFormat = SLIN8K, threshold_dbfs: float = -45.0) -> None:
        _check_format(fmt)
        self._format = fmt
        self.threshold_dbfs = threshold_dbfs

    @property
    def format(self) -> AudioFormat:
        return self._format

    def is_speech(self, frame: bytes) -> bool:
        _check_frame(self._format, frame)
        return dbfs(frame, self._format) > self.threshold_dbfs


# --- events ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpeechStarted:
    """The caller started speaking at ``at_ms``; it was decided at ``detected_ms`` (after ``start_ms`` of voice).

    ``audio`` runs from up to ``preroll_ms`` before ``at_ms`` to ``detected_ms``: send it to the recognizer first,
    then every following frame until :class:`SpeechEnded`.
    """

    at_ms: float
    detected_ms: float
    audio: bytes
    barge_in: bool


@dataclass(frozen=True)
class BargeIn:
    """The caller spoke over the bot: stop playback at once. Comes just before its :class:`SpeechStarted`."""

    at_ms: float
    detected_ms: float


@dataclass(frozen=True)
class SpeechEnded:
    """The caller's turn ended: last voice at ``at_ms``, decided at ``detected_ms`` (after the hangover)."""

    at_ms: float
    detected_ms: float
    duration_ms: float
    reason: Literal["silence", "max_length"]


@dataclass(frozen=True)
class NoSpeech:
    """Nothing was said for ``waited_ms`` after :meth:`Endpointer.listen`: time to re-prompt."""

    at_ms: float
    waited_ms: float


EndpointEvent = SpeechStarted | BargeIn | SpeechEnded | NoSpeech


@dataclass(frozen=True)
class EndpointerConfig:
    """Timings of end-of-turn detection, in milliseconds (part of the voice gateway's settings)."""

    start_ms: float = 100
    """Voiced time in a row before speech counts as started: shorter bursts (clicks, pops) are ignored.

    WebRTC marks the first 80 ms of noise after digital silence as speech: 100 ms keeps that from starting a turn.
    """
    hangover_ms: float = 600
    """Silence after the last voiced frame before the turn counts as ended."""
    silence_timeout_ms: float = 5000
    """Wait after :meth:`Endpointer.listen` before :class:`NoSpeech`."""
    preroll_ms: float = 300
    """Audio kept from before the start of speech, handed over with :class:`SpeechStarted`."""
    max_speech_ms: float | None = 20000
    """Longest turn: beyond it the turn is ended anyway (a caller in a noisy street never falls silent)."""

    def __post_init__(self) -> None:
        if min(self.start_ms, self.hangover_ms, self.silence_timeout_ms, self.preroll_ms) < 0:
            raise ValueError("endpointer timings cannot be negative")


_State = Literal["silence", "onset", "speech"]


class Endpointer:
    """End-of-turn state machine. Time is whatever the caller says it is (``timestamp_ms`` of each frame's start).

    The session sets :attr:`bot_playing` while the bot's audio is being played; speech detected then is a barge-in.
    """

    def __init__(self, fmt: AudioFormat = SLIN8K, config: EndpointerConfig | None = None) -> None:
        self.fmt = fmt
        self.config = config or EndpointerConfig()
        self.bot_playing = False
        self.hangover_ms = self.config.hangover_ms
        """The silence that ends the current turn: the session changes it with the question asked."""
        self.extension: tuple[float, float] | None = None
        """(speech ms, hangover ms): once the turn has that much speech, the longer hangover applies (the session
        sets it after a yes/no question, which a caller may answer with more than a yes)."""
        self.reset()

    def reset(self) -> None:
        """Forget everything: no speech, no pre-roll, not listening (``bot_playing`` is left as it is)."""
        self._state: _State = "silence"
        self._recent: deque[tuple[float, bytes]] = deque()  # (start time, frame), newest last
        self._onset_ms = 0.0
        self._speech_start = 0.0
        self._last_voice_end = 0.0
        self._listen_since: float | None = None
        self._last_ts: float | None = None

    @property
    def in_speech(self) -> bool:
        """Whether the caller is speaking (between :class:`SpeechStarted` and :class:`SpeechEnded`)."""
        return self._state == "speech"

    @property
    def speech_ms(self) -> float:
        """How long the current turn has had voice so far (0 outside speech): from its onset to its last voice."""
        return self._last_voice_end - self._speech_start if self._state == "speech" else 0.0

    @property
    def listening(self) -> bool:
        """Whether the no-speech timer is running."""
        return self._listen_since is not None

    def listen(self, now_ms: float) -> None:
        """Start the no-speech timer (the bot has finished its prompt). No timer if the caller is already speaking."""
        self._listen_since = None if self.in_speech else now_ms

    def stop_listening(self) -> None:
        """Stop the no-speech timer without an event."""
        self._listen_since = None

    def feed(self, frame: bytes, is_speech: bool, timestamp_ms: float) -> list[EndpointEvent]:
        """Take the next frame and its VAD decision; return the events it causes, in order."""
        if self._last_ts is not None and timestamp_ms < self._last_ts:
            raise ValueError(f"timestamps go back: {timestamp_ms} after {self._last_ts}")
        self._last_ts = timestamp_ms
        end = timestamp_ms + self.fmt.duration_ms(len(frame))
        self._remember(timestamp_ms, frame, end)
        if self._state == "speech":
            return self._in_speech(is_speech, end)
        if is_speech:
            if self._state == "silence":
                self._state, self._speech_start = "onset", timestamp_ms
            self._onset_ms += end - timestamp_ms
            if self._onset_ms >= self.config.start_ms:
                return self._start(end)
            return []
        self._state, self._onset_ms = "silence", 0.0  # a voiced burst too short to be speech (a click) is forgotten
        return self.tick(end)

    def tick(self, now_ms: float) -> list[EndpointEvent]:
        """Check the no-speech timer (also done by :meth:`feed`; call it when no audio arrives)."""
        since = self._listen_since
        if since is None or self._state != "silence" or now_ms - since < self.config.silence_timeout_ms:
            return []
        self._listen_since = None
        return [NoSpeech(at_ms=now_ms, waited_ms=now_ms - since)]

    def _start(self, end: float) -> list[EndpointEvent]:
        since = self._speech_start - self.config.preroll_ms
        audio = b"".join(frame for ts, frame in self._recent if ts >= since)
        self._onset_ms = 0.0
        self._state, self._last_voice_end, self._listen_since = "speech", end, None
        events: list[EndpointEvent] = []
        if self.bot_playing:
            events.append(BargeIn(at_ms=self._speech_start, detected_ms=end))
        events.append(SpeechStarted(self._speech_start, end, audio, barge_in=self.bot_playing))
        return events

    def _in_speech(self, is_speech: bool, end: float) -> list[EndpointEvent]:
        if is_speech:
            self._last_voice_end = end
        reason: Literal["silence", "max_length"]
        hangover = self.hangover_ms
        if self.extension is not None and self._last_voice_end - self._speech_start >= self.extension[0]:
            hangover = max(hangover, self.extension[1])
        if end - self._last_voice_end >= hangover:
            reason = "silence"
        elif self.config.max_speech_ms is not None and end - self._speech_start >= self.config.max_speech_ms:
            reason = "max_length"
        else:
            return []
        self._state = "silence"
        duration = self._last_voice_end - self._speech_start
        return [SpeechEnded(at_ms=self._last_voice_end, detected_ms=end, duration_ms=duration, reason=reason)]

    def _remember(self, timestamp_ms: float, frame: bytes, end: float) -> None:
        """Keep the recent audio: enough for the pre-roll before an onset that may still become speech."""
        self._recent.append((timestamp_ms, frame))
        horizon = end - (self.config.preroll_ms + self.config.start_ms + (end - timestamp_ms))
        while self._recent[0][0] < horizon:
            self._recent.popleft()

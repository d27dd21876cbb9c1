"""The scripted transcriber of conversation tests and demos (``voice serve --scripted-stt``): each utterance is
heard as the next scripted text."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence

from voice.audio import AudioFormat
from voice.hints import normalize_hints
from voice.stt import STANDARD_RATES, QueueStream, StreamClosed, Transcript, check_format


class ScriptedTranscriber:
    """The transcriber of French conversation tests: each utterance is heard as the next scripted text.

    An utterance ends when the test calls :meth:`ScriptedStream.utterance_ended` (as Vosk's endpointing would) or
    :meth:`ScriptedStream.end`. Script items are texts (heard with ``confidence``) or whole :class:`Transcript`\\ s;
    ``""`` is an utterance heard as nothing. ``opened`` records each stream's format and hints, for assertions.
    """

    def __init__(self, script: Iterable[str | Transcript] = (), *, confidence: float = 0.95,
                 partials: bool = False) -> None:
        self._script: deque[Transcript] = deque()
        self.confidence, self.partials = confidence, partials
        self.opened: list[tuple[AudioFormat, tuple[str, ...]]] = []
        self.heard: list[Transcript] = []
        self.add(*script)

    def add(self, *items: str | Transcript) -> None:
        """Append utterances to the script."""
        self._script.extend(i if isinstance(i, Transcript) else Transcript(i, True, self.confidence) for i in items)

    @property
    def remaining(self) -> int:
        return len(self._script)

    def open(self, fmt: AudioFormat, *, hints: Sequence[str] = ()) -> ScriptedStream:
        check_format(fmt, STANDARD_RATES)
        self.opened.append((fmt, normalize_hints(hints)))
        return ScriptedStream(self)

    def _next(self) -> Transcript:
        if not self._script:
            raise ScriptExhausted("le script de reconnaissance est épuisé / the transcriber's script is exhausted")
        heard = self._script.popleft()
        self.heard.append(heard)
        return heard


class ScriptExhausted(AssertionError):
    """A scripted conversation asked for more utterances than the test scripted."""


class ScriptedStream(QueueStream):
    def __init__(self, owner: ScriptedTranscriber) -> None:
        super().__init__()
        self._owner = owner
        self._ended = False
        self._pending = True  # an utterance is under way (audio since the last one ended, or none ended yet)
        self.audio_bytes = 0

    def push(self, pcm: bytes) -> None:
        if self._ended:
            raise StreamClosed("audio après la fin du flux / audio after end()")
        self.audio_bytes += len(pcm)
        self._pending = True

    def utterance_ended(self) -> Transcript:
        """End the current utterance: its partials (if asked) and its final transcript are queued and returned."""
        heard = self._owner._next()
        if self._owner.partials:
            words = heard.text.split()
            for n in range(1, len(words)):
                self._out.put_nowait(Transcript(" ".join(words[:n]), False, 0.0))
        self._out.put_nowait(heard)
        self._pending = False
        return heard

    def end(self) -> None:
        if self._ended:
            return
        self._ended = True
        if self._pending:
            self.utterance_ended()
        self._out.put_nowait(None)

    async def aclose(self) -> None:
        if not self._ended:
            self._ended = True
            self._out.put_nowait(None)


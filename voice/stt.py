"""Speech-to-text: the :class:`Transcriber` protocol, Vosk streaming recognition off the event loop, a scripted twin.

A stream takes mono slin16 audio with :meth:`~TranscriberStream.push`, and gives :class:`Transcript` objects by
async iteration: partial ones while the caller speaks, a final one at each end of utterance that Vosk detects, and
always a last final one after :meth:`~TranscriberStream.end`, after which the iteration stops.

Vosk calls block (a 20 ms chunk costs a few ms of CPU), so every one of them runs in the transcriber's own small
thread pool, never on the event loop. Each stream owns one ``KaldiRecognizer`` and feeds it from one asyncio task, so
a recognizer is never used by two threads at once; the model is loaded once and shared by every stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol, Self

from voice.audio import AudioFormat
from voice.models import DEFAULT_DEST, find_model

log = logging.getLogger(__name__)

MODEL_PATH_ENV = "GUICHET_VOSK_MODEL"
"""Environment variable the voice service's composition root reads for the model folder."""

UNK = "[unk]"
_STANDARD_RATES = (8000, 16000, 22050, 24000, 32000, 44100, 48000)
_MAX_BATCH_S = 0.4  # chunks waiting for the recognizer are fed together, up to this much audio per call


@dataclass(frozen=True)
class Transcript:
    """What was heard: ``final`` once the utterance is over; ``confidence`` 0–1 (0.0 for partials and silence)."""

    text: str
    final: bool
    confidence: float = 0.0


class TranscriberStream(Protocol):
    """One recognition stream (one call, or one turn): audio in, transcripts out."""

    def push(self, pcm: bytes) -> None:
        """Queue audio (mono slin16 at the stream's rate); never blocks."""

    def end(self) -> None:
        """No more audio: the last final transcript comes, then the iteration stops."""

    def __aiter__(self) -> Self: ...

    async def __anext__(self) -> Transcript: ...

    async def aclose(self) -> None:
        """Stop at once (hang-up): pending audio is dropped and resources are freed."""


class Transcriber(Protocol):
    def open(self, fmt: AudioFormat, *, hints: Sequence[str] = ()) -> TranscriberStream:
        """Start a stream; ``hints`` are phrases expected now (:func:`hints_for_slot`), used where the model can."""


class SttError(Exception):
    """Speech recognition cannot work (no model, unreadable model, recognizer failure)."""


class ModelMissingError(SttError):
    """No model where the settings say; the message says what to run."""


class UnsupportedFormat(ValueError):
    """Audio the recognizer cannot take: convert it first with :mod:`voice.audio`."""


class StreamClosed(RuntimeError):
    """Audio pushed after ``end()`` or ``aclose()``."""


# --- recognition hints ---------------------------------------------------------------------------------------------
# Phrases a caller is likely to say when the bot has just asked something narrow. With a small model they become a
# Vosk grammar (plus "[unk]" for anything else), which helps a lot on 8 kHz lines; words missing from the model's
# vocabulary are dropped, and the words of ESCAPES are always allowed so that a caller can still get out.


class HintSet(StrEnum):
    YES_NO = "yes_no"
    DIGITS = "digits"
    DATES = "dates"
    SPELLING = "spelling"


ESCAPES = ("non", "je ne sais pas", "répétez", "pardon", "un conseiller", "au revoir")
_LETTERS = (*"abcdefghijklmnopqrstuvwxyz", "i grec", "double v", "double vé")
# The French spelling alphabet (alphabet radio), said as "B comme Berthe".
SPELLING_ALPHABET = ("anatole", "berthe", "célestin", "désiré", "eugène", "françois", "gaston", "henri", "irma",
                     "joseph", "kléber", "louis", "marcel", "nicolas", "oscar", "pierre", "quintal", "raoul",
                     "suzanne", "thérèse", "ursule", "victor", "william", "xavier", "yvonne", "zoé")
DIGIT_WORDS = ("zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf")
_NUMBER_WORDS = ("dix", "onze", "douze", "treize", "quatorze", "quinze", "seize", "dix-sept", "dix-huit", "dix-neuf",
                 "vingt", "trente", "quarante", "cinquante", "soixante", "soixante-dix", "quatre-vingt",
                 "quatre-vingts", "quatre-vingt-dix", "et", "cent", "double")
WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
HINT_PHRASES: dict[HintSet, tuple[str, ...]] = {
    HintSet.YES_NO: ("oui", "non", "d'accord", "ouais", "si", "exactement", "c'est ça", "tout à fait", "bien sûr",
                     "absolument", "c'est bon", "parfait", "je confirme", "voilà", "ok", "pas du tout", "non merci",
                     "oui merci", "pas encore"),
    HintSet.DIGITS: (*DIGIT_WORDS, *_NUMBER_WORDS),
    HintSet.DATES: (*WEEKDAYS, "aujourd'hui", "demain", "après-demain", "matin", "après-midi", "midi", "soir",
                    "prochain", "prochaine", "la semaine prochaine", "cette semaine", "le", "heure", "heures",
                    "et demie", "et quart", "moins le quart", "premier", "plus tôt", "plus tard", "dès que possible",
                    "janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
                    "novembre", "décembre"),
    HintSet.SPELLING: (*_LETTERS, *SPELLING_ALPHABET, "comme"),
}
# The dialogue's requested slot (bot/domain) → what to listen for. Slots not listed (names, free questions) get none.
SLOT_HINTS: dict[str, tuple[HintSet, ...]] = {
    "has_predemande": (HintSet.YES_NO,),
    "booking_confirmed": (HintSet.YES_NO,),
    "cancel_confirmed": (HintSet.YES_NO,),
    "move_confirmed": (HintSet.YES_NO,),
    "phone": (HintSet.DIGITS,),
    "people": (HintSet.DIGITS,),
    "child_age": (HintSet.DIGITS,),
    "when": (HintSet.DATES, HintSet.DIGITS),
    "predemande_ids": (HintSet.SPELLING, HintSet.DIGITS),
    "reference": (HintSet.SPELLING, HintSet.DIGITS),
}


def normalize_hints(phrases: Iterable[str]) -> tuple[str, ...]:
    """Lower-case, single spaces, no duplicates, order kept (Vosk vocabularies are lower-case)."""
    seen: dict[str, None] = {}
    for phrase in phrases:
        cleaned = " ".join(phrase.lower().replace("’", "'").split())
        if cleaned:
            seen.setdefault(cleaned)
    return tuple(seen)


def hints_for(*sets: HintSet) -> tuple[str, ...]:
    """The phrases of these hint sets, plus the escapes; empty (free recognition) when no set is given."""
    if not sets:
        return ()
    return normalize_hints([p for s in sets for p in HINT_PHRASES[s]] + list(ESCAPES))


def hints_for_slot(requested_slot: str | None) -> tuple[str, ...]:
    """Hints for the slot the bot has just asked for; empty for open questions."""
    return hints_for(*SLOT_HINTS.get(requested_slot or "", ()))


class _QueueStream:
    """Async iteration over an output queue: transcripts, then ``None`` for the end (or an exception to raise)."""

    def __init__(self) -> None:
        self._out: asyncio.Queue[Transcript | BaseException | None] = asyncio.Queue()
        self._exhausted = False

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Transcript:
        if self._exhausted:
            raise StopAsyncIteration
        item = await self._out.get()
        if item is None or isinstance(item, BaseException):
            self._exhausted = True
            if item is None:
                raise StopAsyncIteration
            raise item
        return item


def _check_format(fmt: AudioFormat, rates: Iterable[int]) -> None:
    if fmt.encoding != "slin16" or fmt.channels != 1 or fmt.rate not in rates:
        raise UnsupportedFormat(f"la reconnaissance prend du slin16 mono à {sorted(rates)} Hz, pas {fmt} : "
                                f"convertissez avec voice.audio (StreamConverter) / convert to mono slin16 first")


def _clean(text: str) -> str:
    return " ".join(w for w in text.split() if w != UNK)


def _final(raw: str) -> Transcript:
    result = json.loads(raw)
    words = result.get("result") or []
    confs = [0.0 if w.get("word") == UNK else float(w.get("conf", 0.0)) for w in words]
    text = _clean(str(result.get("text", "")))
    return Transcript(text, True, round(sum(confs) / len(confs), 3) if confs and text else 0.0)


class VoskTranscriber:
    """Vosk recognition for many concurrent streams, with one model loaded once and a bounded thread pool.

    Accepted audio (:attr:`accepted_rates`): mono slin16 at the model's rate (``sample_rate``, 16 kHz for the French
    models, read from ``conf/mfcc.conf`` when it says), at any higher standard rate (Vosk downsamples), and at lower
    ones only if the model allows upsampling. Anything else is refused: resample outside with :mod:`voice.audio`.
    """

    def __init__(self, model_path: Path, *, sample_rate: int = 16000, workers: int = 2,
                 partial_interval_ms: int = 100, kaldi_log_level: int = -1) -> None:
        self.model_path = Path(model_path)
        self.sample_rate = sample_rate
        self.partial_interval_ms = partial_interval_ms
        self.load_seconds: float | None = None
        self._kaldi_log_level = kaldi_log_level
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="vosk")
        self._model: Any = None
        self._load_lock = threading.Lock()
        self._refs_lock = threading.Lock()  # Vosk counts model references without atomics: create/free one at a time
        self._grammars: dict[tuple[str, ...], tuple[str, ...] | None] = {}
        self._logged: set[str] = set()

    @cached_property
    def _mfcc(self) -> dict[str, str]:
        conf = self.model_path / "conf" / "mfcc.conf"
        if not conf.is_file():
            conf = self.model_path / "mfcc.conf"
        options: dict[str, str] = {}
        if conf.is_file():
            for line in conf.read_text(encoding="utf-8").splitlines():
                key, _, value = line.split("#")[0].strip().lstrip("-").partition("=")
                if key:
                    options[key] = value.strip()
        return options

    @property
    def model_rate(self) -> int:
        """The rate the model was trained at."""
        return int(float(self._mfcc.get("sample-frequency", self.sample_rate)))

    @property
    def accepted_rates(self) -> frozenset[int]:
        upsample = self._mfcc.get("allow-upsample", "false").lower() == "true"
        return frozenset(r for r in _STANDARD_RATES if r >= self.model_rate or upsample)

    @cached_property
    def supports_grammar(self) -> bool:
        """Small models (HCLr + Gr graphs) accept run-time grammars; big ones (a static HCLG graph) cannot."""
        for graph in (self.model_path / "graph", self.model_path):
            if (graph / "HCLG.fst").is_file():
                return False
            if (graph / "HCLr.fst").is_file() and (graph / "Gr.fst").is_file():
                return True
        return False

    async def load(self) -> None:
        """Load the model now (in the pool), so that the first caller does not wait for it."""
        await asyncio.get_running_loop().run_in_executor(self._pool, self._ensure_model)

    def open(self, fmt: AudioFormat, *, hints: Sequence[str] = ()) -> VoskStream:
        _check_format(fmt, self.accepted_rates)
        return VoskStream(self, fmt.rate, normalize_hints(hints))

    def close(self) -> None:
        """Wait for the pool's work to finish and let the model go (when the service stops)."""
        self._pool.shutdown(wait=True)
        self._model = None

    # --- in the pool's threads ---------------------------------------------------------------------------------

    def _ensure_model(self) -> Any:
        with self._load_lock:
            if self._model is None:
                vosk = _import_vosk()
                vosk.SetLogLevel(self._kaldi_log_level)
                started = time.perf_counter()
                try:
                    self._model = vosk.Model(str(self.model_path))
                except Exception as exc:
                    raise SttError(f"modèle Vosk illisible dans {self.model_path} ({exc})") from exc
                self.load_seconds = time.perf_counter() - started
                log.info("Vosk model %s loaded in %.2f s", self.model_path.name, self.load_seconds)
            return self._model

    def _grammar(self, hints: tuple[str, ...]) -> tuple[str, ...] | None:
        """The phrases Vosk can use as a grammar for these hints, or None for free recognition."""
        if not hints:
            return None
        if hints in self._grammars:
            return self._grammars[hints]
        grammar: tuple[str, ...] | None = None
        if not self.supports_grammar:
            self._log_once("no-grammar", "model %s has a static graph: hints ignored, free recognition",
                           self.model_path.name)
        else:
            model = self._model
            known = tuple(p for p in hints if all(model.vosk_model_find_word(w) >= 0 for w in p.split()))
            if len(known) < len(hints):
                log.debug("hints not in the model's vocabulary: %s", sorted(set(hints) - set(known)))
            if known:
                grammar = known + ((UNK,) if model.vosk_model_find_word(UNK) >= 0 else ())
            else:
                self._log_once(f"vocab:{hints}", "none of %d hint phrases is in the vocabulary of %s: free "
                               "recognition", len(hints), self.model_path.name)
        self._grammars[hints] = grammar
        return grammar

    def _log_once(self, key: str, message: str, *args: object) -> None:
        if key not in self._logged:
            self._logged.add(key)
            log.warning(message, *args)


def _import_vosk() -> Any:
    try:
        import vosk
    except ImportError as exc:  # the package is in the voice extra
        raise SttError("le paquet Python 'vosk' manque : pip install vosk==0.3.45") from exc
    return vosk


class VoskStream(_QueueStream):
    """One Vosk recognizer fed by one task; see :class:`TranscriberStream`."""

    def __init__(self, owner: VoskTranscriber, rate: int, hints: tuple[str, ...]) -> None:
        super().__init__()
        self.rate, self.hints = rate, hints
        self.grammar: tuple[str, ...] | None = None  # the phrases in force, once the recognizer exists
        self._owner = owner
        self._in: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._ended = False
        self._queued = 0  # bytes pushed and not yet handed to the recognizer
        self._backlog_limit = rate * 2 * 2  # 2 s of audio
        self._warned_backlog = False
        self._rec: Any = None
        self._rec_lock = threading.Lock()
        self._freed = False
        self._max_batch = int(rate * 2 * _MAX_BATCH_S)
        self._partial_every = rate * 2 * owner.partial_interval_ms // 1000
        self._since_partial = 0
        self._last_partial = ""
        self._block = rate * 2 * 20 // 1000  # bytes in 20 ms
        self._pending = bytearray()  # less than one block, waiting for the rest
        self._task = asyncio.get_running_loop().create_task(self._run(), name="vosk-stream")

    def push(self, pcm: bytes) -> None:
        if self._ended:
            raise StreamClosed("audio après la fin du flux / audio after end()")
        if len(pcm) % 2:
            raise ValueError("slin16 audio comes in whole 2-byte samples")
        if pcm:
            self._in.put_nowait(pcm)
            self._queued += len(pcm)
            if self._queued > self._backlog_limit and not self._warned_backlog:
                self._warned_backlog = True
                log.warning("speech recognition falls behind real time: %.1f s of audio waiting",
                            self._queued / (self.rate * 2))

    def end(self) -> None:
        if not self._ended:
            self._ended = True
            self._in.put_nowait(None)

    async def aclose(self) -> None:
        self._ended = True
        if not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        loop, pool = asyncio.get_running_loop(), self._owner._pool
        try:
            await loop.run_in_executor(pool, self._start)
            last = False
            while not last:
                data, last = await self._next_batch()
                if data:
                    for transcript in await loop.run_in_executor(pool, self._accept, data):
                        self._out.put_nowait(transcript)
            self._out.put_nowait(await loop.run_in_executor(pool, self._finish))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("speech recognition failed")
            self._out.put_nowait(exc if isinstance(exc, SttError) else SttError(f"reconnaissance en échec : {exc}"))
        finally:
            self._release(pool)
            self._out.put_nowait(None)

    async def _next_batch(self) -> tuple[bytes, bool]:
        first = await self._in.get()
        if first is None:
            return b"", True
        chunks, size, last = [first], len(first), False
        while size < self._max_batch and not self._in.empty():
            chunk = self._in.get_nowait()
            if chunk is None:
                last = True
                break
            chunks.append(chunk)
            size += len(chunk)
        self._queued -= size
        return b"".join(chunks), last

    def _release(self, pool: ThreadPoolExecutor) -> None:
        # Queued behind any call still running on this recognizer (it holds _rec_lock), so it is never freed mid-call.
        try:
            pool.submit(self._free)
        except RuntimeError:  # pool already shut down: nothing else can be running
            self._free()

    # --- in the pool's threads ---------------------------------------------------------------------------------

    def _start(self) -> None:
        model = self._owner._ensure_model()
        vosk = _import_vosk()
        with self._rec_lock, self._owner._refs_lock:
            if self._freed:  # closed while the model was loading
                return
            self.grammar = self._owner._grammar(self.hints)
            if self.grammar:
                # ensure_ascii=False: Vosk's JSON reader does not decode \u escapes ("zéro" would never match)
                rec = vosk.KaldiRecognizer(model, float(self.rate), json.dumps(list(self.grammar), ensure_ascii=False))
            else:
                rec = vosk.KaldiRecognizer(model, float(self.rate))
            rec.SetWords(True)
            self._rec = rec

    def _accept(self, data: bytes) -> list[Transcript]:
        # Fed in fixed 20 ms blocks whatever the batching: Vosk's result depends on how audio is cut into calls,
        # and this way it does not depend on the load. An endpoint inside a batch is caught where it happens.
        out: list[Transcript] = []
        with self._rec_lock:
            self._pending += data
            cut = len(self._pending) - len(self._pending) % self._block
            for i in range(0, cut, self._block):
                if self._rec.AcceptWaveform(bytes(self._pending[i : i + self._block])):
                    self._since_partial, self._last_partial = 0, ""
                    final = _final(self._rec.Result())
                    if final.text:
                        out.append(final)
                else:
                    self._since_partial += self._block
            del self._pending[:cut]
            if self._since_partial >= self._partial_every:
                self._since_partial = 0
                text = _clean(json.loads(self._rec.PartialResult()).get("partial", ""))
                if text and text != self._last_partial:
                    self._last_partial = text
                    out.append(Transcript(text, False, 0.0))
        return out

    def _finish(self) -> Transcript:
        with self._rec_lock:
            if self._pending:
                self._rec.AcceptWaveform(bytes(self._pending))
                self._pending.clear()
            return _final(self._rec.FinalResult())

    def _free(self) -> None:
        with self._rec_lock, self._owner._refs_lock:
            self._freed = True
            self._rec = None  # the last reference: KaldiRecognizer.__del__ frees it here, in this thread


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
        _check_format(fmt, _STANDARD_RATES)
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


class ScriptedStream(_QueueStream):
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


class SttConfig(Protocol):
    """What :func:`load_transcriber` needs from the voice service's settings."""

    @property
    def vosk_model_path(self) -> Path: ...

    @property
    def stt_sample_rate(self) -> int: ...

    @property
    def stt_workers(self) -> int: ...


@dataclass(frozen=True)
class SttSettings:
    vosk_model_path: Path = DEFAULT_DEST
    stt_sample_rate: int = 16000
    stt_workers: int = 2


def load_transcriber(settings: SttConfig) -> VoskTranscriber:
    """The Vosk transcriber for the configured model folder (the folder itself, or one where ``make models``
    installed it); :class:`ModelMissingError` says exactly what to do when there is none. The model itself is
    loaded by :meth:`VoskTranscriber.load` (at start-up) or by the first stream.
    """
    path = find_model(Path(settings.vosk_model_path))
    if path is None:
        where = settings.vosk_model_path
        raise ModelMissingError(
            f"Aucun modèle de reconnaissance vocale dans {where}. Installez le modèle français avec `make models` "
            f"(petit modèle ; `make models LARGE=1` pour le grand), ou indiquez son dossier avec la variable "
            f"d'environnement {MODEL_PATH_ENV}=/chemin/vers/vosk-model-small-fr-0.22.\n"
            f"No speech recognition model in {where}: run `make models`, or set {MODEL_PATH_ENV} to the model folder.")
    return VoskTranscriber(path, sample_rate=settings.stt_sample_rate, workers=settings.stt_workers)

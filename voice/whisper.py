"""Speech-to-text with Whisper (OpenAI Whisper base, French, through faster-whisper / CTranslate2), off the event loop.

Whisper hears a whole utterance at once: a stream buffers what the session pushes between the start and the end of
speech its VAD detected, and after :meth:`~WhisperStream.end` gives one final :class:`~voice.stt.Transcript` (no
partials: barge-in is the VAD's job). Whisper's cost is per utterance, not per second of audio, so the decoder:

- encodes only the window the utterance needs (``window="fit"``: its length rounded up to 5 s, instead of the
  encoder's full 30 s, which costs ~4 times more for a 3-second answer; ``window="full"`` keeps Whisper's own);
- puts the utterances of concurrent calls waiting at the same moment into one encoder and decoder pass
  (up to ``max_batch``), in one worker thread that owns the model, never on the event loop;
- decodes greedily at temperature 0 (deterministic; Whisper's temperature fallback doubles the time on bad audio);
- drops what Whisper is known to invent on noise (« Sous-titres réalisés par… », « Merci. » over silence).

The model folder is installed by ``make setup`` (:mod:`voice.whisper_model`); nothing is fetched at run time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import queue
import re
import threading
import time
import zlib
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from voice.audio import AudioFormat
from voice.stt import QueueStream, StreamClosed, SttError, Transcript, check_format

log = logging.getLogger(__name__)

RATE = 16000  # Whisper's own rate: the session converts the caller's audio to it
_FRAMES_PER_S = 100  # mel frames per second of audio
_WINDOW_STEP_S = 5  # "fit" windows are multiples of this
_FULL_WINDOW_S = 30
_MAX_TOKENS = 220  # a runaway decode stops here (a 20 s turn, the longest the endpointer allows, fits)
# Whisper's inventions on noise and silence (trained on subtitled videos): never a caller's words.
_INVENTED = re.compile(
    r"sous[- ]titr|amara\.org|merci d'avoir regard|abonnez[- ]vous|^\W*(?:merci|musique|applaudissements|rires)\W*$|"
    r"^\W*$", re.IGNORECASE)
_LOOPING = 2.4  # compression ratio above which a decode is looping (Whisper's own test): decoded again, penalized
_RETRY_PENALTY = 1.3
_NO_SPEECH = 0.6  # above this no-speech probability with a poor log-probability, the utterance was not speech
_POOR_LOGPROB = -1.0

Window = Literal["fit", "full"]


def looping(text: str) -> bool:
    """Whether greedy decoding went round in circles (« M------… », a phrase said ten times)."""
    data = text.encode()
    return len(data) > 24 and len(data) / len(zlib.compress(data)) > _LOOPING


def collapse_repeats(text: str) -> str:
    """« M-A-R-T-I-N M-A-R-T-I-N M-A-R-… » → « M-A-R-T-I-N »: a phrase the decoder repeated is said once."""
    words = text.split()
    for size in range(1, len(words) // 2 + 1):
        unit = words[:size]
        if all(w == unit[i % size] or (i >= len(words) - size and unit[i % size].startswith(w))
               for i, w in enumerate(words)):
            return " ".join(unit)
    return text


@dataclass(frozen=True)
class Heard:
    """One decoded utterance, with what the decoder knew about it."""

    text: str
    avg_logprob: float
    no_speech_prob: float

    def transcript(self) -> Transcript:
        if self.no_speech_prob > _NO_SPEECH and self.avg_logprob < _POOR_LOGPROB:
            return Transcript("", True, 0.0)
        text = collapse_repeats(" ".join(self.text.split()))
        if _INVENTED.search(text):
            return Transcript("", True, 0.0)
        return Transcript(text, True, round(min(1.0, math.exp(self.avg_logprob)), 3))


def window_frames(samples: int, window: Window) -> int:
    """The encoder window for an utterance of ``samples`` at 16 kHz, in mel frames."""
    if window == "full":
        return _FULL_WINDOW_S * _FRAMES_PER_S
    seconds = samples / RATE + 0.3  # a little room after the last word
    steps = max(1, math.ceil(seconds / _WINDOW_STEP_S))
    return min(_FULL_WINDOW_S, steps * _WINDOW_STEP_S) * _FRAMES_PER_S


@dataclass
class _Job:
    audio: np.ndarray  # float32, 16 kHz
    future: Future[Heard]


class WhisperTranscriber:
    """The :class:`~voice.stt.Transcriber` over a faster-whisper model folder; one worker thread decodes for all calls.

    ``threads``: CTranslate2's threads for each pass (the machine's cores shared with the other services);
    ``max_batch``: utterances decoded together at most; ``window``: see the module's docstring.
    """

    accepted_rates = frozenset({RATE})
    supports_grammar = False

    def __init__(self, model_path: Path, *, threads: int = 2, max_batch: int = 4, window: Window = "fit",
                 language: str = "fr") -> None:
        if max_batch < 1 or threads < 1:
            raise ValueError("threads and max_batch must be >= 1")
        self.model_path, self.threads, self.max_batch, self.window = Path(model_path), threads, max_batch, window
        self.language = language
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._model: Any = None
        self._ready = threading.Event()
        self._load_error: BaseException | None = None
        self.batches: list[int] = []  # the size of each pass, for benchmarks (last 1,000)

    # --- life cycle -------------------------------------------------------------------------------------------

    async def load(self) -> None:
        """Load the model now (at start-up) rather than on the first utterance."""
        await asyncio.get_running_loop().run_in_executor(None, self._start_and_wait)

    def open(self, fmt: AudioFormat, *, hints: Sequence[str] = ()) -> WhisperStream:
        check_format(fmt, self.accepted_rates)
        self._start()
        return WhisperStream(self)

    def close(self) -> None:
        with self._lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            self._jobs.put(None)
            worker.join(timeout=10)

    # --- decoding (blocking; the worker thread) -----------------------------------------------------------------

    def transcribe(self, pcm: bytes) -> Transcript:
        """One utterance (slin16 at 16 kHz), blocking: for tools and benchmarks, never on the event loop."""
        return self.submit(pcm).result().transcript()

    def submit(self, pcm: bytes) -> Future[Heard]:
        self._start()
        future: Future[Heard] = Future()
        audio = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        self._jobs.put(_Job(audio, future))
        return future

    def _start(self) -> None:
        with self._lock:
            if self._worker is None:
                self._ready.clear()
                self._worker = threading.Thread(target=self._work, name="whisper", daemon=True)
                self._worker.start()

    def _start_and_wait(self) -> None:
        self._start()
        self._ready.wait()
        if self._load_error is not None:
            raise SttError(f"modèle Whisper illisible dans {self.model_path} : {self._load_error}")

    def _load(self) -> Any:
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import Tokenizer

        started = time.perf_counter()
        model = WhisperModel(str(self.model_path), device="cpu", compute_type="int8", cpu_threads=self.threads,
                             num_workers=1, local_files_only=True)
        tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe",
                              language=self.language)
        prompt = model.get_prompt(tokenizer, [], without_timestamps=True)
        log.info("Whisper model loaded from %s in %.1f s", self.model_path, time.perf_counter() - started)
        return model, tokenizer, prompt

    def _work(self) -> None:
        try:
            self._model = self._load()
        except Exception as exc:
            self._load_error = exc
            log.error("Whisper model could not be loaded from %s: %s", self.model_path, exc)
        finally:
            self._ready.set()
        while True:
            job = self._jobs.get()
            if job is None:
                return
            jobs = [job]
            while len(jobs) < self.max_batch:  # whatever else is waiting now goes in the same pass
                try:
                    more = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._jobs.put(None)
                    break
                jobs.append(more)
            self._decode(jobs)

    def _decode(self, jobs: list[_Job]) -> None:
        if self._load_error is not None:
            for job in jobs:
                job.future.set_exception(SttError(f"modèle Whisper indisponible : {self._load_error}"))
            return
        try:
            heard = self._decode_batch([job.audio for job in jobs])
        except Exception as exc:
            log.error("Whisper decoding failed: %s", exc)
            for job in jobs:
                job.future.set_exception(SttError(f"échec de la reconnaissance : {exc}"))
            return
        self.batches = [*self.batches[-999:], len(jobs)]
        for job, result in zip(jobs, heard, strict=True):
            job.future.set_result(result)

    def _decode_batch(self, audios: list[np.ndarray]) -> list[Heard]:
        from faster_whisper.audio import pad_or_trim

        model = self._model[0]
        frames = max(window_frames(len(a), self.window) for a in audios)
        features = np.stack([pad_or_trim(model.feature_extractor(a), frames) for a in audios])
        encoded = model.encode(features)
        heard = self._generate(encoded, len(audios))
        for i, first in enumerate(heard):
            if looping(first.text):  # that utterance again, alone, with repetitions penalized
                log.info("Whisper decode looping: decoded again with a repetition penalty")
                again = model.encode(features[i:i + 1])
                heard[i] = self._generate(again, 1, repetition_penalty=_RETRY_PENALTY)[0]
        return heard

    def _generate(self, encoded: Any, count: int, *, repetition_penalty: float = 1.0) -> list[Heard]:
        model, tokenizer, prompt = self._model
        results = model.model.generate(
            encoded, [list(prompt) for _ in range(count)], beam_size=1, max_length=len(prompt) + _MAX_TOKENS,
            suppress_blank=True, suppress_tokens=[-1], return_scores=True, return_no_speech_prob=True,
            sampling_temperature=0.0, repetition_penalty=repetition_penalty)
        heard = []
        for result in results:
            tokens = [t for t in result.sequences_ids[0] if t < tokenizer.eot]
            length = len(result.sequences_ids[0])
            heard.append(Heard(tokenizer.decode(tokens), result.scores[0] * length / (length + 1),
                               result.no_speech_prob))
        return heard


class WhisperStream(QueueStream):
    """One utterance: audio buffered until :meth:`end`, then one final transcript (empty when nothing was said)."""

    def __init__(self, owner: WhisperTranscriber) -> None:
        super().__init__()
        self._owner = owner
        self._chunks: list[bytes] = []
        self._ended = False
        self._task: asyncio.Task[None] | None = None

    def push(self, pcm: bytes) -> None:
        if self._ended:
            raise StreamClosed("stream already ended")
        self._chunks.append(pcm)

    def end(self) -> None:
        if self._ended:
            return
        self._ended = True
        pcm, self._chunks = b"".join(self._chunks), []
        if len(pcm) < RATE // 10 * 2:  # under 100 ms: nothing to hear
            self._out.put_nowait(Transcript("", True, 0.0))
            self._out.put_nowait(None)
            return
        self._task = asyncio.get_running_loop().create_task(self._recognize(pcm))

    async def _recognize(self, pcm: bytes) -> None:
        try:
            heard = await asyncio.wrap_future(self._owner.submit(pcm))
            self._out.put_nowait(heard.transcript())
        except SttError as exc:
            self._out.put_nowait(exc)
            return
        self._out.put_nowait(None)

    async def aclose(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if not self._ended:
            self._ended = True
        self._out.put_nowait(None)

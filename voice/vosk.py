"""Vosk streaming recognition off the event loop (the French model is downloaded by ``make models``).

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
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from pathlib import Path
from typing import Any

from voice.audio import AudioFormat
from voice.hints import normalize_hints
from voice.stt import STANDARD_RATES, QueueStream, StreamClosed, SttError, Transcript, check_format

log = logging.getLogger(__name__)

UNK = "[unk]"
_MAX_BATCH_S = 0.4  # chunks waiting for the recognizer are fed together, up to this much audio per call


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
        return frozenset(r for r in STANDARD_RATES if r >= self.model_rate or upsample)

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
        check_format(fmt, self.accepted_rates)
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


class VoskStream(QueueStream):
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



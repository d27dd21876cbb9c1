"""Audio formats: G.711 codes, conversions, streaming resampling, framing, WAV and levels."""

from __future__ import annotations

import io
import math
import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from voice.audio import (
    ALAW8K,
    SLIN8K,
    SLIN16K,
    ULAW8K,
    AudioFormat,
    Framer,
    StreamConverter,
    StreamResampler,
    alaw_decode,
    alaw_encode,
    convert,
    dbfs,
    duration_ms,
    from_samples,
    read_wav,
    resample,
    rms,
    to_samples,
    ulaw_decode,
    ulaw_encode,
    write_wav,
)

Encoder = Callable[[np.ndarray], np.ndarray]
Decoder = Callable[[np.ndarray], np.ndarray]
ALL_INT16 = np.arange(-32768, 32768).astype(np.int16)
ALL_CODES = np.arange(256, dtype=np.uint8)


def tone(freq: float, rate: int, ms: float = 1000, amplitude: float = 8000, phase: float = 0.0) -> np.ndarray:
    t = np.arange(int(rate * ms / 1000)) / rate
    return np.round(amplitude * np.sin(2 * np.pi * freq * t + phase)).astype(np.int16)


def peak_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64) * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[np.argmax(spectrum)])


# --- G.711 ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("linear", "code"),
    [
        (0, 0xFF),
        (1, 0xFF),
        (-1, 0x7E),
        (100, 0xF2),
        (-100, 0x72),
        (1000, 0xCE),
        (-1000, 0x4E),
        (5000, 0xAB),
        (32767, 0x80),
        (-32768, 0x00),
    ],
)
def test_ulaw_known_codes(linear: int, code: int) -> None:
    assert ulaw_encode(np.array([linear], dtype=np.int16))[0] == code


@pytest.mark.parametrize(
    ("linear", "code"),
    [
        (0, 0xD5),
        (-1, 0x55),
        (100, 0xD3),
        (-100, 0x53),
        (1000, 0xFA),
        (-1000, 0x7A),
        (5000, 0x86),
        (32767, 0xAA),
        (-32768, 0x2A),
    ],
)
def test_alaw_known_codes(linear: int, code: int) -> None:
    assert alaw_encode(np.array([linear], dtype=np.int16))[0] == code


def test_g711_decoded_values() -> None:
    u = ulaw_decode(np.array([0xFF, 0x7F, 0x80, 0x00, 0xCE, 0xAB], dtype=np.uint8))
    a = alaw_decode(np.array([0xD5, 0x55, 0xAA, 0x2A, 0xFA, 0x86], dtype=np.uint8))
    assert u.tolist() == [0, 0, 32124, -32124, 988, 5116]
    assert a.tolist() == [8, -8, 32256, -32256, 1008, 4992]
    assert u.dtype == np.int16 and a.dtype == np.int16


@pytest.mark.parametrize(
    ("encode", "decode", "limit"), [(ulaw_encode, ulaw_decode, 32124), (alaw_encode, alaw_decode, 32256)]
)
def test_g711_round_trip_within_quantization_error(encode, decode, limit) -> None:  # type: ignore[no-untyped-def]
    back = decode(encode(ALL_INT16)).astype(np.int32)
    x = ALL_INT16.astype(np.int32)
    inside = np.abs(x) <= limit
    # G.711 steps double each segment: the error stays under 1/32 of the value plus the smallest half step.
    assert np.all(np.abs(back - x)[inside] <= np.abs(x[inside]) / 32 + 8)
    assert np.all(np.diff(back) >= 0)  # monotonic
    assert back.max() == limit and back.min() == -limit  # loud samples clip to the largest code


def test_g711_codes_are_fixed_points() -> None:
    assert np.array_equal(alaw_encode(alaw_decode(ALL_CODES)), ALL_CODES)
    u = ulaw_encode(ulaw_decode(ALL_CODES))
    assert np.array_equal(u[ALL_CODES != 0x7F], ALL_CODES[ALL_CODES != 0x7F])
    assert u[0x7F] == 0xFF  # "negative zero" is encoded back as zero


# --- formats and conversions ---------------------------------------------------------------------------------------


def test_audio_format_sizes() -> None:
    assert SLIN8K.bytes_per_frame() == 320
    assert ULAW8K.bytes_per_frame(20) == 160
    assert SLIN16K.bytes_per_frame(10) == 320
    assert AudioFormat("slin16", 22050).bytes_per_frame(20) == 882
    assert AudioFormat("slin16", 48000, 2).bytes_per_frame(20) == 3840
    assert SLIN8K.duration_ms(16000) == 1000
    assert ULAW8K.silence(20) == b"\xff" * 160
    assert ALAW8K.silence(10) == b"\xd5" * 80
    assert SLIN8K.silence(20) == bytes(320)
    assert str(ULAW8K) == "ulaw/8000/1"


def test_audio_format_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="whole number"):
        AudioFormat("slin16", 22050).bytes_per_frame(10)
    with pytest.raises(ValueError, match="encoding"):
        AudioFormat("mp3", 8000)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        AudioFormat("slin16", 0)
    with pytest.raises(ValueError, match="whole number of samples"):
        to_samples(b"\x00\x01\x02", SLIN8K)


def test_slin_bytes_are_little_endian() -> None:
    assert from_samples(np.array([1, -2], dtype=np.int16), SLIN8K) == b"\x01\x00\xfe\xff"
    assert to_samples(b"\x01\x00\xfe\xff", SLIN8K).tolist() == [1, -2]


def test_convert_slin8k_ulaw8k_slin16k_keeps_length_and_energy() -> None:
    slin8k = from_samples(tone(440, 8000), SLIN8K)
    ulaw = convert(slin8k, SLIN8K, ULAW8K)
    assert len(ulaw) == 8000
    back = convert(ulaw, ULAW8K, SLIN8K)
    assert len(back) == 16000
    assert rms(back, SLIN8K) == pytest.approx(rms(slin8k, SLIN8K), rel=0.01)
    wide = convert(ulaw, ULAW8K, SLIN16K)
    assert len(wide) == 32000
    assert rms(wide, SLIN16K) == pytest.approx(rms(slin8k, SLIN8K), rel=0.02)
    assert peak_hz(to_samples(wide, SLIN16K), 16000) == pytest.approx(440, abs=2)
    narrow = convert(wide, SLIN16K, ALAW8K)
    assert len(narrow) == 8000
    assert rms(narrow, ALAW8K) == pytest.approx(rms(slin8k, SLIN8K), rel=0.02)


def test_resample_close_to_nyquist_keeps_energy_and_removes_what_cannot_fit() -> None:
    high = tone(3400, 8000)
    up = resample(high, 8000, 16000)
    assert len(up) == 16000
    assert rms(from_samples(up, SLIN16K), SLIN16K) == pytest.approx(rms(from_samples(high, SLIN8K), SLIN8K), rel=0.02)
    assert peak_hz(up, 16000) == pytest.approx(3400, abs=2)  # and no image at 4600 Hz
    # 6 kHz cannot exist at 8 kHz: it must be filtered out, not folded back to 2 kHz.
    down = resample(tone(6000, 16000), 16000, 8000)
    assert len(down) == 8000
    assert dbfs(from_samples(down[200:-200], SLIN8K), SLIN8K) < -80  # away from the abrupt start and end


@pytest.mark.parametrize(("src", "dst"), [(22050, 8000), (24000, 8000), (44100, 16000), (48000, 8000), (8000, 48000)])
def test_resample_other_rates(src: int, dst: int) -> None:
    out = resample(tone(1000, src), src, dst)
    assert len(out) == dst
    assert peak_hz(out, dst) == pytest.approx(1000, abs=2)


def test_convert_channels() -> None:
    mono = tone(440, 8000, 100)
    stereo_fmt = AudioFormat("slin16", 8000, 2)
    stereo = convert(from_samples(mono, SLIN8K), SLIN8K, stereo_fmt)
    assert len(stereo) == 2 * len(mono) * 2
    assert np.array_equal(to_samples(stereo, stereo_fmt)[1::2], mono)
    assert to_samples(convert(stereo, stereo_fmt, SLIN8K), SLIN8K).tolist() == mono.tolist()


# --- streaming -----------------------------------------------------------------------------------------------------


def chunked(samples: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    out, pos, i = [], 0, 0
    while pos < len(samples):
        out.append(samples[pos : pos + sizes[i % len(sizes)]])
        pos += sizes[i % len(sizes)]
        i += 1
    return out


SPEECHY = (tone(440, 8000) + np.random.default_rng(7).normal(0, 800, 8000)).astype(np.int16)


def test_block_stream_resampler_matches_one_shot() -> None:
    stream = StreamResampler(8000, 16000, low_latency=False)
    pieces = [stream.process(c) for c in chunked(SPEECHY, [1, 17, 160, 333, 80])]
    out = np.concatenate([*pieces, stream.flush()])
    one_shot = resample(SPEECHY, 8000, 16000)
    assert len(out) == len(one_shot) == 16000
    assert np.max(np.abs(out.astype(np.int32) - one_shot)) <= 2


@pytest.mark.parametrize("low_latency", [True, False])
def test_stream_resampler_is_reusable_after_flush(low_latency: bool) -> None:
    stream = StreamResampler(8000, 16000, low_latency=low_latency)
    first = np.concatenate([stream.process(SPEECHY[:4000]), stream.flush()])
    second = np.concatenate([stream.process(SPEECHY[:4000]), stream.flush()])
    assert len(first) == 8000
    assert np.array_equal(first, second)  # a new signal starts from a clean filter


@pytest.mark.parametrize(("src", "dst"), [(8000, 16000), (16000, 8000), (22050, 8000), (48000, 16000)])
def test_low_latency_stream_is_independent_of_chunking(src: int, dst: int) -> None:
    signal = resample(SPEECHY, 8000, src)
    whole = StreamResampler(src, dst)
    reference = np.concatenate([whole.process(signal), whole.flush()])
    stream = StreamResampler(src, dst)
    out = np.concatenate([*(stream.process(c) for c in chunked(signal, [7, 160, 441, 1000, 3])), stream.flush()])
    assert len(out) == len(reference) == dst
    assert np.max(np.abs(out.astype(np.int32) - reference)) <= 2


def test_low_latency_stream_releases_every_frame_promptly() -> None:
    stream = StreamResampler(8000, 16000)
    signal = np.concatenate([np.zeros(1600, dtype=np.int16), tone(440, 8000, 500)])
    sizes = [len(stream.process(frame)) for frame in chunked(signal, [160])]
    assert all(n == 320 for n in sizes[2:])  # a steady 20 ms out for every 20 ms in, not bursts
    fresh = StreamResampler(8000, 16000)
    y = np.concatenate([fresh.process(f) for f in chunked(signal, [160])])
    onset = int(np.argmax(np.abs(y) > 2000))
    assert 3200 <= onset <= 3200 + 16000 * 25 // 1000  # the tone comes out less than 25 ms late


def second_difference_peak(y: np.ndarray) -> float:
    return float(np.max(np.abs(np.diff(y.astype(np.float64), 2))))


def test_stream_resampler_has_no_clicks_at_chunk_borders() -> None:
    signal = tone(440, 8000, 1000, amplitude=10000)
    stream = StreamResampler(8000, 16000)
    smooth = np.concatenate([stream.process(c) for c in chunked(signal, [160])])[800:]
    # a 440 Hz sine at 16 kHz of amplitude 10000 bends by at most A·(2πf/fs)² ≈ 30 per sample
    bound = 10000 * (2 * np.pi * 440 / 16000) ** 2 * 1.2 + 4
    assert second_difference_peak(smooth) <= bound
    # the same test catches what naive per-chunk resampling does
    naive = np.concatenate([resample(c, 8000, 16000) for c in chunked(signal, [160])])[800:]
    assert second_difference_peak(naive) > 3 * bound


def test_stream_converter_accepts_any_chunking() -> None:
    ulaw = convert(from_samples(SPEECHY, SLIN8K), SLIN8K, ULAW8K)
    whole = StreamConverter(ULAW8K, SLIN16K)
    reference = whole.convert(ulaw) + whole.flush()
    conv = StreamConverter(ULAW8K, SLIN16K)
    out = (
        b"".join(conv.convert(bytes(c)) for c in chunked(np.frombuffer(ulaw, np.uint8), [1, 13, 160, 99]))
        + conv.flush()
    )
    assert len(out) == len(reference) == 32000
    diff = to_samples(out, SLIN16K).astype(np.int32) - to_samples(reference, SLIN16K)
    assert np.max(np.abs(diff)) <= 2
    # half samples of slin16 are kept until their other byte comes
    down = StreamConverter(SLIN8K, ULAW8K)
    slin = from_samples(SPEECHY[:400], SLIN8K)
    coded = b"".join(down.convert(slin[i : i + 3]) for i in range(0, len(slin), 3)) + down.flush()
    assert coded == convert(slin, SLIN8K, ULAW8K)


# --- framing -------------------------------------------------------------------------------------------------------


def test_framer_cuts_odd_chunks_into_exact_frames() -> None:
    data = bytes(np.random.default_rng(3).integers(0, 256, 5000, dtype=np.uint8))
    framer = Framer(SLIN8K)
    frames: list[bytes] = []
    pos = 0
    for size in [1, 7, 333, 319, 1, 1000, 3339]:
        frames += framer.push(data[pos : pos + size])
        pos += size
    assert pos == len(data)
    assert len(frames) == 5000 // 320 == 15
    assert all(len(f) == 320 for f in frames)
    assert b"".join(frames) == data[: 15 * 320]
    assert framer.pending == 5000 - 15 * 320
    last = framer.flush()
    assert last == [data[15 * 320 :] + bytes(120)]
    assert framer.pending == 0 and framer.flush() == []


def test_framer_pads_with_the_silence_of_its_encoding() -> None:
    framer = Framer(ULAW8K, frame_ms=20)
    assert framer.push(b"\x10" * 150) == []
    assert framer.flush() == [b"\x10" * 150 + b"\xff" * 10]
    framer.push(b"\x10" * 150)
    assert framer.flush(pad=False) == []


# --- WAV and levels ------------------------------------------------------------------------------------------------


def test_wav_round_trip(tmp_path: Path) -> None:
    pcm = from_samples(tone(300, 16000, 250), SLIN16K)
    write_wav(tmp_path / "a.wav", pcm, SLIN16K)
    assert read_wav(tmp_path / "a.wav") == (pcm, SLIN16K)
    buffer = io.BytesIO()
    ulaw = convert(pcm, SLIN16K, AudioFormat("ulaw", 16000))
    write_wav(buffer, ulaw, AudioFormat("ulaw", 16000))
    buffer.seek(0)
    data, fmt = read_wav(buffer)
    assert fmt == SLIN16K
    assert data == convert(ulaw, AudioFormat("ulaw", 16000), SLIN16K)


def test_read_wav_rejects_8_bit(tmp_path: Path) -> None:
    with wave.open(str(tmp_path / "b.wav"), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(1)
        wav.setframerate(8000)
        wav.writeframes(b"\x80" * 100)
    with pytest.raises(ValueError, match="16-bit"):
        read_wav(str(tmp_path / "b.wav"))


def test_levels_and_duration() -> None:
    square = from_samples(np.array([32767, -32767] * 400, dtype=np.int16), SLIN8K)
    assert dbfs(square, SLIN8K) == pytest.approx(0.0, abs=0.01)
    half_sine = from_samples(tone(1000, 8000, amplitude=16384), SLIN8K)
    assert dbfs(half_sine, SLIN8K) == pytest.approx(-20 * math.log10(2 * math.sqrt(2)), abs=0.05)
    assert rms(half_sine, SLIN8K) == pytest.approx(16384 / math.sqrt(2), rel=0.001)
    assert dbfs(bytes(320), SLIN8K) == -math.inf
    assert dbfs(ULAW8K.silence(20), ULAW8K) == -math.inf
    assert rms(b"", SLIN8K) == 0.0
    assert duration_ms(bytes(480), SLIN8K) == 30
    assert duration_ms(bytes(480), ULAW8K) == 60

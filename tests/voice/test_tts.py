"""The espeak-ng synthesizer: real French speech, off the event loop, cached, serialized, interruptible."""

from __future__ import annotations

import asyncio
import itertools
import math
import sys
import tempfile
import threading
import time
from array import array
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from voice.tts import ESPEAK_SAMPLE_RATE, EspeakSynthesizer, Synthesizer, TtsError, TtsUnavailable, open_espeak_engine

SENTENCE = "Votre rendez-vous est confirmé pour mardi premier décembre à dix heures."  # 10 words


class Renders:
    """The injected hook: what the engine really synthesized, and on which thread."""

    def __init__(self, delay: float = 0.0) -> None:
        self.texts: list[str] = []
        self.threads: set[int] = set()
        self.delay = delay

    def __call__(self, text: str) -> None:
        self.texts.append(text)
        self.threads.add(threading.get_ident())
        if self.delay:
            time.sleep(self.delay)


@pytest.fixture
def renders() -> Renders:
    return Renders()


@pytest.fixture
async def make() -> AsyncIterator[Callable[..., EspeakSynthesizer]]:
    made: list[EspeakSynthesizer] = []

    def factory(**kwargs: object) -> EspeakSynthesizer:
        synth = EspeakSynthesizer(**kwargs)  # type: ignore[arg-type]
        made.append(synth)
        return synth

    yield factory
    for synth in made:
        synth.close()


async def collect(synth: Synthesizer, text: str) -> list[bytes]:
    return [chunk async for chunk in synth.synthesize(text)]


def rms(pcm: bytes) -> float:
    samples = array("h", pcm)
    return math.sqrt(sum(s * s for s in samples) / len(samples)) if samples else 0.0


def seconds(pcm: bytes, rate: int = ESPEAK_SAMPLE_RATE) -> float:
    return len(pcm) / 2 / rate


async def test_real_french_speech_is_loud_enough_and_plausibly_long(make: Callable[..., EspeakSynthesizer]) -> None:
    synth = make()
    assert synth.sample_rate == ESPEAK_SAMPLE_RATE
    pcm = b"".join(await collect(synth, SENTENCE))
    assert rms(pcm) > 500
    assert 1.0 < seconds(pcm) < 6.0


async def test_chunks_are_short_and_concatenate_to_the_whole(
        make: Callable[..., EspeakSynthesizer], renders: Renders) -> None:
    synth = make(chunk_ms=40, on_render=renders)
    chunks = await collect(synth, SENTENCE)
    size = ESPEAK_SAMPLE_RATE * 40 // 1000 * 2
    assert len(chunks) > 10
    assert all(len(c) == size for c in chunks[:-1])
    assert 0 < len(chunks[-1]) <= size and len(chunks[-1]) % 2 == 0
    whole = b"".join(await collect(synth, SENTENCE))  # served from the cache: the very audio that was chunked
    assert renders.texts == [SENTENCE]
    assert b"".join(chunks) == whole


async def test_second_call_is_served_from_the_cache(make: Callable[..., EspeakSynthesizer], renders: Renders) -> None:
    synth = make(on_render=renders)
    first = b"".join(await collect(synth, "Pouvez-vous répéter ?"))
    second = b"".join(await collect(synth, "Pouvez-vous répéter ?"))
    assert renders.texts == ["Pouvez-vous répéter ?"]
    assert second == first
    await collect(synth, "Au revoir.")
    assert len(renders.texts) == 2


async def test_cache_is_keyed_by_what_is_said(make: Callable[..., EspeakSynthesizer], renders: Renders) -> None:
    synth = make(on_render=renders)
    await collect(synth, "À 10 h 30.")
    assert [c async for c in synth.synthesize("À dix heures trente.", as_is=True)]
    assert renders.texts == ["À dix heures trente."]
    await collect(make(on_render=renders, rate=200), "À 10 h 30.")  # another rate: not the same audio
    assert len(renders.texts) == 2


async def test_cache_evicts_the_least_recently_used(make: Callable[..., EspeakSynthesizer], renders: Renders) -> None:
    synth = make(cache_size=2, on_render=renders)
    for text in ("Bonjour.", "Oui.", "Bonjour.", "Non.", "Bonjour.", "Oui."):
        await collect(synth, text)
    assert renders.texts == ["Bonjour.", "Oui.", "Non.", "Oui."]
    uncached_renders = Renders()
    uncached = make(cache_size=0, on_render=uncached_renders)
    await collect(uncached, "Oui.")
    await collect(uncached, "Oui.")
    assert uncached_renders.texts == ["Oui.", "Oui."]


async def test_speakable_applies_unless_told_not_to(make: Callable[..., EspeakSynthesizer], renders: Renders) -> None:
    synth = make(on_render=renders)
    await collect(synth, "Référence K7M4-QX9B à 9 h.")
    assert [c async for c in synth.synthesize("9 h", as_is=True)]
    assert renders.texts == ["Référence K comme Kléber, sept, M comme Marcel, quatre, Q comme Quintal, "
                             "X comme Xavier, neuf, B comme Berthe à neuf heures.", "9 h"]


async def test_empty_text_says_nothing(make: Callable[..., EspeakSynthesizer], renders: Renders) -> None:
    synth = make(on_render=renders)
    assert await collect(synth, "  \n 👍 https://example.fr ") == []
    assert renders.texts == []


async def test_concurrent_calls_all_complete_on_one_thread(
        make: Callable[..., EspeakSynthesizer], renders: Renders) -> None:
    synth = make(on_render=renders)
    texts = ["Oui.", SENTENCE, "Bonjour.", SENTENCE + " " + SENTENCE, "Au revoir, et bonne journée."]
    results = await asyncio.gather(*(collect(synth, t) for t in texts))
    durations = [seconds(b"".join(chunks)) for chunks in results]
    assert all(rms(b"".join(chunks)) > 500 for chunks in results)
    assert sorted(renders.texts) == sorted(texts)
    assert len(renders.threads) == 1 and threading.get_ident() not in renders.threads
    # Each caller got its own text's audio, not a neighbour's.
    assert durations[0] < durations[2] < durations[1] < durations[3]
    assert durations[3] > 1.6 * durations[1]


async def test_same_prompt_asked_concurrently_is_synthesized_once(
        make: Callable[..., EspeakSynthesizer], renders: Renders) -> None:
    synth = make(on_render=renders)
    results = await asyncio.gather(*(collect(synth, "Un instant, s'il vous plaît.") for _ in range(4)))
    assert renders.texts == ["Un instant, s'il vous plaît."]
    assert len({b"".join(r) for r in results}) == 1


async def test_event_loop_keeps_running_during_synthesis(make: Callable[..., EspeakSynthesizer]) -> None:
    synth = make(on_render=Renders(delay=0.3))  # a slow engine, to make any blocking of the loop obvious
    ticks: list[float] = []

    async def ticker() -> None:
        while True:
            ticks.append(time.perf_counter())
            await asyncio.sleep(0.005)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.02)
    started = time.perf_counter()
    pcm = b"".join(await collect(synth, SENTENCE))
    ended = time.perf_counter()
    task.cancel()
    during = [t for t in ticks if started <= t <= ended]
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert ended - started >= 0.3 and pcm
    assert len(during) >= 15
    assert max(gaps) < 0.15


async def test_barge_in_during_synthesis_still_fills_the_cache(
        make: Callable[..., EspeakSynthesizer]) -> None:
    renders = Renders(delay=0.1)
    synth = make(on_render=renders)
    task = asyncio.create_task(collect(synth, "Bonjour et bienvenue."))
    await asyncio.sleep(0.03)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.2)
    assert await collect(synth, "Bonjour et bienvenue.")
    assert renders.texts == ["Bonjour et bienvenue."]


async def test_playback_can_stop_after_the_first_chunk(make: Callable[..., EspeakSynthesizer]) -> None:
    synth = make(chunk_ms=20)
    stream = synth.synthesize(SENTENCE)
    assert isinstance(stream, AsyncGenerator)  # an async generator: it can be closed early
    first = await anext(stream)
    await stream.aclose()
    assert len(first) == ESPEAK_SAMPLE_RATE * 20 // 1000 * 2


async def test_rate_voice_and_sample_rate_are_applied(make: Callable[..., EspeakSynthesizer]) -> None:
    slow = b"".join(await collect(make(rate=120), SENTENCE))
    fast = b"".join(await collect(make(rate=300), SENTENCE))
    assert seconds(slow) > 1.8 * seconds(fast)
    female = b"".join(await collect(make(voice="fr+f3"), SENTENCE))
    belgian = b"".join(await collect(make(voice="fr-be"), SENTENCE))
    assert rms(female) > 500 and rms(belgian) > 500
    phone = make(sample_rate=8000)
    narrow = b"".join(await collect(phone, SENTENCE))
    wide = b"".join(await collect(make(), SENTENCE))
    assert phone.sample_rate == 8000
    assert seconds(narrow, 8000) == pytest.approx(seconds(wide), rel=0.05)
    assert rms(narrow) > 500


async def test_unknown_voice_is_a_clear_error(make: Callable[..., EspeakSynthesizer]) -> None:
    with pytest.raises(TtsError, match=r"« klingon » introuvable.*roa/fr"):
        await make(voice="klingon").warm_up()


async def test_warm_up_fills_the_cache(make: Callable[..., EspeakSynthesizer], renders: Renders) -> None:
    synth = make(on_render=renders)
    await synth.warm_up(["Pouvez-vous répéter ?", "Un instant."])
    assert len(renders.texts) == 2
    await collect(synth, "Pouvez-vous répéter ?")
    assert len(renders.texts) == 2


async def test_no_temporary_file_left_and_nothing_printed(
        make: Callable[..., EspeakSynthesizer], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capfd: pytest.CaptureFixture[str]) -> None:
    created: list[str] = []
    mkstemp = tempfile.mkstemp

    def recording_mkstemp(*args: Any, **kwargs: Any) -> tuple[int, str]:
        fd, path = mkstemp(*args, **{**kwargs, "dir": str(tmp_path)})
        created.append(path)
        return fd, path

    monkeypatch.setattr(tempfile, "mkstemp", recording_mkstemp)
    assert await collect(make(), "Merci de votre appel.")
    assert len(created) == 1  # the engine did write through a temporary file…
    assert leftovers(tmp_path) == []  # …which is gone
    assert "Audio saved" not in capfd.readouterr().out


def leftovers(folder: Path) -> list[Path]:
    return list(folder.iterdir())


def test_missing_engine_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyttsx3", None)
    with pytest.raises(TtsUnavailable, match=r"apt-get install espeak-ng libespeak-ng1"):
        open_espeak_engine()


@pytest.mark.parametrize("kwargs", [{"rate": 20}, {"volume": 1.5}, {"chunk_ms": 1000}, {"cache_size": -1}])
def test_bad_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        EspeakSynthesizer(**kwargs)  # type: ignore[arg-type]


def test_a_synthesis_left_by_a_closed_event_loop_does_not_hang_the_next_one() -> None:
    """One synthesizer serves several event loops in turn (a test run, a bench): a text whose synthesis was still
    under way when its loop closed is synthesized again for the next loop, never awaited on the dead one."""
    renders = Renders(delay=0.3)
    synth = EspeakSynthesizer(on_render=renders)
    try:
        left: list[asyncio.Future[list[bytes]]] = []

        async def start_and_leave() -> None:
            left.append(asyncio.ensure_future(collect(synth, "Très bien.")))
            await asyncio.sleep(0.05)  # the rendering is under way on the worker thread when this loop closes

        asyncio.run(start_and_leave())

        async def again() -> list[bytes]:
            return await asyncio.wait_for(collect(synth, "Très bien."), 10)

        assert b"".join(asyncio.run(again()))
        assert renders.texts[-1] == "Très bien."
    finally:
        synth.close()

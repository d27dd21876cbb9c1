"""``python -m bench.booking [--seconds S] [--only sqlite|postgres]``: figures of the booking backend.

Starts the real service (``python -m booking``) as a subprocess on SQLite, then on a fresh PostgreSQL database,
and measures over HTTP: availability queries/s, bookings/s (1, 10 and 50 concurrent clients, p50/p95 latency),
then 200 concurrent bookings of one slot, checked against the database. Prints a Markdown report.

Exit code: 0 (the targets are reported, not enforced); 1 if a double booking is found; 2 if a service could
not be started at all.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import platform
import socket
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import IO, Any
from zoneinfo import ZoneInfo

import aiohttp
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from bench.stats import percentile

DESCRIPTION = "Throughput, latency and double-booking check of the booking backend (SQLite, PostgreSQL)."
REPO_ROOT = Path(__file__).resolve().parents[1]
PARIS = ZoneInfo("Europe/Paris")  # the example town's time zone: "today" as the service sees it
CONCURRENCY = (1, 10, 50)
CONTENDERS = 200
QUERY_DAYS = 14
BOOKING_DAYS = 60
PAGE = 500
STARTUP_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
PG_ADMIN_URL = os.environ.get("GUICHET_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PERSON: dict[str, Any] = {"procedure": "passport", "people": 1, "name": "Bench Test", "phone": "06 12 34 56 78"}
QUERY_TARGET = 1000.0  # availability queries/s on PostgreSQL (best concurrency level)
BOOKING_TARGET = 200.0  # bookings/s on PostgreSQL (best concurrency level)
P95_TARGET_MS = 50.0  # at 10 clients


class ServiceFailed(RuntimeError):
    """The booking service did not start (or died); the message holds the end of its log."""


# --- figures ----------------------------------------------------------------------------------------------------
@dataclass
class Tally:
    """What one load phase saw; each client fills its own, merged afterwards."""

    ok: int = 0
    conflicts: int = 0
    other: Counter[int] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    exhausted: bool = False  # a booking client ran out of free slots before the deadline

    def record(self, status: int, ok_status: int, started: float) -> None:
        self.latencies_ms.append((time.perf_counter() - started) * 1000)
        if status == ok_status:
            self.ok += 1
        elif status == 409:
            self.conflicts += 1
        else:
            self.other[status] += 1


def merge(tallies: Sequence[Tally]) -> Tally:
    total = Tally()
    for one in tallies:
        total.ok += one.ok
        total.conflicts += one.conflicts
        total.other.update(one.other)
        total.latencies_ms.extend(one.latencies_ms)
        total.exhausted = total.exhausted or one.exhausted
    return total


@dataclass(frozen=True)
class Run:
    backend: str
    operation: str  # "slot queries" or "bookings"
    clients: int
    elapsed_s: float
    tally: Tally

    @property
    def rate(self) -> float:
        return self.tally.ok / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def p50(self) -> float:
        return percentile(self.tally.latencies_ms, 50)

    @property
    def p95(self) -> float:
        return percentile(self.tally.latencies_ms, 95)


@dataclass(frozen=True)
class Contention:
    backend: str
    slot_id: str
    capacity: int
    tally: Tally
    booked_at_slot: int  # booked appointments in the database at that start time
    counter_duplicates: int  # whole database: extra booked appointments on one counter at one start
    over_capacity: int  # whole database: booked appointments beyond the counters of a start time
    created_total: int  # 201s received by the whole benchmark on this backend
    booked_total: int  # booked appointments in the database

    @property
    def double_bookings(self) -> int:
        return max(self.counter_duplicates, self.over_capacity, self.booked_at_slot - self.capacity,
                   self.tally.ok - self.capacity, 0)


@dataclass
class BackendReport:
    name: str
    runs: list[Run] = field(default_factory=list)
    contention: Contention | None = None
    problem: str | None = None  # why this backend was skipped or stopped


# --- the service under test -------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def service_env(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(GUICHET_DATA_DIR=str(data_dir), GUICHET_LOG_LEVEL="WARNING")
    return env


def log_tail(path: Path, lines: int = 15) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]) or "(empty log)"


def open_log(path: Path) -> IO[bytes]:
    return path.open("wb")


@contextlib.asynccontextmanager
async def running_service(database_url: str, work_dir: Path) -> AsyncIterator[str]:
    """Start ``python -m booking`` on a free port, yield its base URL once healthy, stop it cleanly."""
    port = free_port()
    log_path = work_dir / f"service-{port}.log"
    with open_log(log_path) as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "booking", "--host", "127.0.0.1", "--port", str(port), "--database", database_url,
            cwd=REPO_ROOT, env=service_env(work_dir / "data"), stdout=log, stderr=asyncio.subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_healthy(base, process, log_path)
        yield base
    finally:
        await stop(process)


async def wait_healthy(base: str, process: asyncio.subprocess.Process, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                raise ServiceFailed(f"exited with code {process.returncode}:\n{log_tail(log_path)}")
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(f"{base}/health") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise ServiceFailed(f"no healthy /health within {STARTUP_TIMEOUT_S:.0f} s:\n{log_tail(log_path)}")


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
    except TimeoutError:
        process.kill()
        await process.wait()


# --- PostgreSQL database of the run -----------------------------------------------------------------------------
def database_url(admin_url: str, name: str) -> str:
    return admin_url.rsplit("/", 1)[0] + "/" + name


def sqlalchemy_url(url: str) -> str:
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url.removeprefix("sqlite:///")
    return "postgresql+asyncpg://" + url.split("://", 1)[1]


async def admin_execute(admin_url: str, sql: str) -> None:
    """One statement outside a transaction (CREATE/DROP DATABASE), through SQLAlchemy's asyncpg driver."""
    engine = create_async_engine(sqlalchemy_url(admin_url), poolclass=NullPool, isolation_level="AUTOCOMMIT",
                                 connect_args={"timeout": 5})
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def postgres_database(admin_url: str) -> AsyncIterator[str]:
    """A fresh database ``guichet_bench_<pid>``, dropped at the end; ``OSError``/``DBAPIError`` if unreachable."""
    name = f"guichet_bench_{os.getpid()}"
    await admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin_execute(admin_url, f'CREATE DATABASE "{name}"')
    try:
        yield database_url(admin_url, name)
    finally:
        await admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- HTTP helpers -----------------------------------------------------------------------------------------------
def today() -> date:
    return datetime.now(PARIS).date()


def slot_params(first: date, last: date, limit: int) -> dict[str, str]:
    return {"procedure": "passport", "people": "1", "from": first.isoformat(), "to": last.isoformat(),
            "limit": str(limit)}


async def get_json(session: aiohttp.ClientSession, url: str, params: dict[str, str] | None = None) -> Any:
    async with session.get(url, params=params) as response:
        if response.status != 200:
            raise ServiceFailed(f"GET {url} answered {response.status}: {(await response.text())[:300]}")
        return await response.json()


async def capacity(session: aiohttp.ClientSession, base: str) -> int:
    """Counters of the first meeting point: how many people one start time can take."""
    body = await get_json(session, f"{base}/api/v1/meeting-points")
    return int(body["meeting_points"][0]["counters"])


async def free_slots(session: aiohttp.ClientSession, base: str, first: date, last: date) -> list[dict[str, Any]]:
    """Every free slot between ``first`` and ``last`` (pages of 500, the API maximum), in time order."""
    found: dict[str, dict[str, Any]] = {}
    cursor = first
    while cursor <= last:
        body = await get_json(session, f"{base}/api/v1/slots", slot_params(cursor, last, PAGE))
        page: list[dict[str, Any]] = body["slots"]
        found.update((slot["id"], slot) for slot in page)
        if len(page) < PAGE:
            break
        next_day = date.fromisoformat(page[-1]["start"][:10])  # that day again: partly listed
        cursor = next_day if next_day > cursor else cursor + timedelta(days=1)
    return sorted(found.values(), key=lambda slot: str(slot["start"]))


# --- load phases ------------------------------------------------------------------------------------------------
async def query_client(session: aiohttp.ClientSession, url: str, params: dict[str, str], deadline: float) -> Tally:
    tally = Tally()
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        async with session.get(url, params=params) as response:
            await response.read()
            tally.record(response.status, 200, started)
    return tally


async def measure_queries(session: aiohttp.ClientSession, base: str, backend: str, clients: int,
                          seconds: float) -> Run:
    first = today()
    params = slot_params(first, first + timedelta(days=QUERY_DAYS - 1), 20)
    started = time.perf_counter()
    tallies = await asyncio.gather(*(query_client(session, f"{base}/api/v1/slots", params, started + seconds)
                                     for _ in range(clients)))
    return Run(backend, "slot queries", clients, time.perf_counter() - started, merge(tallies))


async def post_booking(session: aiohttp.ClientSession, base: str, slot_id: str, tally: Tally) -> None:
    started = time.perf_counter()
    async with session.post(f"{base}/api/v1/appointments", json={"slot_id": slot_id, **PERSON}) as response:
        await response.read()
        tally.record(response.status, 201, started)


async def booking_client(session: aiohttp.ClientSession, base: str, work: Sequence[str], deadline: float) -> Tally:
    tally = Tally()
    for slot_id in work:
        if time.perf_counter() >= deadline:
            return tally
        await post_booking(session, base, slot_id, tally)
    tally.exhausted = time.perf_counter() < deadline
    return tally


def deal(slots: Sequence[dict[str, Any]], clients: int) -> list[list[str]]:
    """Each slot goes to one client, once per free counter: clients never compete for a slot."""
    work: list[list[str]] = [[] for _ in range(clients)]
    for index, slot in enumerate(slots):
        work[index % clients].extend([str(slot["id"])] * int(slot["free_counters"]))
    return work


async def measure_bookings(session: aiohttp.ClientSession, base: str, backend: str, clients: int, seconds: float,
                           reserved: str) -> Run:
    first = today()
    slots = [s for s in await free_slots(session, base, first, first + timedelta(days=BOOKING_DAYS))
             if s["id"] != reserved]
    started = time.perf_counter()
    tallies = await asyncio.gather(*(booking_client(session, base, work, started + seconds)
                                     for work in deal(slots, clients)))
    return Run(backend, "bookings", clients, time.perf_counter() - started, merge(tallies))


async def contend(session: aiohttp.ClientSession, base: str, slot_id: str) -> Tally:
    """``CONTENDERS`` bookings of one slot at once (the connector lets them all be in flight together)."""
    tallies = [Tally() for _ in range(CONTENDERS)]
    await asyncio.gather(*(post_booking(session, base, slot_id, tally) for tally in tallies))
    return merge(tallies)


# --- database checks --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DbCounts:
    booked_at_slot: int
    counter_duplicates: int
    over_capacity: int
    booked_total: int


_BOOKED_AT = "SELECT count(*) FROM appointments WHERE start_at = :start AND status = 'booked'"
_COUNTER_DUPLICATES = """SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM appointments
    WHERE status = 'booked' GROUP BY meeting_point_id, counter_id, start_at HAVING count(*) > 1) AS d"""
_OVER_CAPACITY = """SELECT coalesce(sum(n - :capacity), 0) FROM (SELECT count(*) AS n FROM appointments
    WHERE status = 'booked' GROUP BY meeting_point_id, start_at HAVING count(*) > :capacity) AS d"""
_BOOKED_TOTAL = "SELECT count(*) FROM appointments WHERE status = 'booked'"


async def count_in_database(url: str, start_epoch: int, slot_capacity: int) -> DbCounts:
    """Read the ``appointments`` table directly (not through the service) to verify what was answered."""
    engine = create_async_engine(sqlalchemy_url(url), poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            async def scalar(sql: str, **params: int) -> int:
                return int((await conn.execute(text(sql), params)).scalar_one())

            return DbCounts(booked_at_slot=await scalar(_BOOKED_AT, start=start_epoch),
                            counter_duplicates=await scalar(_COUNTER_DUPLICATES),
                            over_capacity=await scalar(_OVER_CAPACITY, capacity=slot_capacity),
                            booked_total=await scalar(_BOOKED_TOTAL))
    finally:
        await engine.dispose()


# --- one backend ------------------------------------------------------------------------------------------------
async def measure_backend(report: BackendReport, url: str, work_dir: Path, seconds: float) -> None:
    async with running_service(url, work_dir) as base:
        connector = aiohttp.TCPConnector(limit=max(CONTENDERS, *CONCURRENCY))
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
            first = today()
            await get_json(session, f"{base}/api/v1/slots", slot_params(first, first + timedelta(days=13), 20))
            for clients in CONCURRENCY:
                report.runs.append(await measure_queries(session, base, report.name, clients, seconds))
            slot_capacity = await capacity(session, base)
            pool = await free_slots(session, base, first, first + timedelta(days=BOOKING_DAYS))
            fresh = [s for s in pool if int(s["free_counters"]) == slot_capacity]
            if not fresh:
                raise ServiceFailed("no free slot in the next 60 days: nothing to book")
            reserved = fresh[-1]  # kept untouched for the contention test
            for clients in CONCURRENCY:
                report.runs.append(await measure_bookings(session, base, report.name, clients, seconds,
                                                          str(reserved["id"])))
            tally = await contend(session, base, str(reserved["id"]))
        start_epoch = int(datetime.fromisoformat(str(reserved["start"])).timestamp())
        counts = await count_in_database(url, start_epoch, slot_capacity)
    created = sum(r.tally.ok for r in report.runs if r.operation == "bookings") + tally.ok
    report.contention = Contention(report.name, str(reserved["id"]), slot_capacity, tally, counts.booked_at_slot,
                                   counts.counter_duplicates, counts.over_capacity, created, counts.booked_total)


async def run_backend(name: str, url: str, work_dir: Path, seconds: float) -> BackendReport:
    report = BackendReport(name)
    print(f"… {name}: measuring ({url.split('@')[-1]})", file=sys.stderr, flush=True)
    try:
        await measure_backend(report, url, work_dir, seconds)
    except (ServiceFailed, aiohttp.ClientError, TimeoutError) as exc:
        report.problem = f"service failed: {type(exc).__name__}: {exc}"
    return report


async def run_postgres(work_dir: Path, seconds: float) -> BackendReport:
    async with contextlib.AsyncExitStack() as stack:
        try:
            url = await stack.enter_async_context(postgres_database(PG_ADMIN_URL))
        except (OSError, DBAPIError, TimeoutError) as exc:
            where, why = PG_ADMIN_URL.split("@")[-1], (str(exc).splitlines() or [type(exc).__name__])[0]
            print(f"PostgreSQL unreachable at {where} ({why}): PostgreSQL rows skipped", file=sys.stderr)
            return BackendReport("PostgreSQL", problem=f"unreachable at {where} ({why}): rows skipped")
        return await run_backend("PostgreSQL", url, work_dir, seconds)


async def run_all(options: argparse.Namespace, work_dir: Path) -> list[BackendReport]:
    reports: list[BackendReport] = []
    if options.only in (None, "sqlite"):
        sqlite_dir = work_dir / "sqlite"
        sqlite_dir.mkdir()
        reports.append(await run_backend("SQLite", f"sqlite:///{sqlite_dir / 'booking.db'}", sqlite_dir,
                                         options.seconds))
    if options.only in (None, "postgres"):
        postgres_dir = work_dir / "postgres"
        postgres_dir.mkdir()
        reports.append(await run_postgres(postgres_dir, options.seconds))
    return reports


# --- report -----------------------------------------------------------------------------------------------------
def ms(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.1f}"


def others(tally: Tally) -> str:
    return ", ".join(f"{n}×{status}" for status, n in sorted(tally.other.items())) or "0"


def runs_table(reports: Sequence[BackendReport]) -> list[str]:
    lines = ["| backend | operation | clients | per second | p50 ms | p95 ms | ok | 409 | other |",
             "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for run in (r for report in reports for r in report.runs):
        note = " (free slots ran out)" if run.tally.exhausted else ""
        lines.append(f"| {run.backend} | {run.operation}{note} | {run.clients} | {run.rate:.0f} | {ms(run.p50)} "
                     f"| {ms(run.p95)} | {run.tally.ok} | {run.tally.conflicts} | {others(run.tally)} |")
    return lines


def contention_table(reports: Sequence[BackendReport]) -> list[str]:
    lines = [f"| backend | same slot, {CONTENDERS} concurrent POSTs | 201 | 409 | other | booked in DB at slot "
             "| 201s / booked rows (whole run) | double bookings |",
             "|---|---|---:|---:|---|---:|---|---:|"]
    for c in (report.contention for report in reports if report.contention):
        lines.append(f"| {c.backend} | {c.slot_id} (capacity {c.capacity}) | {c.tally.ok} | {c.tally.conflicts} "
                     f"| {others(c.tally)} | {c.booked_at_slot} | {c.created_total} / {c.booked_total} "
                     f"| {c.double_bookings} |")
    return lines


def mark(met: bool | None) -> str:
    return "–" if met is None else ("✓" if met else "✗")


def best(runs: Sequence[Run], operation: str) -> Run | None:
    chosen = [r for r in runs if r.operation == operation]
    return max(chosen, key=lambda r: r.rate) if chosen else None


def target_lines(reports: Sequence[BackendReport]) -> list[str]:
    postgres = next((r for r in reports if r.name == "PostgreSQL" and r.runs), None)
    lines: list[str] = []
    for operation, goal in (("slot queries", QUERY_TARGET), ("bookings", BOOKING_TARGET)):
        top = best(postgres.runs, operation) if postgres else None
        figure = f"best {top.rate:.0f}/s at {top.clients} clients" if top else "not measured"
        lines.append(f"- {mark(top.rate >= goal if top else None)} PostgreSQL {operation} ≥ {goal:.0f}/s: {figure}")
    for report in reports:
        for run in (r for r in report.runs if r.clients == 10):
            lines.append(f"- {mark(run.p95 < P95_TARGET_MS)} {report.name} {run.operation} p95 < "
                         f"{P95_TARGET_MS:.0f} ms at 10 clients: {ms(run.p95)} ms")
    checked = [r.contention for r in reports if r.contention]
    doubles = sum(c.double_bookings for c in checked)
    lines.append(f"- {mark(doubles == 0 if checked else None)} zero double bookings: double bookings: {doubles}"
                 + ("" if checked else " (not checked)"))
    return lines


def header(seconds: float) -> str:
    return (f"## Booking backend benchmark — {datetime.now().astimezone():%Y-%m-%d %H:%M %Z}, "
            f"{os.cpu_count()} CPUs ({platform.machine()}), Python {platform.python_version()}, "
            f"{seconds:g} s per run; load generator and service share the machine")


def render(reports: Sequence[BackendReport], seconds: float) -> str:
    parts = [header(seconds), "", *runs_table(reports), "", *contention_table(reports), ""]
    problems = [f"> {r.name}: {r.problem}".replace("\n", "\n> ") for r in reports if r.problem]
    parts += [*problems, ""] if problems else []
    parts += ["### Targets", *target_lines(reports)]
    return "\n".join(parts)


def exit_code(reports: Sequence[BackendReport]) -> int:
    if any(r.contention and r.contention.double_bookings for r in reports):
        return 1
    if any(r.problem and r.problem.startswith("service failed") for r in reports):
        return 2
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.booking", description=DESCRIPTION)
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each load phase (default 3)")
    parser.add_argument("--only", choices=("sqlite", "postgres"), help="measure one backend only")
    options = parser.parse_args(argv)
    if options.seconds <= 0:
        parser.error("--seconds must be positive")
    return options


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    with TemporaryDirectory(prefix=f"guichet-bench-{uuid.uuid4().hex[:6]}-") as tmp:
        reports = asyncio.run(run_all(options, Path(tmp)))
    print(render(reports, options.seconds))
    return exit_code(reports)


if __name__ == "__main__":
    sys.exit(main())

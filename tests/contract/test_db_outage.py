"""The database goes away or is locked: the backend answers 503 (never 500), the client retries only what is
safe, and a retried booking never books twice.

Real parts: the booking app on a real PostgreSQL database reached through a TCP proxy the test cuts (a network
outage without stopping the shared server), the real HTTP client, and a real SQLite file locked by another
connection.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select

from actions.booking_client import Booked, BookingUnavailable, HttpBookingClient
from booking.app import create_app
from booking.settings import BookingSettings
from booking.store import tables as t
from booking.store.base import BookResult
from booking.store.postgres import PostgresStore
from booking.store.sql import SqlStore
from booking.store.sqlite import SqliteStore
from guichet.clock import FrozenClock
from tests.contract.conftest import booking_body, first_slot

CONNECT_TIMEOUT_S = 1.0
UNAVAILABLE = "Le service de rendez-vous est momentanément indisponible : réessayez dans quelques secondes."


class TcpProxy:
    """Pipes bytes between local clients and an upstream server. ``cut()`` stops listening (new connections are
    refused) and aborts every open one; ``restore()`` listens again on the same port, ``restore(silent=True)``
    accepts connections but never forwards a byte (a black hole)."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._pipes: set[asyncio.Task[None]] = set()
        self._silent = False

    async def restore(self, *, silent: bool = False) -> None:
        if self._server is not None:
            return
        self._silent = silent
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    def sever(self) -> None:
        """Cut at once, without yielding to the event loop."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._open):
            writer.transport.abort()

    async def cut(self) -> None:
        self.sever()
        if self._pipes:
            await asyncio.wait(self._pipes)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._silent:
            self._open.add(writer)  # kept open, unanswered, until the next cut
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.transport.abort()
            return
        self._open |= {writer, up_writer}
        pipes = [asyncio.create_task(_pipe(reader, up_writer)), asyncio.create_task(_pipe(up_reader, writer))]
        self._pipes.update(pipes)
        try:
            await asyncio.wait(pipes)
        finally:
            self._pipes.difference_update(pipes)
            self._open -= {writer, up_writer}


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.transport.abort()


class ObservedStore(PostgresStore):
    """The real PostgreSQL store, with a hook run right after a booking committed, and a signal once the
    start-up retention purge is over (so that it cannot fall into an outage the test provokes)."""

    def __init__(self, url: str) -> None:
        super().__init__(url, pool_size=2, max_overflow=2, connect_timeout_s=CONNECT_TIMEOUT_S)
        self.after_commit: Callable[[], Awaitable[None]] | None = None
        self.committed: list[str] = []  # references of new (not replayed) bookings
        self.purged = asyncio.Event()

    async def book(self, *args: Any, **kwargs: Any) -> BookResult:
        result = await super().book(*args, **kwargs)
        if not result.replayed:
            self.committed.append(result.appointment.reference)
        hook, self.after_commit = self.after_commit, None
        if hook is not None:
            await hook()
        return result

    async def anonymize(self, *args: Any, **kwargs: Any) -> int:
        count = await super().anonymize(*args, **kwargs)
        self.purged.set()
        return count


def _through(dsn: str, port: int) -> str:
    """The same database URL, via the proxy on ``port``."""
    parts = urlsplit(dsn)
    user = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{port}"))


@pytest.fixture
async def pg_proxy(pg_database: str) -> AsyncIterator[TcpProxy]:
    real = urlsplit(pg_database)
    proxy = TcpProxy(real.hostname or "127.0.0.1", real.port or 5432)
    await proxy.restore()
    yield proxy
    await proxy.cut()


@pytest.fixture
async def pg_store(pg_database: str, pg_proxy: TcpProxy) -> AsyncIterator[ObservedStore]:
    store = ObservedStore(_through(pg_database, pg_proxy.port))
    await store.migrate()
    async with store.write_engine.begin() as conn:
        await conn.exec_driver_sql("TRUNCATE appointments, claims, application_ids, idempotency_keys, closures")
    yield store
    await pg_proxy.restore()  # a test may end with the database cut
    await store.close()


@pytest.fixture
async def api(aiohttp_client: Any, pg_store: ObservedStore, clock: FrozenClock,
              settings: BookingSettings) -> TestClient:
    client: TestClient = await aiohttp_client(create_app(settings, clock=clock, store=pg_store))
    await asyncio.wait_for(pg_store.purged.wait(), 5)
    return client


class Sleeps:
    """An injected ``sleep`` that records each wait; really waits only when ``real``."""

    def __init__(self, *, real: bool) -> None:
        self.real = real
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        if self.real:
            await asyncio.sleep(delay)


def _booking_client(api: TestClient, sleeps: Sleeps) -> HttpBookingClient:
    return HttpBookingClient(str(api.make_url("")).rstrip("/"), timeout_s=5, sleep=sleeps)


async def _book(booking: HttpBookingClient, slot_id: str, key: str) -> Booked:
    return await booking.book(slot_id, procedure="passport", people=1, name="Marie Dupont", phone="06 12 34 56 78",
                              application_ids=[], channel="voice", idempotency_key=key)


async def _appointments(store: SqlStore) -> int:
    async with store.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(t.appointments))).scalar_one())


def _assert_one_quiet_warning_per_failure(caplog: pytest.LogCaptureFixture, failures: int) -> None:
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR], "no traceback, no error"
    warnings = [r.getMessage() for r in caplog.records if r.name == "booking.http"]
    assert len(warnings) == failures and all(r.startswith("database unavailable on ") for r in warnings), warnings


async def _assert_unavailable(response: Any) -> None:
    assert response.status == 503, await response.text()
    assert response.headers["Retry-After"] == "2"
    assert (await response.json())["error"] == {"code": "storage_unavailable", "message": UNAVAILABLE}


# --- PostgreSQL behind a proxy ---------------------------------------------------------------------------------

@pytest.mark.postgres
async def test_while_the_database_is_cut_every_endpoint_answers_503_then_recovers(
        api: TestClient, pg_store: ObservedStore, pg_proxy: TcpProxy, caplog: pytest.LogCaptureFixture) -> None:
    slot = await first_slot(api)
    booked = await api.post("/api/v1/appointments", json=booking_body(slot["id"]))
    reference = (await booked.json())["reference"]
    await pg_proxy.cut()
    caplog.clear()
    await _assert_unavailable(await api.get("/api/v1/slots", params={"procedure": "passport", "from": "2026-12-01",
                                                                      "to": "2026-12-01"}))
    await _assert_unavailable(await api.post("/api/v1/appointments", json=booking_body(slot["id"]),
                                             headers={"Idempotency-Key": "outage-1"}))
    await _assert_unavailable(await api.get(f"/api/v1/appointments/{reference}",
                                            params={"phone": "06 12 34 56 78"}))
    await _assert_unavailable(await api.post(f"/api/v1/appointments/{reference}/cancel",
                                             json={"phone": "06 12 34 56 78"}))
    _assert_one_quiet_warning_per_failure(caplog, 4)
    ours = [r.getMessage() for r in caplog.records if r.name != "aiohttp.access"]  # the test server's access log
    assert not any(reference in line or "78" in line for line in ours), ours  # neither reference nor phone

    await pg_proxy.restore()  # the pool drops its dead connections by itself (pre-ping): no restart needed
    assert (await api.get(f"/api/v1/appointments/{reference}", params={"phone": "06 12 34 56 78"})).status == 200
    assert await _appointments(pg_store) == 1


@pytest.mark.postgres
async def test_a_brief_outage_is_bridged_by_the_client_retry_and_books_once(
        api: TestClient, pg_store: ObservedStore, pg_proxy: TcpProxy) -> None:
    slot = await first_slot(api)
    sleeps = Sleeps(real=True)
    booking = _booking_client(api, sleeps)
    await pg_proxy.cut()
    restore = asyncio.create_task(_after(0.5, pg_proxy.restore()))
    try:
        booked = await _book(booking, slot["id"], key="brief-outage")
    finally:
        await booking.close()
        await restore
    assert sleeps.delays == [1.0]  # the backend's Retry-After (2 s), capped for a caller on the line
    assert booked.status == "booked"
    assert await _appointments(pg_store) == 1


@pytest.mark.postgres
async def test_a_lost_answer_after_the_commit_is_replayed_not_booked_twice(
        api: TestClient, pg_store: ObservedStore) -> None:
    slot = await first_slot(api)
    assert api.server.host is not None and api.server.port is not None
    front = TcpProxy(api.server.host, api.server.port)  # between the action server and the backend
    await front.restore()
    sleeps = Sleeps(real=True)
    booking = HttpBookingClient(f"http://127.0.0.1:{front.port}", timeout_s=5, sleep=sleeps)
    restored: list[asyncio.Task[None]] = []

    async def lose_the_answer() -> None:  # the booking is committed; its answer never reaches the client
        front.sever()  # without awaiting: the test server cancels a handler whose client went away
        restored.append(asyncio.create_task(_after(0.1, front.restore())))

    pg_store.after_commit = lose_the_answer
    try:
        booked = await _book(booking, slot["id"], key="lost-answer")
    finally:
        await booking.close()
        await asyncio.gather(*restored)
        await front.cut()
    assert restored and sleeps.delays == [0.25]  # retried once, with the same Idempotency-Key
    assert pg_store.committed == [booked.reference]  # the retry got the first booking back
    assert await _appointments(pg_store) == 1
    found = await api.get(f"/api/v1/appointments/{booked.reference}", params={"phone": "06 12 34 56 78"})
    assert found.status == 200


@pytest.mark.postgres
async def test_a_database_that_never_answers_is_a_quick_503(
        api: TestClient, pg_proxy: TcpProxy, caplog: pytest.LogCaptureFixture) -> None:
    """A black-holed database (half-open network, frozen host): the connect timeout ends the wait, not a hang."""
    await pg_proxy.cut()
    await pg_proxy.restore(silent=True)
    caplog.clear()
    started = time.monotonic()
    await _assert_unavailable(await api.get("/api/v1/slots", params={"procedure": "passport", "from": "2026-12-01",
                                                                      "to": "2026-12-01"}))
    assert time.monotonic() - started < CONNECT_TIMEOUT_S + 1
    assert [r.getMessage().endswith("TimeoutError (cannot reach the database)")
            for r in caplog.records if r.name == "booking.http"] == [True]
    await pg_proxy.cut()
    await pg_proxy.restore()
    assert (await api.get("/api/v1/slots", params={"procedure": "passport", "from": "2026-12-01",
                                                   "to": "2026-12-01"})).status == 200


async def _after(delay: float, action: Awaitable[None]) -> None:
    await asyncio.sleep(delay)
    await action


# --- the client's retry policy, against a tiny server that counts requests -------------------------------------

@pytest.fixture
async def flaky(aiohttp_server: Any) -> AsyncIterator[tuple[dict[str, int], HttpBookingClient, Sleeps]]:
    """A server that always answers 503 (Retry-After 30), a client whose sleeps are recorded, not waited."""
    counts: dict[str, int] = {}

    async def unavailable(request: web.Request) -> web.Response:
        key = f"{request.method} {request.path}"
        counts[key] = counts.get(key, 0) + 1
        status = 500 if request.path.endswith("/broken") else 503
        return web.json_response({"error": {"code": "storage_unavailable", "message": UNAVAILABLE}}, status=status,
                                 headers={"Retry-After": "30"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", unavailable)
    server = await aiohttp_server(app)
    sleeps = Sleeps(real=False)
    booking = HttpBookingClient(str(server.make_url("")).rstrip("/"), timeout_s=5, sleep=sleeps)
    yield counts, booking, sleeps
    await booking.close()


async def test_non_idempotent_writes_are_never_retried(
        flaky: tuple[dict[str, int], HttpBookingClient, Sleeps]) -> None:
    counts, booking, sleeps = flaky
    with pytest.raises(BookingUnavailable):
        await booking.cancel("K7M4QX9B", "06 12 34 56 78")
    with pytest.raises(BookingUnavailable):
        await booking.reschedule("K7M4QX9B", "06 12 34 56 78", "slot-1")
    assert counts == {"POST /api/v1/appointments/K7M4QX9B/cancel": 1,
                      "POST /api/v1/appointments/K7M4QX9B/reschedule": 1}
    assert sleeps.delays == []


async def test_reads_and_keyed_bookings_are_retried_three_times_with_a_capped_retry_after(
        flaky: tuple[dict[str, int], HttpBookingClient, Sleeps]) -> None:
    counts, booking, sleeps = flaky
    with pytest.raises(BookingUnavailable):
        await booking.list_slots("passport", 1, date(2026, 12, 1), date(2026, 12, 1))
    with pytest.raises(BookingUnavailable):
        await _book(booking, "slot-1", key="k1")
    with pytest.raises(BookingUnavailable):
        await booking.find("K7M4QX9B/broken", "06 12 34 56 78")  # a 500 is a bug: asking again won't help
    assert counts == {"GET /api/v1/slots": 3, "POST /api/v1/appointments": 3,
                      "GET /api/v1/appointments/K7M4QX9B/broken": 1}
    assert sleeps.delays == [1.0, 1.0, 1.0, 1.0]  # Retry-After 30 s capped at 1 s, twice per call


async def test_retries_stay_within_the_time_budget(aiohttp_server: Any) -> None:
    now = [0.0]
    attempts = 0

    async def slow_then_unavailable(request: web.Request) -> web.Response:
        nonlocal attempts
        attempts += 1
        now[0] += 4.5  # this attempt "took" 4.5 s of the 5 s budget
        return web.json_response({"error": {"code": "storage_unavailable", "message": UNAVAILABLE}}, status=503)

    app = web.Application()
    app.router.add_route("GET", "/api/v1/slots", slow_then_unavailable)
    server = await aiohttp_server(app)
    sleeps = Sleeps(real=False)
    booking = HttpBookingClient(str(server.make_url("")).rstrip("/"), timeout_s=5, sleep=sleeps,
                                monotonic=lambda: now[0])
    try:
        with pytest.raises(BookingUnavailable):
            await booking.list_slots("passport", 1, date(2026, 12, 1), date(2026, 12, 1))
    finally:
        await booking.close()
    assert attempts == 1 and sleeps.delays == []  # 0.5 s left: not enough for a wait and another attempt


# --- SQLite: a write lock held by another connection -------------------------------------------------------------

@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "booking.db"


async def _sqlite_api(aiohttp_client: Any, store: SqliteStore, clock: FrozenClock,
                      settings: BookingSettings) -> TestClient:
    await store.migrate()
    client: TestClient = await aiohttp_client(create_app(settings, clock=clock, store=store))
    return client


def _write_lock(path: Path) -> sqlite3.Connection:
    """Another connection (another process, say) holding the database's write lock."""
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")
    return locker


async def test_a_briefly_locked_sqlite_database_makes_a_booking_wait_not_fail(
        aiohttp_client: Any, db_path: Path, clock: FrozenClock, settings: BookingSettings) -> None:
    store = SqliteStore(db_path)  # the default 30 s busy timeout
    try:
        api = await _sqlite_api(aiohttp_client, store, clock, settings)
        slot = await first_slot(api)
        locker = _write_lock(db_path)
        asyncio.get_running_loop().call_later(1.0, locker.execute, "ROLLBACK")
        started = time.monotonic()
        response = await api.post("/api/v1/appointments", json=booking_body(slot["id"]))
        waited = time.monotonic() - started
        locker.close()
        assert response.status == 201, await response.text()
        assert 0.8 < waited < 5
        assert await _appointments(store) == 1
    finally:
        await store.close()


async def test_a_lock_held_past_the_busy_timeout_is_a_503_and_reads_go_on(
        aiohttp_client: Any, db_path: Path, clock: FrozenClock, settings: BookingSettings,
        caplog: pytest.LogCaptureFixture) -> None:
    store = SqliteStore(db_path, busy_timeout_s=0.5)
    try:
        api = await _sqlite_api(aiohttp_client, store, clock, settings)
        slot = await first_slot(api)
        locker = _write_lock(db_path)
        caplog.clear()
        try:
            await _assert_unavailable(await api.post("/api/v1/appointments", json=booking_body(slot["id"])))
            assert (await first_slot(api))["id"] == slot["id"]  # WAL: readers do not wait for the writer
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        _assert_one_quiet_warning_per_failure(caplog, 1)
        response = await api.post("/api/v1/appointments", json=booking_body(slot["id"]))
        assert response.status == 201, await response.text()
        assert await _appointments(store) == 1
    finally:
        await store.close()


async def test_a_genuine_database_bug_is_still_a_500(
        aiohttp_client: Any, db_path: Path, clock: FrozenClock, settings: BookingSettings,
        caplog: pytest.LogCaptureFixture) -> None:
    store = SqliteStore(db_path)
    try:
        api = await _sqlite_api(aiohttp_client, store, clock, settings)
        with sqlite3.connect(db_path) as broken:
            broken.execute("DROP TABLE claims")  # "no such table" is an OperationalError too, but not an outage
        response = await api.get("/api/v1/slots", params={"procedure": "passport", "from": "2026-12-01",
                                                          "to": "2026-12-01"})
        assert response.status == 500
        assert (await response.json())["error"]["code"] == "internal_error"
        assert [r.exc_info is not None for r in caplog.records if r.name == "booking.http"] == [True]
    finally:
        await store.close()

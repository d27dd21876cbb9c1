"""Shared fixtures: a frozen Paris clock, the example town, and stores on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import asyncpg
import pytest

from booking.store import open_store
from booking.store.postgres import PostgresStore
from booking.store.sql import SqlStore
from guichet.clock import PARIS, FrozenClock
from knowledge.loader import load_town
from knowledge.town import TownFile

# Run inside .venv-rasa by tests/integration/test_rasa_env_suite.py, not collected here.
collect_ignore = ["rasa_env"]
# Keeps every log line of the session for tests/test_log_privacy.py, which runs last.
pytest_plugins = ("tests.logscan",)

PG_ADMIN_URL = os.environ.get("GUICHET_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=PARIS)  # a Wednesday


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture(scope="session")
def town() -> TownFile:
    return load_town()


def _pg_dsn(database: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + database


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    name = f"guichet_test_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        try:
            conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
        except (OSError, asyncpg.PostgresError) as exc:
            pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL} ({exc}); start it "
                        f"(pg_ctlcluster <version> main start) or set GUICHET_TEST_PG_URL", pytrace=False)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    def run(sql: str) -> None:  # in a thread: the fixture may be first requested from inside an event loop
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, admin(sql)).result()

    run(f'CREATE DATABASE "{name}"')
    yield _pg_dsn(name)
    run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _truncate(url: str) -> None:
    from sqlalchemy import text

    store = PostgresStore(url)
    await store.migrate()
    async with store.engine.begin() as conn:
        await conn.execute(text("TRUNCATE appointments, claims, application_ids, idempotency_keys, closures"))
    await store.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same tests run on both databases; each test starts with an empty one."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'booking.db'}"
    url: str = request.getfixturevalue("pg_database")
    await _truncate(url)
    return url


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[SqlStore]:
    db = open_store(database_url)
    assert isinstance(db, SqlStore)
    await db.migrate()
    yield db
    await db.close()

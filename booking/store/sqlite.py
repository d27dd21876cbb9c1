"""SQLite implementation (the default, one file under ./data/)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Table, event
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from booking.store.sql import SqlStore


class SqliteStore(SqlStore):
    """WAL mode so readers never wait for a writer; write transactions start with ``BEGIN IMMEDIATE`` so
    concurrent writers queue on the database lock (busy timeout) instead of failing on a lock upgrade."""

    dialect = "sqlite"

    def __init__(self, path: Path, *, busy_timeout_s: float = 30.0) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(f"sqlite+aiosqlite:///{path}", connect_args={"timeout": busy_timeout_s},
                                     hide_parameters=True)  # no citizen data in error messages

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (SQLAlchemy's aiosqlite recipe)
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(conn: Any) -> None:
            mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
            conn.exec_driver_sql(f"BEGIN {mode}")

        super().__init__(engine, write_engine=engine.execution_options(sqlite_begin="IMMEDIATE"))
        # SQLite has one writer at a time anyway: queueing this process's writers here spares them the busy
        # handler's growing sleeps (latency tail). Correctness does not rest on it: other processes are
        # serialized by BEGIN IMMEDIATE and the claims primary key refuses any double booking.
        self._writer_turn = asyncio.Lock()

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        async with self._writer_turn, self.write_engine.begin() as conn:
            yield conn

    def insert_ignore(self, table: Table) -> Any:
        return sqlite_insert(table).on_conflict_do_nothing()

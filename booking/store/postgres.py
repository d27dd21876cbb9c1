"""PostgreSQL implementation (scaled set-ups: several backend replicas on one database)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from booking.store.sql import SqlStore

_MIGRATION_LOCK = 7_402_117  # arbitrary advisory-lock key for schema migrations


class PostgresStore(SqlStore):
    dialect = "postgresql"

    def __init__(self, url: str, *, pool_size: int = 10, max_overflow: int = 20,
                 connect_timeout_s: float = 5.0) -> None:
        # After a restart or a network cut the pooled connections are dead: ``pool_pre_ping`` replaces them at
        # checkout, so the store recovers by itself once the database is back. A short connect timeout (asyncpg
        # waits 60 s by default) turns an unreachable server into a quick 503 rather than requests piling up.
        # hide_parameters: a failed statement's error message never carries a citizen's data into a log.
        engine = create_async_engine(to_asyncpg_url(url), pool_size=pool_size, max_overflow=max_overflow,
                                     pool_pre_ping=True, connect_args={"timeout": connect_timeout_s},
                                     hide_parameters=True)
        # Reads are single statements: autocommit spares the BEGIN/ROLLBACK round trips around each one.
        super().__init__(engine.execution_options(isolation_level="AUTOCOMMIT"), write_engine=engine)

    def insert_ignore(self, table: Table) -> Any:
        return pg_insert(table).on_conflict_do_nothing()

    async def _lock_migrations(self, conn: AsyncConnection) -> None:
        await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})


def to_asyncpg_url(url: str) -> str:
    """``postgresql://…`` or ``postgres://…`` → the SQLAlchemy asyncpg form."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix):]
    raise ValueError(f"not a PostgreSQL URL: {url!r}")

"""Choose the store implementation from the database URL (called from the composition root)."""

from __future__ import annotations

from pathlib import Path

from booking.store.base import Store


def open_store(database_url: str) -> Store:
    """``sqlite:///path/file.db`` (default) or ``postgresql://user@host:port/db``."""
    if database_url.startswith("sqlite:///"):
        from booking.store.sqlite import SqliteStore

        return SqliteStore(Path(database_url.removeprefix("sqlite:///")))
    if database_url.startswith(("postgresql://", "postgres://", "postgresql+asyncpg://")):
        from booking.store.postgres import PostgresStore

        return PostgresStore(database_url)
    raise ValueError(
        f"URL de base de données non reconnue : {database_url!r} (attendu sqlite:///… ou postgresql://…)")

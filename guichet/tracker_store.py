"""Reading Rasa's SQL tracker store (its ``events`` table), read-only: the action server's metrics and the
desk's statistics page both count conversations, turns and hand-offs from it.

The store is the SQLite file of ``make run`` (``sqlite:///…``, absent until the first conversation) or the
PostgreSQL database of the scale-out mode.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

Row = Sequence[Any]


def sqlite_path(url: str) -> Path | None:
    return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None


def read_sqlite(path: Path, sql: str) -> list[Row]:
    """Rows of ``sql`` (blocking; none when the file does not exist yet)."""
    if not path.exists():
        return []
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
        return list(db.execute(sql).fetchall())


async def read_postgres(url: str, sql: str) -> list[Row]:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"), timeout=5)
    try:
        return [tuple(r) for r in await conn.fetch(sql)]
    finally:
        await conn.close()


def input_channel(data: str | None) -> str | None:
    """The channel a user event came through (``rest``, ``socketio``, ``voice``…), from its stored JSON."""
    try:
        name = json.loads(data or "{}").get("input_channel")
    except (ValueError, AttributeError):
        return None
    return name if isinstance(name, str) else None

"""Finding, reading and deleting conversations in Rasa's SQL tracker store (its ``events`` table), for the
citizens' rights and the retention purge (``python -m guichet.gdpr``, and daily from the desk process).

The store is the SQLite file of ``make run`` (``sqlite:///…``) or the PostgreSQL database of the scale-out mode
(``postgresql://…``). A conversation is all the events of one ``sender_id``; deleting it deletes them all, so Rasa
starts afresh if that sender ever writes again. A SQLite file that does not exist yet is never created here, and a
store without an ``events`` table (Rasa never started) simply holds nothing.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from guichet.tracker_store import Row, sqlite_path

_COLUMNS = "id, sender_id, type_name, timestamp, intent_name, action_name, data"
_BATCH = 2000
_CHUNK = 500  # sender ids per IN (…) list


@dataclass(frozen=True)
class Event:
    """One row of Rasa's ``events`` table, its ``data`` JSON decoded (``{}`` when absent or unreadable)."""

    id: int
    sender_id: str
    type_name: str
    timestamp: float
    intent_name: str | None
    action_name: str | None
    data: dict[str, Any]


def _event(row: Sequence[Any]) -> Event:
    try:
        data = json.loads(row[6] or "{}")
    except ValueError:
        data = {}
    return Event(int(row[0]), str(row[1]), str(row[2]), float(row[3] or 0.0), row[4], row[5],
                 data if isinstance(data, dict) else {})


def _numbered(sql: str) -> str:
    """``?`` placeholders (sqlite3) as ``$1, $2…`` (asyncpg)."""
    parts = sql.split("?")
    return "".join(f"{part}${i}" if i < len(parts) else part for i, part in enumerate(parts, start=1))


def _sqlite_run(path: Path, sql: str, args: Sequence[Any], write: bool) -> tuple[list[Row], int]:
    if not path.exists():
        return [], 0
    db = sqlite3.connect(f"file:{path}?mode={'rw' if write else 'ro'}", uri=True, timeout=30)
    try:
        with db:  # one transaction, committed on success
            if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'").fetchone() is None:
                return [], 0
            cursor = db.execute(sql, tuple(args))
            return list(cursor.fetchall()), cursor.rowcount
    finally:
        db.close()



class TrackerEvents:
    """The ``events`` table at ``url`` (SQLite or PostgreSQL); every call opens and closes its own connection."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._path = sqlite_path(url)

    async def _run(self, sql: str, args: Sequence[Any] = (), *, write: bool = False) -> tuple[list[Row], int]:
        """Rows and affected row count of one statement (``?`` placeholders)."""
        if self._path is not None:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(None, _sqlite_run, self._path, sql, args, write)
        return await self._postgres(_numbered(sql), args)

    async def _postgres(self, sql: str, args: Sequence[Any]) -> tuple[list[Row], int]:
        import asyncpg  # type: ignore[import-untyped]

        conn = await asyncpg.connect(self.url.replace("postgresql+asyncpg://", "postgresql://"), timeout=10)
        try:
            if await conn.fetchval("SELECT to_regclass('events')") is None:
                return [], 0
            if sql.lstrip().upper().startswith("SELECT"):
                return [tuple(r) for r in await conn.fetch(sql, *args)], 0
            status = await conn.execute(sql, *args)  # "DELETE 12"
            return [], int(status.rsplit(" ", 1)[-1])
        finally:
            await conn.close()

    async def scan(self, type_names: Sequence[str]) -> AsyncIterator[list[Event]]:
        """Every event of these types, in batches (the table can be large: never all of it in memory)."""
        kinds = ", ".join("?" for _ in type_names)
        last = -1
        while True:
            rows, _ = await self._run(f"SELECT {_COLUMNS} FROM events WHERE id > ? AND type_name IN ({kinds}) "
                                      f"ORDER BY id LIMIT {_BATCH}", (last, *type_names))
            if not rows:
                return
            batch = [_event(r) for r in rows]
            yield batch
            last = batch[-1].id

    async def senders(self, keep: Callable[[Event], bool], type_names: Sequence[str]) -> set[str]:
        """The conversations with at least one event of these types that ``keep`` accepts."""
        found: set[str] = set()
        async for batch in self.scan(type_names):
            found.update(e.sender_id for e in batch if e.sender_id not in found and keep(e))
        return found

    async def events_of(self, sender_ids: Sequence[str]) -> list[Event]:
        """All the events of these conversations, by conversation then in order."""
        events: list[Event] = []
        for chunk in _chunks(sorted(sender_ids)):
            marks = ", ".join("?" for _ in chunk)
            rows, _ = await self._run(f"SELECT {_COLUMNS} FROM events WHERE sender_id IN ({marks}) "
                                      "ORDER BY sender_id, id", chunk)
            events += [_event(r) for r in rows]
        return events

    async def delete(self, sender_ids: Sequence[str]) -> tuple[int, int]:
        """Delete these conversations (all their events): ``(conversations found, events deleted)``."""
        found = deleted = 0
        for chunk in _chunks(sorted(sender_ids)):
            marks = ", ".join("?" for _ in chunk)
            rows, _ = await self._run(f"SELECT DISTINCT sender_id FROM events WHERE sender_id IN ({marks})", chunk)
            _, count = await self._run(f"DELETE FROM events WHERE sender_id IN ({marks})", chunk, write=True)
            found, deleted = found + len(rows), deleted + count
        return found, deleted

    async def purge_idle(self, before: float) -> tuple[int, int]:
        """Delete the conversations whose last event is older than ``before`` (epoch seconds, Rasa's timestamps):
        ``(conversations, events)``. One statement: a conversation that just came back to life is kept."""
        idle = "SELECT sender_id FROM events GROUP BY sender_id HAVING MAX(timestamp) < ?"
        rows, _ = await self._run(idle, (before,))
        if not rows:
            return 0, 0
        _, count = await self._run(f"DELETE FROM events WHERE sender_id IN ({idle})", (before,), write=True)
        return len(rows), count


def _chunks(items: Sequence[str]) -> list[Sequence[str]]:
    return [items[i:i + _CHUNK] for i in range(0, len(items), _CHUNK)]

"""Hand-off tickets: what a human needs to call the citizen back, stored durably until the desk takes them.

The desk service (web/) receives hand-offs over HTTP (actions/desk_client.py); when it cannot be reached they are
rows in this SQLite outbox under the data folder (one table, written in a thread: the event loop never waits on the
disk), forwarded to the desk later and then marked ``forwarded``. Forwarded tickets are deleted once older than the
retention period (``purge_expired``, called by the forwarder at most once a day); a citizen's tickets can be listed
and deleted by ``python -m guichet.gdpr``.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from guichet.clock import Clock, SystemClock
from guichet.text import storable

DEFAULT_RETENTION_DAYS = 180  # GUICHET_RETENTION_DAYS's default (guichet/config.py)


@dataclass(frozen=True)
class Ticket:
    conversation_id: str
    channel: str
    reason: str
    created_at: datetime
    phone: str | None
    collected: dict[str, Any] = field(default_factory=dict)
    transcript: list[dict[str, str]] = field(default_factory=list)


class TicketStore(Protocol):
    async def create(self, ticket: Ticket) -> int: ...

    async def open_tickets(self) -> list[tuple[int, Ticket]]: ...

    async def forwarded(self, number: int) -> None: ...

    async def purge_expired(self) -> int: ...


@dataclass(frozen=True)
class StoredTicket:
    number: int
    status: str  # open, forwarded
    ticket: Ticket


_SCHEMA = """CREATE TABLE IF NOT EXISTS tickets (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_at TEXT NOT NULL,
    phone TEXT,
    collected TEXT NOT NULL,
    transcript TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open'
)"""


class SqliteTicketStore:
    def __init__(self, path: Path, *, retention_days: int = DEFAULT_RETENTION_DAYS,
                 clock: Clock | None = None) -> None:
        self.path = path
        self.retention_days = retention_days
        self.clock: Clock = clock or SystemClock()
        self._purged_at: datetime | None = None

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=10)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(_SCHEMA)
        return connection

    def _insert(self, ticket: Ticket) -> int:
        row = asdict(ticket)
        with self._connect() as connection:
            cursor = connection.execute(
                "INSERT INTO tickets (conversation_id, channel, reason, created_at, phone, collected, transcript)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (storable(ticket.conversation_id), storable(ticket.channel), storable(ticket.reason),
                 ticket.created_at.isoformat(), None if ticket.phone is None else storable(ticket.phone),
                 # ASCII JSON: whatever a citizen typed (lone surrogates included) is stored, never refused
                 json.dumps(row["collected"]), json.dumps(row["transcript"])))
            return int(cursor.lastrowid or 0)

    def _select(self) -> list[tuple[int, Ticket]]:
        with self._connect() as connection:
            rows = connection.execute(
                "SELECT id, conversation_id, channel, reason, created_at, phone, collected, transcript"
                " FROM tickets WHERE status = 'open' ORDER BY id").fetchall()
        return [(r[0], _ticket(r)) for r in rows]

    def _select_all(self) -> list[StoredTicket]:
        with self._connect() as connection:
            rows = connection.execute(
                "SELECT id, conversation_id, channel, reason, created_at, phone, collected, transcript, status"
                " FROM tickets ORDER BY id").fetchall()
        return [StoredTicket(r[0], r[8], _ticket(r)) for r in rows]

    def _delete(self, numbers: Sequence[int]) -> int:
        with self._connect() as connection:
            return sum(connection.execute("DELETE FROM tickets WHERE id = ?", (n,)).rowcount for n in numbers)

    def _forwarded_before(self, before: datetime) -> list[int]:
        with self._connect() as connection:
            rows = connection.execute("SELECT id, created_at FROM tickets WHERE status = 'forwarded'").fetchall()
        # ISO texts with different UTC offsets do not sort as times: compare parsed datetimes
        return [r[0] for r in rows if datetime.fromisoformat(r[1]) < before]

    def _mark(self, number: int) -> None:
        with self._connect() as connection:
            connection.execute("UPDATE tickets SET status = 'forwarded' WHERE id = ?", (number,))

    async def create(self, ticket: Ticket) -> int:
        return await asyncio.get_running_loop().run_in_executor(None, self._insert, ticket)

    async def open_tickets(self) -> list[tuple[int, Ticket]]:
        return await asyncio.get_running_loop().run_in_executor(None, self._select)

    async def forwarded(self, number: int) -> None:
        """The desk has this ticket now: it leaves the outbox."""
        await asyncio.get_running_loop().run_in_executor(None, self._mark, number)

    async def tickets(self) -> list[StoredTicket]:
        """Every ticket, open or forwarded (GDPR access and erasure)."""
        return await asyncio.get_running_loop().run_in_executor(None, self._select_all)

    async def delete(self, numbers: Sequence[int]) -> int:
        """Delete these tickets; how many there were."""
        return await asyncio.get_running_loop().run_in_executor(None, self._delete, list(numbers))

    async def purge_forwarded(self, before: datetime) -> int:
        """Delete the tickets already forwarded to the desk and created before ``before``; how many."""
        loop = asyncio.get_running_loop()
        numbers = await loop.run_in_executor(None, self._forwarded_before, before)
        return await self.delete(numbers) if numbers else 0

    async def purge_expired(self) -> int:
        """``purge_forwarded`` with the retention period, at most once a day per store (the forwarder calls it)."""
        now = self.clock.now()
        if self._purged_at is not None and now - self._purged_at < timedelta(days=1):
            return 0
        self._purged_at = now
        return await self.purge_forwarded(now - timedelta(days=self.retention_days))


def _ticket(row: Sequence[Any]) -> Ticket:
    return Ticket(row[1], row[2], row[3], datetime.fromisoformat(row[4]), row[5], json.loads(row[6]),
                  json.loads(row[7]))

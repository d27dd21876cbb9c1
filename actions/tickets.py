"""Hand-off tickets: what a human needs to call the citizen back, stored durably until the desk takes them.

The desk service (web/) receives hand-offs over HTTP (actions/desk_client.py); when it cannot be reached they are
rows in this SQLite outbox under the data folder (one table, written in a thread: the event loop never waits on the
disk), forwarded to the desk later and then marked ``forwarded``.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from guichet.text import storable


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
    def __init__(self, path: Path) -> None:
        self.path = path

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
        return [(r[0], Ticket(r[1], r[2], r[3], datetime.fromisoformat(r[4]), r[5], json.loads(r[6]),
                              json.loads(r[7]))) for r in rows]

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

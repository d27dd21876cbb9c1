"""Figures for the operators' statistics page: what was booked or cancelled, when, through which channel."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from booking.store import tables as t
from knowledge.calendar import epoch


class _Store(Protocol):
    engine: AsyncEngine


class Stats:
    """Mixed into the SQL store."""

    async def changes_since(self: _Store, moment: datetime) -> list[tuple[int, int, str, str]]:
        """``(created_at, updated_at, channel, status)`` of every appointment created or changed since ``moment``
        (epoch seconds)."""
        a = t.appointments.c
        since = epoch(moment)
        query = select(a.created_at, a.updated_at, a.channel, a.status).where(
            (a.created_at >= since) | (a.updated_at >= since))
        async with self.engine.connect() as conn:
            rows: Sequence[Any] = (await conn.execute(query)).all()
        return [(int(created), int(updated), str(channel), str(status)) for created, updated, channel, status in rows]

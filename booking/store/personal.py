"""Personal data in the booking database: a citizen's appointments by phone number (GDPR access), erasure, and
the retention purge. Erased appointments keep their time, counter and status (the day's statistics stay true) but
lose name, phone, e-mail and pré-demande numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Row, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from booking.domain import Appointment
from booking.store import tables as t
from booking.store.rows import to_appointment
from knowledge.calendar import epoch

ERASED_NAME = "(effacé)"
ERASED_PHONE = ""  # no valid phone number is empty: an erased appointment can no longer be found with one


class _Store(Protocol):
    engine: AsyncEngine

    def _write(self) -> AbstractAsyncContextManager[AsyncConnection]: ...


class PersonalData:
    """Mixed into the SQL store."""

    async def appointments_of(self: _Store, phone: str) -> list[Appointment]:
        a = t.appointments.c
        query = select(t.appointments).where(a.phone == phone).order_by(a.start_at)
        async with self.engine.connect() as conn:
            return [to_appointment(row) for row in await conn.execute(query)]

    async def anonymize(self: _Store, references: Sequence[str], now: datetime) -> int:
        """Erase the personal data of these appointments (they must no longer hold a future claim)."""
        if not references:
            return 0
        refs = list(references)
        async with self._write() as conn:
            await conn.execute(delete(t.application_ids).where(t.application_ids.c.appointment_ref.in_(refs)))
            await conn.execute(delete(t.idempotency_keys).where(t.idempotency_keys.c.appointment_ref.in_(refs)))
            result = await conn.execute(update(t.appointments).where(t.appointments.c.reference.in_(refs)).values(
                name=ERASED_NAME, phone=ERASED_PHONE, email=None, application_ids="", updated_at=epoch(now)))
            return int(result.rowcount or 0)

    async def ended_before(self: _Store, moment: datetime) -> list[str]:
        """References of appointments that ended before ``moment`` and still hold personal data."""
        a = t.appointments.c
        query = select(a.reference).where(a.end_at < epoch(moment), a.phone != ERASED_PHONE)
        async with self.engine.connect() as conn:
            rows: Sequence[Row[Any]] = (await conn.execute(query)).all()
        return [row[0] for row in rows]

"""The store protocol the booking service talks to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from booking.domain import AntsSync, Appointment, Hold, NewAppointment, Status
from knowledge.town import Closure


@dataclass(frozen=True)
class BookResult:
    appointment: Appointment
    replayed: bool  # True when an earlier request with the same Idempotency-Key made this booking


@dataclass(frozen=True)
class Claim:
    """What a booking or hold wants to occupy: ``units`` on one of ``counters`` (tried in order)."""

    meeting_point_id: str
    unit_starts: Sequence[datetime]
    end: datetime
    counters: Sequence[str]


class Store(Protocol):
    async def migrate(self) -> None: ...

    async def close(self) -> None: ...

    async def busy_units(self, meeting_point_id: str, start: datetime, end: datetime,
                         now: datetime) -> dict[str, set[int]]:
        """Occupied unit starts (epoch seconds) per counter between ``start`` and ``end``."""
        ...

    async def closures(self, meeting_point_id: str) -> list[Closure]: ...

    async def add_closure(self, meeting_point_id: str, closure: Closure, now: datetime) -> None: ...

    async def book(self, request: NewAppointment, claim: Claim, now: datetime, *,
                   idempotency: tuple[str, str] | None = None, hold_id: str | None = None,
                   ants_sync: AntsSync = AntsSync.NONE, warnings: Sequence[str] = ()) -> BookResult:
        """Book atomically; raises ``SlotTaken``, ``ApplicationIdInUse`` or ``IdempotencyConflict``."""
        ...

    async def hold(self, claim: Claim, hold_id: str, expires_at: datetime, now: datetime) -> Hold: ...

    async def release_hold(self, hold_id: str) -> bool: ...

    async def find(self, reference: str, phone: str) -> Appointment:
        """The appointment with this reference and phone; ``AppointmentNotFound`` otherwise."""
        ...

    async def get(self, reference: str) -> Appointment | None:
        """Staff lookup by reference alone (never exposed on the public API)."""
        ...

    async def cancel(self, reference: str, phone: str, now: datetime) -> Appointment: ...

    async def reschedule(self, reference: str, phone: str, claim: Claim, now: datetime) -> Appointment:
        """Move atomically: the old units are freed only if the new ones are taken."""
        ...

    async def appointments_between(self, meeting_point_id: str | None, start: datetime,
                                   end: datetime) -> list[Appointment]: ...

    async def appointments_for_applications(self, application_ids: Sequence[str]) -> list[Appointment]: ...

    async def set_status(self, reference: str, status: Status, now: datetime) -> Appointment: ...

    async def set_ants_sync(self, reference: str, state: AntsSync) -> None: ...

    # --- personal data (booking/store/personal.py) ----------------------------------------------------------
    async def appointments_of(self, phone: str) -> list[Appointment]: ...

    async def anonymize(self, references: Sequence[str], now: datetime) -> int: ...

    async def ended_before(self, moment: datetime) -> list[str]: ...

    # --- statistics (booking/store/stats.py) -------------------------------------------------------------------
    async def changes_since(self, moment: datetime) -> list[tuple[int, int, str, str]]: ...

"""Domain values and exceptions of the booking backend (no I/O, no HTTP)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class Procedure(enum.StrEnum):
    PASSPORT = "passport"
    CNI = "cni"
    BOTH = "both"


class Status(enum.StrEnum):
    BOOKED = "booked"
    CANCELLED = "cancelled"
    HONOURED = "honoured"
    NO_SHOW = "no_show"


class AntsSync(enum.StrEnum):
    """Where the appointment stands with the ANTS anti-duplicate ("coordination") service."""

    NONE = "none"  # no pré-demande number given: nothing to declare
    DECLARED = "declared"
    PENDING = "pending"  # ANTS was unreachable: staff must check (booking went through, as other editors do)
    DELETED = "deleted"


@dataclass(frozen=True)
class Slot:
    """A bookable start time for a given number of people (``units`` consecutive time units on one counter)."""

    meeting_point_id: str
    start: datetime
    end: datetime
    units: int
    free_counters: int

    @property
    def id(self) -> str:
        return slot_id(self.meeting_point_id, self.start)


def slot_id(meeting_point_id: str, start: datetime) -> str:
    """Opaque but readable slot identifier: meeting point and local start, ``hotel-de-ville.202612010930``."""
    return f"{meeting_point_id}.{start:%Y%m%d%H%M}"


@dataclass(frozen=True)
class NewAppointment:
    """A validated booking request (where and when come from the slot's ``Claim``)."""

    procedure: Procedure
    people: int
    name: str
    phone: str  # E.164
    email: str | None = None
    application_ids: tuple[str, ...] = ()
    channel: str = "api"


@dataclass(frozen=True)
class Appointment:
    reference: str
    meeting_point_id: str
    counter_id: str
    start: datetime
    end: datetime
    procedure: Procedure
    people: int
    name: str
    phone: str
    email: str | None
    application_ids: tuple[str, ...]
    channel: str
    status: Status
    ants_sync: AntsSync
    created_at: datetime
    warnings: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Hold:
    id: str
    meeting_point_id: str
    start: datetime
    end: datetime
    expires_at: datetime


class BookingError(Exception):
    """Base of every domain error; ``code`` is machine-readable, ``message`` French for people."""

    code = "booking_error"
    status = 400

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class InvalidRequest(BookingError):
    code = "invalid_request"
    status = 400


class SlotTaken(BookingError):
    code = "slot_taken"
    status = 409


class AppointmentNotFound(BookingError):
    code = "appointment_not_found"
    status = 404


class NotModifiable(BookingError):
    code = "appointment_not_modifiable"
    status = 409


class ApplicationIdInUse(BookingError):
    code = "application_id_in_use"
    status = 409


class ApplicationRefused(BookingError):
    """ANTS says the pré-demande cannot be booked (consumed, expired, unknown)."""

    code = "application_id_refused"
    status = 422


class IdempotencyConflict(BookingError):
    code = "idempotency_key_reused"
    status = 422


class HoldNotFound(BookingError):
    code = "hold_not_found"
    status = 404

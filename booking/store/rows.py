"""Rows of the appointments table as domain values."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row

from booking.domain import AntsSync, Appointment, Procedure, Status


def _from_epoch(value: int) -> datetime:
    return datetime.fromtimestamp(value, UTC)


class InsertedRow:
    """A just-inserted row, shaped like a fetched one (spares a SELECT after the INSERT)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self._mapping = values


def to_appointment(row: Row[Any] | InsertedRow) -> Appointment:
    m = row._mapping
    return Appointment(
        reference=m["reference"], meeting_point_id=m["meeting_point_id"], counter_id=m["counter_id"],
        start=_from_epoch(m["start_at"]), end=_from_epoch(m["end_at"]), procedure=Procedure(m["procedure"]),
        people=m["people"], name=m["name"], phone=m["phone"], email=m["email"],
        application_ids=tuple(m["application_ids"].split()), channel=m["channel"], status=Status(m["status"]),
        ants_sync=AntsSync(m["ants_sync"]), created_at=_from_epoch(m["created_at"]),
        warnings=tuple(w for w in m["warnings"].split("\n") if w),
    )

"""The bookable time grid of one meeting point: opening hours, closures and public holidays, in local time.

Pure functions of the schedule from ``knowledge/`` (plus closures added by staff); no clock, no I/O.
A booking for N people takes N × ``units_per_person`` consecutive units on one counter, inside one opening
interval; parallel counters give the capacity of a start time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cached_property
from typing import Any

import holidays

from knowledge.town import WEEKDAYS, Closure, MeetingPoint


@dataclass(frozen=True)
class DayStatus:
    open: bool
    reason: str | None = None


class Calendar:
    """Time grid of one meeting point."""

    def __init__(self, meeting_point: MeetingPoint, extra_closures: Sequence[Closure] = ()) -> None:
        self.meeting_point = meeting_point
        self.schedule = meeting_point.schedule
        self.tz = self.schedule.tz
        self.step = timedelta(minutes=self.schedule.slot_minutes)
        self.closures = tuple(self.schedule.closures) + tuple(extra_closures)

    @cached_property
    def _holidays(self) -> Any:
        h = self.schedule.holidays
        return holidays.country_holidays(h.country, subdiv=h.subdivision, language="fr")

    @property
    def counter_ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.meeting_point.counters)

    def units_needed(self, procedure: str, people: int) -> int:
        """Time units for ``people`` persons of ``procedure`` ("passport", "cni", "both")."""
        per_person = {str(name): units for name, units in self.schedule.units_per_person.items()}
        return per_person[str(procedure)] * people

    def day_status(self, day: date) -> DayStatus:
        holiday = self._holidays.get(day)
        if holiday:
            return DayStatus(False, f"jour férié ({holiday})")
        for closure in self.closures:
            if closure.start <= day <= closure.end:
                return DayStatus(False, closure.reason)
        if not self.schedule.weekly_hours[WEEKDAYS[day.weekday()]]:
            return DayStatus(False, "le service ne reçoit pas ce jour-là")
        return DayStatus(True)

    def _local(self, day: date, at: time) -> datetime:
        return datetime.combine(day, at, tzinfo=self.tz)

    def starts_on(self, day: date, units: int) -> Iterator[datetime]:
        """Start times on ``day`` where ``units`` consecutive units fit inside one opening interval."""
        if not self.day_status(day).open:
            return
        need = self.step * units
        for interval in self.schedule.weekly_hours[WEEKDAYS[day.weekday()]]:
            # Wall-clock arithmetic on naive times: opening hours never straddle a DST change.
            cursor = datetime.combine(day, interval.start)
            last = datetime.combine(day, interval.end) - need
            while cursor <= last:
                yield cursor.replace(tzinfo=self.tz)
                cursor += self.step

    def starts_between(self, first: date, last: date, units: int) -> Iterator[datetime]:
        day = first
        while day <= last:
            yield from self.starts_on(day, units)
            day += timedelta(days=1)

    def is_valid_start(self, start: datetime, units: int) -> bool:
        local = start.astimezone(self.tz)
        return any(s == local for s in self.starts_on(local.date(), units))

    def unit_starts(self, start: datetime, units: int) -> list[datetime]:
        """The ``units`` unit start times occupied by a booking starting at ``start``."""
        naive = start.astimezone(self.tz).replace(tzinfo=None)
        return [(naive + self.step * i).replace(tzinfo=self.tz) for i in range(units)]

    def end_of(self, start: datetime, units: int) -> datetime:
        naive = start.astimezone(self.tz).replace(tzinfo=None)
        return (naive + self.step * units).replace(tzinfo=self.tz)


def epoch(moment: datetime) -> int:
    """Database key of a unit: seconds since the epoch (UTC), identical on SQLite and PostgreSQL."""
    return int(moment.timestamp())

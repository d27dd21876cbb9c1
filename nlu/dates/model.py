"""The result of resolving a French date/time expression: candidate windows and constraints."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Grain = Literal["minute", "hour", "part_of_day", "day", "week", "month", "range"]
Problem = Literal["past", "invalid"]


@dataclass(frozen=True)
class Window:
    """A half-open interval [start, end) of aware datetimes in the town's time zone.

    For a time said as a point ("10 h", "10 h 30"), the window is one grain long, as Duckling does:
    "10 h" is [10:00, 11:00) with grain "hour", "10 h 30" is [10:30, 10:31) with grain "minute";
    the start is the time the citizen said.
    """

    start: datetime
    end: datetime
    grain: Grain

    def to_json(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "grain": self.grain}


@dataclass(frozen=True)
class DailyRange:
    """A time-of-day range in minutes since midnight, [start, end), applying to every day of a long window."""

    start: int
    end: int

    def to_json(self) -> dict[str, str]:
        return {"start": _hhmm(self.start), "end": _hhmm(self.end)}


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True)
class Resolution:
    """What a phrase means, relative to the `now` it was resolved at.

    - `windows`: every acceptable period, in time order, never before `now` (a window that began earlier is
      cut at `now`). Empty when nothing was understood or when what was understood lies in the past
      (`problem` then says "past").
    - `ambiguous`: the phrase has several readings ("vendredi prochain" said on a Wednesday); `readings` holds
      the windows of each, and `windows` their union. The dialogue should ask which one.
    - `daily`: time-of-day ranges that still apply inside windows of grain "range" (a period too long to be cut
      day by day, or no day given at all: "le matin" alone is the next `horizon_days` days, mornings only).
    - `excluded_weekdays`: 0 = Monday … 6 = Sunday ("pas le lundi"); already applied to day-by-day windows.
    - `earliest`: the citizen wants the first possible slot; `any_day`: any day suits them.
    - `day_given` / `time_given`: whether a day (or period) and a time (or part of day) were said.
    """

    text: str
    windows: tuple[Window, ...] = ()
    ambiguous: bool = False
    readings: tuple[tuple[Window, ...], ...] = ()
    daily: tuple[DailyRange, ...] = ()
    excluded_weekdays: frozenset[int] = field(default_factory=frozenset)
    earliest: bool = False
    any_day: bool = False
    day_given: bool = False
    time_given: bool = False
    problem: Problem | None = None

    @property
    def understood(self) -> bool:
        return bool(self.windows) or self.problem is not None

    def to_json(self) -> dict[str, Any]:
        """The CLI's and the Rasa entity's shape: ISO 8601 datetimes with their UTC offset."""
        out: dict[str, Any] = {
            "text": self.text,
            "windows": [w.to_json() for w in self.windows],
            "ambiguous": self.ambiguous,
        }
        if self.ambiguous:
            out["readings"] = [[w.to_json() for w in reading] for reading in self.readings]
        if self.daily:
            out["daily"] = [d.to_json() for d in self.daily]
        if self.excluded_weekdays:
            out["excluded_weekdays"] = sorted(self.excluded_weekdays)
        for flag in ("earliest", "any_day", "day_given", "time_given"):
            if getattr(self, flag):
                out[flag] = True
        if self.problem:
            out["problem"] = self.problem
        return out

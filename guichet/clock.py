"""The injected clock: every service asks it for "now" instead of calling ``datetime.now()``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")


class Clock(Protocol):
    """Source of the current time, always timezone-aware."""

    def now(self) -> datetime: ...


@dataclass(frozen=True)
class SystemClock:
    """The real clock, in the town's timezone."""

    tz: ZoneInfo = PARIS

    def now(self) -> datetime:
        return datetime.now(self.tz)


@dataclass
class FrozenClock:
    """A clock for tests and benchmarks: stays where it is put, moves only when told."""

    current: datetime
    tz: ZoneInfo = field(default=PARIS)

    def __post_init__(self) -> None:
        if self.current.tzinfo is None:
            self.current = self.current.replace(tzinfo=self.tz)

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current = self.current + delta

"""The identity-documents service's appointment hours, said the French way, for the week or for given days.

Everything comes from ``town.yaml`` (weekly hours, closures), the closures staff added (read from the booking
backend, :func:`staff_closures`) and ``knowledge.calendar.Calendar`` (public holidays), so the bot says exactly the
hours the booking backend books in.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import holidays
from babel.dates import format_date

from actions.booking_client import BookingError
from actions.deps import deps
from guichet.french import join_and, say_date, say_time
from knowledge.calendar import Calendar
from knowledge.town import WEEKDAYS, Closure, Interval, MeetingPoint

log = logging.getLogger(__name__)

MAX_DAYS_ANSWERED = 3  # more days than this ("la semaine prochaine"): the weekly hours, plus that period's closures
CLOSURE_NOTICE_DAYS = 14  # the weekly answer warns of exceptional closures this close
NEXT_OPEN_SEARCH_DAYS = 60


def _weekday_name(index: int) -> str:
    return format_date(date(2024, 1, 1) + timedelta(days=index), "EEEE", locale="fr_FR")  # 2024-01-01 is a Monday


def say_intervals(intervals: Sequence[Interval]) -> str:
    """``de 8 h 30 à midi et de 13 h 30 à 17 h 30``."""
    return join_and([f"de {say_time(i.start)} à {say_time(i.end)}" for i in intervals])


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


class Hours:
    """What the bot says about when one meeting point receives."""

    def __init__(self, meeting_point: MeetingPoint, extra_closures: Sequence[Closure] = ()) -> None:
        self.calendar = Calendar(meeting_point, extra_closures)
        self.weekly = meeting_point.schedule.weekly_hours
        country = meeting_point.schedule.holidays
        self._holidays: Any = holidays.country_holidays(country.country, subdiv=country.subdivision, language="fr")

    def _day_hours(self, day: date) -> tuple[Interval, ...]:
        return self.weekly[WEEKDAYS[day.weekday()]]

    def week(self) -> str:
        """``du lundi au mercredi de 8 h 30 à midi et de 13 h 30 à 17 h 30, le jeudi de 13 h 30 à 19 h, …``."""
        groups: list[tuple[int, int, tuple[Interval, ...]]] = []
        for index, day in enumerate(WEEKDAYS):
            hours = self.weekly[day]
            if not hours:
                continue
            if groups and groups[-1][1] == index - 1 and groups[-1][2] == hours:
                groups[-1] = (groups[-1][0], index, hours)
            else:
                groups.append((index, index, hours))
        parts: list[str] = []
        for first, last, hours in groups:
            if first == last:
                days = f"le {_weekday_name(first)}"
            elif last == first + 1:
                days = f"le {_weekday_name(first)} et le {_weekday_name(last)}"
            else:
                days = f"du {_weekday_name(first)} au {_weekday_name(last)}"
            parts.append(f"{days} {say_intervals(hours)}")
        return ", ".join(parts[:-1]) + f", et {parts[-1]}" if len(parts) > 1 else "".join(parts)

    def closed_weekdays(self) -> str:
        """``le dimanche`` (the days without hours), empty if there are none."""
        return join_and([f"le {_weekday_name(i)}" for i, day in enumerate(WEEKDAYS) if not self.weekly[day]])

    def why_closed(self, day: date) -> str | None:
        """``Noël, jour férié`` or the closure's reason; None if the day is open or simply has no hours."""
        status = self.calendar.day_status(day)
        if status.open or not self._day_hours(day):
            return None
        name = self._holidays.get(day)
        return f"{name}, jour férié" if name else _lower_first(status.reason or "fermeture exceptionnelle")

    def exceptional_closures(self, first: date, last: date) -> list[tuple[date, str]]:
        """Days between ``first`` and ``last`` (inclusive) closed for a holiday or a closure, with the reason."""
        found = []
        day = first
        while day <= last:
            why = self.why_closed(day)
            if why:
                found.append((day, why))
            day += timedelta(days=1)
        return found

    def next_open_day(self, after: date) -> date | None:
        for offset in range(1, NEXT_OPEN_SEARCH_DAYS + 1):
            day = after + timedelta(days=offset)
            if self.calendar.day_status(day).open:
                return day
        return None

    def day(self, day: date, today: date) -> str:
        """One day: its hours, or closed with the reason (public holiday, closure, no hours that weekday)."""
        said = _say_day(day, today)
        if self.calendar.day_status(day).open:
            return f"{_upper_first(said)}, le service reçoit sur rendez-vous {say_intervals(self._day_hours(day))}."
        why = self.why_closed(day)
        if why is None:
            text = f"{_upper_first(said)}, le service est fermé : il ne reçoit pas le {_weekday_name(day.weekday())}."
        else:
            text = f"{_upper_first(said)}, le service est fermé ({why})."
        following = self.next_open_day(day)
        if following is not None:
            text += (f" Le jour d'ouverture suivant est {_say_day(following, today)}, "
                     f"{say_intervals(self._day_hours(following))}.")
        return text


def _say_day(day: date, today: date) -> str:
    if day == today:
        return f"aujourd'hui, {say_date(day)}"
    if day == today + timedelta(days=1):
        return f"demain, {say_date(day)}"
    return f"le {say_date(day, with_year=day.year != today.year)}"


def asked_days(resolution: dict[str, Any] | None) -> tuple[list[date], tuple[date, date] | None]:
    """The days a resolved ``time`` entity asks about (at most a few), or else the period it covers."""
    if not resolution:
        return [], None
    windows = list(resolution.get("windows") or [])
    for reading in resolution.get("readings") or []:
        windows += reading
    days: set[date] = set()
    single_days = True
    first: date | None = None
    last: date | None = None
    for window in windows:
        start = datetime.fromisoformat(window["start"])
        end = datetime.fromisoformat(window["end"]) - timedelta(microseconds=1)
        first = min(first or start.date(), start.date())
        last = max(last or end.date(), end.date())
        if window.get("grain") in ("day", "hour", "minute", "part_of_day") and start.date() == end.date():
            days.add(start.date())
        else:
            single_days = False
    if single_days and 0 < len(days) <= MAX_DAYS_ANSWERED:
        return sorted(days), None
    return [], (first, last) if first and last else None


async def staff_closures() -> list[Closure]:
    """The closures staff added through the booking backend; none when it does not answer (the town file's stay)."""
    try:
        return await deps().booking.closures()
    except BookingError as exc:
        log.warning("closures unavailable (%s): the town file's only", type(exc).__name__)
        return []

"""The meaning of one token: a set of days (with its readings) or a time-of-day range."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from dateutil.easter import easter

from nlu.dates.lexicon import PARTS_OF_DAY
from nlu.dates.model import Grain

Span = tuple[date, date]  # [first day, day after the last)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Days:
    """One or more readings, each a list of day spans. `weekday` is set for a weekday said on its own."""

    readings: tuple[tuple[Span, ...], ...]
    grain: Grain
    past: bool = False
    weekday: int | None = None
    bare: bool = False  # a bare weekday or day of month: a period around it may narrow it down

    @property
    def first(self) -> tuple[Span, ...]:
        return self.readings[0]


@dataclass(frozen=True)
class Clock:
    """Time-of-day ranges in minutes since midnight, [start, end)."""

    ranges: tuple[tuple[int, int], ...]
    grain: Grain
    excluded: tuple[tuple[int, int], ...] = field(default=())


def one(start: date, end: date, grain: Grain, **kw: object) -> Days:
    return Days(readings=((((start, end)),),), grain=grain, **kw)  # type: ignore[arg-type]


def monday(d: date) -> date:
    return d - timedelta(days=d.weekday())


def add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def weekday(today: date, wd: int, mod: str) -> Days:
    ahead = (wd - today.weekday()) % 7
    if mod == "C":  # ce jeudi: the coming one, today included
        days = [ahead]
    elif mod.startswith("E"):  # jeudi en huit / en quinze: counted from today
        days = [ahead + int(mod[1:])]
    elif mod == "S":  # jeudi de la semaine prochaine
        days = [(monday(today) + timedelta(days=7 + wd) - today).days]
    elif mod == "L":  # jeudi dernier
        back = (today.weekday() - wd) % 7 or 7
        d = today - timedelta(days=back)
        return one(d, d + DAY, "day", past=True)
    elif mod == "N":  # jeudi prochain: later this week it has two readings
        days = [ahead, ahead + 7] if wd > today.weekday() else [ahead or 7]
    else:
        days = [ahead or 7]
    readings = tuple(((today + timedelta(days=n), today + timedelta(days=n + 1)),) for n in days)
    return Days(readings=readings, grain="day", weekday=wd, bare=mod == "")


def day_of_month(today: date, day: int, month: int, year: int) -> Days | None:
    """A date; without a year, the next one from today; without a month, the next such day of a month."""
    if month == 0:
        for k in range(13):
            first = add_months(today.replace(day=1), k)
            if day <= calendar.monthrange(first.year, first.month)[1]:
                d = first.replace(day=day)
                if d >= today:
                    return one(d, d + DAY, "day", bare=True)
        return None
    if not 1 <= month <= 12:
        return None
    for y in ([year] if year else [today.year, today.year + 1]):
        if day < 1 or day > calendar.monthrange(y, month)[1]:
            continue
        d = date(y, month, day)
        if year or d >= today:
            return one(d, d + DAY, "day", past=d < today)
    return None


def month_part(first: date, part: str) -> Span:
    """Days of the month starting on `first`: all (""), début / mi / fin ("D" / "M" / "F": 1-10, 11-20, 21-end),
    the k-th week ("W1" … "W4": days 1-7, 8-14 …) or the last one ("WL": the last 7 days),
    a fortnight ("Q1": 1-15, "Q2": 16-end)."""
    after = add_months(first, 1)
    if part.startswith("W"):
        if part == "WL":
            return after - 7 * DAY, after
        start = first + timedelta(days=7 * (int(part[1]) - 1))
        return start, start + 7 * DAY
    return {"D": (first, first.replace(day=11)), "M": (first.replace(day=11), first.replace(day=21)),
            "F": (first.replace(day=21), after), "Q1": (first, first.replace(day=16)),
            "Q2": (first.replace(day=16), after)}.get(part, (first, after))


def month(today: date, m: int, year: int, part: str = "") -> Days | None:
    if not 1 <= m <= 12:
        return None
    for y in ([year] if year else [today.year, today.year + 1]):
        start, end = month_part(date(y, m, 1), part)
        if year or end > today:
            return one(start, end, "month" if not part else "range", past=end <= today)
    return None


def relative_month(today: date, n: int, part: str = "") -> Days:
    first = add_months(today.replace(day=1), n)
    found = month(today, first.month, first.year, part)
    assert found is not None
    return found


def year_period(today: date, n: int, part: str = "") -> Days:
    """This year (n = 0) or the next; début = 1-10 January, fin = 21-31 December (as for a month).
    "début d'année" said once its ten days are over means next year's."""
    y = today.year + n
    if part == "D" and n == 0 and date(y, 1, 11) <= today:
        y += 1
    first, after = date(y, 1, 1), date(y + 1, 1, 1)
    start, end = {"D": (first, date(y, 1, 11)), "F": (date(y, 12, 21), after)}.get(part, (first, after))
    return one(start, end, "range")


def week(today: date, n: int, part: str = "") -> Days:
    mon = monday(today) + timedelta(days=7 * n)
    start, end = {"D": (mon, mon + 3 * DAY), "F": (mon + 3 * DAY, mon + 6 * DAY)}.get(part, (mon, mon + 7 * DAY))
    if end <= today:  # "en fin de semaine" said on a Sunday: the next one
        start, end = start + 7 * DAY, end + 7 * DAY
    return one(start, end, "week" if not part else "range")


def weekend(today: date) -> Days:
    sat = monday(today) + 5 * DAY
    return one(sat, sat + 2 * DAY, "range")


def easter_based(today: date, offset: int) -> Days:
    for y in (today.year, today.year + 1):
        d = easter(y) + timedelta(days=offset)
        if d >= today:
            return one(d, d + DAY, "day")
    raise AssertionError("unreachable")


def clock_of_token(tok: str) -> Clock | None:
    if tok[0] == "T" and len(tok) == 6 and tok[1:5].isdigit():
        minute = int(tok[1:3]) * 60 + int(tok[3:5])
        grain: Grain = "hour" if tok[5] == "H" else "minute"
        return Clock(((minute, minute + (60 if grain == "hour" else 1)),), grain)
    if tok[0] == "P" and tok[1:] in PARTS_OF_DAY:
        return Clock((PARTS_OF_DAY[tok[1:]],), "part_of_day")
    return None


def bounded(days: Days, kind: str, today: date, horizon: date) -> Days:
    """BEFORE / BY / FROM / AFTER a set of days: from today up to its first day / up to its last day included,
    or an open range up to the horizon."""
    start, end = days.first[0][0], days.first[-1][1]
    if kind == "BEFORE":
        return one(today, max(start, today), "range", past=start <= today)
    if kind == "BY":
        return one(today, max(end, today), "range", past=end <= today)
    if kind == "FROM":
        return one(max(start, today), max(horizon, start + DAY), "range", past=days.past)
    return one(max(end, today), max(horizon, end + DAY), "range", past=days.past)


def spanning(a: Days, b: Days) -> Days:
    """From the first day of `a` to the last day of `b` ("du 3 au 10 décembre")."""
    start, end = a.first[0][0], b.first[-1][1]
    if end <= start:
        return replace(b)
    return one(start, end, "range", past=a.past and b.past)

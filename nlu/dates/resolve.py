"""Resolve a French date/time phrase against an injected `now` (see normalize.py for the token language)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from nlu.dates import atoms
from nlu.dates.atoms import DAY, Clock, Days, Span
from nlu.dates.model import DailyRange, Grain, Problem, Resolution, Window
from nlu.dates.normalize import fold, tokenize

PARIS = ZoneInfo("Europe/Paris")
_DATE = re.compile(r"D(\d+)\.(\d+)\.(\d+)$")
_MONTH_PART = re.compile(r"M([WQ][1-4L])\.(\d+)\.(\d+)$")  # MW1.1.0, MWL.1.0, MQ2.12.0
_DAY_BOUNDS = ("BEFORE", "BY", "FROM", "AFTER")
_BOUNDS = (*_DAY_BOUNDS, "AROUND")
MAX_TEXT = 500  # longer messages are cut: a date phrase is short, and the rules stay linear


@dataclass
class _Segment:
    days: Days | None = None
    clock: Clock | None = None


@dataclass
class _Context:
    today: date
    horizon: date
    excluded_weekdays: set[int]
    excluded_times: list[tuple[int, int]]
    earliest: bool = False
    any_day: bool = False
    invalid: bool = False


def resolve(text: str, now: datetime, *, horizon_days: int = 90) -> Resolution:
    """Resolve `text` relative to `now` (an aware datetime; converted to Europe/Paris)."""
    now = now.astimezone(PARIS)
    ctx = _Context(now.date(), now.date() + timedelta(days=horizon_days), set(), [])
    parsed = (_segment(toks, ctx) for toks in _split(tokenize(fold(text[:MAX_TEXT]))))
    segments = [s for s in parsed if s.days or s.clock]
    _share(segments)
    base = Resolution(text, earliest=ctx.earliest, any_day=ctx.any_day,
                      excluded_weekdays=frozenset(ctx.excluded_weekdays))
    if not segments:
        if ctx.earliest or ctx.any_day or ctx.excluded_weekdays or ctx.excluded_times:
            window = Window(now, _at(ctx.horizon, 0), "range")
            return replace(base, windows=(window,), daily=_daily(None, ctx), time_given=bool(ctx.excluded_times))
        return replace(base, problem="invalid" if ctx.invalid else None)
    day_given = any(s.days for s in segments)
    time_given = any(s.clock for s in segments) or bool(ctx.excluded_times)
    ambiguous_at = next((i for i, s in enumerate(segments) if s.days and len(s.days.readings) > 1), None)
    ambiguous_days = segments[ambiguous_at].days if ambiguous_at is not None else None
    count = len(ambiguous_days.readings) if ambiguous_days else 1
    readings: list[tuple[Window, ...]] = []
    daily_ranges: set[DailyRange] = set()
    past = False
    for k in range(count):
        windows: list[Window] = []
        for i, seg in enumerate(segments):
            made, seg_daily, seg_past = _windows(seg, k if i == ambiguous_at else 0, now, ctx)
            windows += made
            daily_ranges |= seg_daily
            past = past or seg_past
        readings.append(tuple(sorted(set(windows), key=lambda w: (w.start, w.end))))
    union = tuple(sorted({w for r in readings for w in r}, key=lambda w: (w.start, w.end)))
    problem: Problem | None = "past" if not union and (past or day_given or time_given) else None
    kept = tuple(r for r in readings if r)
    ambiguous = len(kept) > 1
    return replace(base, windows=union, ambiguous=ambiguous, readings=kept if ambiguous else (),
                   daily=tuple(sorted(daily_ranges, key=lambda d: d.start)), day_given=day_given,
                   time_given=time_given, problem=problem)


def _split(tokens: list[str]) -> list[list[str]]:
    out: list[list[str]] = [[]]
    for tok in tokens:
        if tok == "|":
            out.append([])
        else:
            out[-1].append(tok)
    return out


def _segment(tokens: list[str], ctx: _Context) -> _Segment:
    seg = _Segment()
    pending: str | None = None
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        i += 1
        if tok in _BOUNDS:
            pending = tok
            continue
        if tok == "ASAP":
            ctx.earliest = True
        elif tok == "ANY":
            ctx.any_day = True
        elif tok.startswith("ND") and tok[2:].isdigit():
            ctx.excluded_weekdays.add(int(tok[2:]))
        elif tok.startswith("NP"):
            clock = atoms.clock_of_token(tok[1:])
            if clock:
                ctx.excluded_times += clock.ranges
        elif tok == "KOF" and i < len(tokens) and tokens[i].startswith("D"):
            found = _days(tokens[i], ctx)
            i += 1
            if found:
                mon = atoms.monday(found.first[0][0])
                _add_days(seg, atoms.one(mon, mon + 7 * DAY, "week", past=found.past))
        else:
            clock = atoms.clock_of_token(tok)
            days = None if clock else _days(tok, ctx)
            if i + 1 < len(tokens) and tokens[i] == "THRU" and (clock or days):
                clock, days = _through(tok, tokens[i + 1], clock, days, ctx)
                i += 2
            if clock:
                _add_clock(seg, _bound_clock(clock, pending))
            elif days:
                _add_days(seg, atoms.bounded(days, pending, ctx.today, ctx.horizon) if pending in _DAY_BOUNDS
                          else days)
        pending = None
    return seg


def _through(left: str, right: str, clock: Clock | None, days: Days | None,
             ctx: _Context) -> tuple[Clock | None, Days | None]:
    if clock:
        other = atoms.clock_of_token(right)
        if other and other.ranges[0][0] > clock.ranges[0][0]:
            return Clock(((clock.ranges[0][0], other.ranges[0][0]),), "part_of_day"), None
        return clock, None
    lm, rm = _DATE.match(left), _DATE.match(right)
    if lm and rm and lm[2] == "0":  # "du 3 au 10 décembre": the month and year of the end
        month, year = int(rm[2]), int(rm[3])
        if month and int(lm[1]) > int(rm[1]):
            month = month - 1 or 12
        days = _days(f"D{lm[1]}.{month}.{year}", ctx) or days
    other_days = _days(right, ctx)
    if days and other_days:
        return None, atoms.spanning(days, other_days)
    return None, days


def _bound_clock(clock: Clock, kind: str | None) -> Clock:
    start, _end = clock.ranges[0]
    if kind in ("BEFORE", "BY"):  # "avant 11h", "au plus tard à 11h", "pas après 11h"
        return Clock(((0, start),), "part_of_day")
    if kind in ("FROM", "AFTER"):
        return Clock(((start, 24 * 60),), "part_of_day")
    if kind == "AROUND":
        return Clock(((max(0, start - 30), min(24 * 60, start + 30)),), "part_of_day")
    return clock


def _days(tok: str, ctx: _Context) -> Days | None:
    today = ctx.today
    try:
        if m := _DATE.match(tok):
            found = atoms.day_of_month(today, int(m[1]), int(m[2]), int(m[3]))
            ctx.invalid = ctx.invalid or found is None
            return found
        if tok[0] == "J" and tok[1:].lstrip("-").isdigit():
            d = today + timedelta(days=int(tok[1:]))
            return atoms.one(d, d + DAY, "day", past=d < today)
        if tok[0] == "W" and tok[1:2].isdigit():
            return atoms.weekday(today, int(tok[1]), tok[2:])
        if tok[0] == "E" and tok[1:].isdigit():
            return atoms.easter_based(today, int(tok[1:]))
        if m := _MONTH_PART.match(tok):
            return atoms.month(today, int(m[2]), int(m[3]), m[1])
        if tok[:2] == "MR":
            return atoms.relative_month(today, int(tok[-1]), tok[2] if len(tok) > 3 else "")
        if tok[0] == "M" and len(tok) > 1:
            part = tok[1] if tok[1] in "DMF" else ""
            m_s, _, y_s = tok[1 + len(part):].partition(".")
            return atoms.month(today, int(m_s), int(y_s or 0), part)
        if tok[0] == "K" and tok[1:].lstrip("DF").isdigit():
            part = tok[1] if tok[1] in "DF" else ""
            return atoms.week(today, int(tok[1 + len(part):]), part)
        if tok[0] == "Y" and tok[1:].lstrip("DF").isdigit():
            part = tok[1] if tok[1] in "DF" else ""
            return atoms.year_period(today, int(tok[1 + len(part):]), part)
        if tok == "WE":
            return atoms.weekend(today)
        if tok[0] == "L" and tok[1:].isdigit():
            mon = atoms.monday(atoms.add_months(today, int(tok[1:])))
            return atoms.one(mon, mon + 7 * DAY, "week")
        if tok[0] == "U" and tok[1:].isdigit():
            return atoms.one(today, today + timedelta(days=int(tok[1:]) + 1), "range")
    except (ValueError, OverflowError):
        ctx.invalid = True
    return None


def _add_days(seg: _Segment, days: Days) -> None:
    """Combine two day sets said together: a weekday inside a period, or two descriptions of one day."""
    if seg.days is None:
        seg.days = days
        return
    a, b = seg.days, days
    if b.weekday is not None and b.bare and a.weekday is None and not a.bare:
        a, b = b, a
    long_b = b.weekday is None and sum((e - s).days for s, e in b.first) > 1
    if a.weekday is not None and a.bare and long_b:  # "la semaine prochaine, jeudi"
        spans = tuple(_weekday_days(b.first, a.weekday))
        seg.days = Days((spans,), "day", past=b.past) if spans else b
        return
    for x, y in ((a, b), (b, a)):  # "jeudi 3": the 3rd is a Thursday, so the weekday only confirms it
        if x.weekday is not None and len(y.first) == 1 and (y.first[0][1] - y.first[0][0]).days == 1:
            if y.first[0][0].weekday() == x.weekday:
                seg.days = y
                return
    common = _intersect(a.first, b.first)
    if common:
        seg.days = Days((common,), "day" if len(common) == 1 else a.grain, past=a.past and b.past)
    else:  # "mardi 4 décembre" when the 4th is a Friday: both readings, the dialogue asks
        seg.days = Days((b.first, a.first) if b.weekday is None else (a.first, b.first), "day",
                        past=a.past and b.past)


def _weekday_days(spans: tuple[Span, ...], wd: int) -> list[Span]:
    out = []
    for start, end in spans:
        d = start
        while d < end:
            if d.weekday() == wd:
                out.append((d, d + DAY))
            d += DAY
    return out


def _intersect(a: tuple[Span, ...], b: tuple[Span, ...]) -> tuple[Span, ...]:
    return tuple((max(s1, s2), min(e1, e2)) for s1, e1 in a for s2, e2 in b if max(s1, s2) < min(e1, e2))


def _add_clock(seg: _Segment, clock: Clock) -> None:
    if seg.clock is None:
        seg.clock = clock
        return
    ranges = tuple((max(s1, s2), min(e1, e2)) for s1, e1 in seg.clock.ranges for s2, e2 in clock.ranges
                   if max(s1, s2) < min(e1, e2))
    narrow = clock if clock.grain in ("hour", "minute") else seg.clock
    seg.clock = Clock(ranges or clock.ranges, narrow.grain if ranges else clock.grain)


def _share(segments: list[_Segment]) -> None:
    """"mardi ou mercredi matin": the morning for both; "mardi à 10 h ou à 14 h": Tuesday for both."""
    for i in range(len(segments) - 2, -1, -1):
        if segments[i].clock is None and segments[i].days and segments[i + 1].clock and segments[i + 1].days:
            segments[i].clock = segments[i + 1].clock
    last_days: Days | None = None
    for seg in segments:
        if seg.days:
            last_days = seg.days
        elif last_days:
            seg.days = last_days
    for seg in reversed(segments):
        if seg.days:
            last_days = seg.days
        elif last_days:
            seg.days = last_days


def _at(day: date, minutes: int) -> datetime:
    if minutes >= 24 * 60:
        day, minutes = day + DAY, minutes - 24 * 60
    return datetime(day.year, day.month, day.day, minutes // 60, minutes % 60, tzinfo=PARIS)


def _subtract(ranges: tuple[tuple[int, int], ...], holes: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out = list(ranges)
    for hs, he in holes:
        out = [part for s, e in out for part in ((s, min(e, hs)), (max(s, he), e)) if part[0] < part[1]]
    return out


def _daily(clock: Clock | None, ctx: _Context) -> tuple[DailyRange, ...]:
    if clock is None and not ctx.excluded_times:
        return ()
    ranges = clock.ranges if clock else ((0, 24 * 60),)
    return tuple(DailyRange(s, e) for s, e in _subtract(ranges, ctx.excluded_times))


def _windows(seg: _Segment, k: int, now: datetime, ctx: _Context) -> tuple[list[Window], set[DailyRange], bool]:
    spans = seg.days.readings[min(k, len(seg.days.readings) - 1)] if seg.days else ((ctx.today, ctx.horizon),)
    grain: Grain = seg.days.grain if seg.days else "range"
    clock = seg.clock
    ranges = _subtract(clock.ranges, ctx.excluded_times) if clock else (
        _subtract(((0, 24 * 60),), ctx.excluded_times) if ctx.excluded_times else [])
    windows: list[Window] = []
    daily: set[DailyRange] = set()
    for start, end in spans:
        length = (end - start).days
        if seg.days is None or (length > 31 and (ranges or ctx.excluded_weekdays)):
            windows.append(Window(_at(start, 0), _at(end, 0), "range"))
            daily |= {DailyRange(s, e) for s, e in ranges}
            continue
        if ranges:
            cgrain: Grain = clock.grain if clock else "part_of_day"
            windows += [Window(_at(d, s), _at(d, e), cgrain) for d in _each(start, end, ctx) for s, e in ranges]
        elif ctx.excluded_weekdays:
            windows += _runs(list(_each(start, end, ctx)), grain if length > 1 else "day", length)
        else:
            windows.append(Window(_at(start, 0), _at(end, 0), grain))
    kept = [Window(max(w.start, now), w.end, w.grain) if w.start < now else w for w in windows if w.end > now]
    if not seg.days:
        kept = [replace(w, start=now) if w.grain == "range" and w.start.date() == ctx.today else w for w in kept]
    return kept, daily, bool(seg.days and seg.days.past)


def _each(start: date, end: date, ctx: _Context) -> list[date]:
    out, d = [], start
    while d < end:
        if d.weekday() not in ctx.excluded_weekdays:
            out.append(d)
        d += DAY
    return out


def _runs(days: list[date], grain: Grain, length: int) -> list[Window]:
    """Consecutive days as one window each ("la semaine prochaine sauf le lundi": Tuesday to Sunday)."""
    out: list[Window] = []
    run: list[date] = []
    for d in [*days, date.max]:
        if run and d != run[-1] + DAY:
            g: Grain = "day" if len(run) == 1 else (grain if len(run) == length else "range")
            out.append(Window(_at(run[0], 0), _at(run[-1] + DAY, 0), g))
            run = []
        if d != date.max:
            run.append(d)
    return out

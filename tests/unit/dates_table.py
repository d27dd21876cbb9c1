"""The table of French date expressions (tests/data/dates_fr.yaml): loading and comparing with a Resolution.

Used by tests/unit/test_dates_table.py and by the benchmark (bench/dates.py), so both judge a case the same way.

Notation of an expectation (all times are Europe/Paris wall times, converted with zoneinfo):

- windows, separated by ";":
  ``2026-11-26`` (that whole day), ``2026-11-26 14:00-15:00`` (that day; ``24:00`` is the next midnight),
  ``2026-12-21 .. 2027-01-01`` (midnight to midnight, end exclusive), ``2026-11-25 10:00 .. 2026-11-30``
  (from that time), ``now .. 2027-02-23`` (from the reference time);
- flags, also separated by ";": ``daily 06:00-12:00[, 13:00-15:00]``, ``except 0,1`` (excluded weekdays,
  0 = Monday), ``earliest``, ``any`` (any_day);
- alone: ``past``, ``invalid`` (that problem, no window), ``nothing`` (no window, no problem, no flag at all);
- ``ambiguous A | B``: ambiguous, with readings A then B in that order (each a ;-list of windows), and windows
  equal to their union in time order.

What is compared (:func:`check`):

- the (start, end) of every window, in order, as aware datetimes AND as isoformat strings (so the UTC offset
  is checked, which matters around the daylight-saving change); the grain is not compared;
- ``ambiguous``, and the readings when ambiguous (in the order written); ``excluded_weekdays``; ``earliest``;
  ``any_day``; ``problem`` (None unless ``past`` / ``invalid`` is written). A flag not written must be absent.
- ``daily`` is compared when it is written, and also when the expectation has a ``..`` window (a window over
  several days, where the time-of-day ranges change the meaning: then no ``daily`` written means none expected)
  and for ``nothing``. For windows of one day or less it is not compared unless written: a time already applied
  to a day window may or may not be repeated in ``daily`` without changing what the citizen gets.
  A ``daily`` of exactly 00:00-24:00 restricts nothing and counts as no ``daily`` (on both sides).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from nlu.dates import Resolution

PARIS = ZoneInfo("Europe/Paris")
TABLE = Path(__file__).resolve().parents[1] / "data" / "dates_fr.yaml"

Span = tuple[datetime, datetime]

_DATE = r"(\d{4})-(\d{2})-(\d{2})"
_TIME = r"(\d{2}):(\d{2})"
_DAY = re.compile(rf"^{_DATE}$")
_DAY_TIMES = re.compile(rf"^{_DATE} {_TIME}-{_TIME}$")
_RANGE = re.compile(rf"^(?:now|{_DATE}(?: {_TIME})?) \.\. {_DATE}$")
_HHMM = re.compile(rf"^{_TIME}-{_TIME}$")


@dataclass(frozen=True)
class Case:
    """One line of the table: a phrase, the reference time, and what it must resolve to."""

    now: datetime
    text: str
    expected: str
    windows: tuple[Span, ...] = ()
    ambiguous: bool = False
    readings: tuple[tuple[Span, ...], ...] = ()
    daily: tuple[tuple[int, int], ...] | None = None  # minutes since midnight; None: not compared
    excluded_weekdays: frozenset[int] = frozenset()
    earliest: bool = False
    any_day: bool = False
    problem: str | None = None

    @property
    def id(self) -> str:
        return f"{self.now:%Y-%m-%dT%H:%M}|{self.text}"


def _at(day: date, minutes: int) -> datetime:
    """Local Paris wall time `minutes` after the midnight starting `day` (1440 = the next midnight)."""
    day += timedelta(days=minutes // 1440)
    minutes %= 1440
    return datetime(day.year, day.month, day.day, minutes // 60, minutes % 60, tzinfo=PARIS)


def _minutes(hours: str, mins: str) -> int:
    value = int(hours) * 60 + int(mins)
    if not 0 <= value <= 1440 or int(mins) >= 60:
        raise ValueError(f"bad time {hours}:{mins}")
    return value


def _ymd(y: str, m: str, d: str) -> date:
    return date(int(y), int(m), int(d))


def parse_window(text: str, now: datetime) -> tuple[Span, bool]:
    """One window of the notation; also says whether it is a ``..`` (several-day) window."""
    text = " ".join(text.split())
    if m := _DAY.match(text):
        day = _ymd(*m.groups())
        return (_at(day, 0), _at(day, 1440)), False
    if m := _DAY_TIMES.match(text):
        y, mo, d, h1, m1, h2, m2 = m.groups()
        day = _ymd(y, mo, d)
        first, last = _minutes(h1, m1), _minutes(h2, m2)
        if last <= first:
            raise ValueError(f"empty window {text!r}")
        return (_at(day, first), _at(day, last)), False
    if m := _RANGE.match(text):
        y, mo, d, h, mi, y2, mo2, d2 = m.groups()
        begin = now if y is None else _at(_ymd(y, mo, d), _minutes(h, mi) if h is not None else 0)
        until = _at(_ymd(y2, mo2, d2), 0)
        if until <= begin:
            raise ValueError(f"empty window {text!r}")
        return (begin, until), True
    raise ValueError(f"not a window: {text!r}")


def parse_expectation(text: str, now: datetime) -> dict[str, Any]:
    """The fields of a :class:`Case` described by an expectation string."""
    text = text.strip()
    if text in ("past", "invalid"):
        return {"problem": text}
    if text == "nothing":
        return {"daily": ()}
    if text.startswith("ambiguous "):
        readings = []
        for part in text[len("ambiguous ") :].split("|"):
            reading = tuple(parse_window(item, now)[0] for item in part.split(";") if item.strip())
            if not reading:
                raise ValueError(f"empty reading in {text!r}")
            readings.append(reading)
        if len(readings) < 2:
            raise ValueError(f"an ambiguous expectation needs two readings: {text!r}")
        union = tuple(sorted({span for reading in readings for span in reading}))
        return {"ambiguous": True, "readings": tuple(readings), "windows": union}
    fields: dict[str, Any] = {}
    windows: list[Span] = []
    several_days = False
    for raw in text.split(";"):
        item = " ".join(raw.split())
        if not item:
            continue
        if item.startswith("daily "):
            ranges = []
            for chunk in item[len("daily ") :].split(","):
                m = _HHMM.match(chunk.strip())
                if not m:
                    raise ValueError(f"bad daily range {chunk!r}")
                ranges.append((_minutes(*m.groups()[:2]), _minutes(*m.groups()[2:])))
            fields["daily"] = tuple(ranges)
        elif item.startswith("except "):
            fields["excluded_weekdays"] = frozenset(int(x) for x in item[len("except ") :].split(","))
        elif item == "earliest":
            fields["earliest"] = True
        elif item == "any":
            fields["any_day"] = True
        else:
            span, long = parse_window(item, now)
            windows.append(span)
            several_days |= long
    if not windows:
        raise ValueError(f"no window in {text!r}")
    if windows != sorted(windows):
        raise ValueError(f"windows not in time order in {text!r}")
    fields["windows"] = tuple(windows)
    if several_days:
        fields.setdefault("daily", ())
    return fields


def load_cases(path: Path = TABLE) -> list[Case]:
    """Every case of the table, in file order."""
    blocks = yaml.safe_load(path.read_text(encoding="utf-8"))
    cases: list[Case] = []
    for block in blocks:
        now = datetime.fromisoformat(str(block["now"]))
        now = now.replace(tzinfo=PARIS) if now.tzinfo is None else now.astimezone(PARIS)
        for entry in block["cases"]:
            phrase, expected = entry
            if not isinstance(phrase, str) or not isinstance(expected, str):
                raise ValueError(f"{block['now']}: phrase and expectation must be strings: {entry!r}")
            try:
                fields = parse_expectation(expected, now)
            except ValueError as exc:
                raise ValueError(f"{block['now']} | {phrase}: {exc}") from exc
            cases.append(Case(now=now, text=phrase, expected=expected, **fields))
    return cases


def _fmt(spans: tuple[Span, ...]) -> str:
    """Short text of windows: "2026-11-26T14:00+01:00/15:00+01:00" when on one day, full ends otherwise."""

    def one(span: Span) -> str:
        start, end = span
        tail = end.strftime("%H:%M%z") if end.date() == start.date() else end.isoformat(timespec="minutes")
        return f"{start.isoformat(timespec='minutes')}/{tail}"

    return "[" + ", ".join(one(s) for s in spans) + "]"


def _same(expected: tuple[Span, ...], got: tuple[Span, ...]) -> bool:
    return len(expected) == len(got) and all(
        e[0] == g[0] and e[1] == g[1] and e[0].isoformat() == g[0].isoformat() and e[1].isoformat() == g[1].isoformat()
        for e, g in zip(expected, got, strict=True)
    )


def _daily_text(ranges: tuple[tuple[int, int], ...]) -> str:
    return ", ".join(f"{a // 60:02d}:{a % 60:02d}-{b // 60:02d}:{b % 60:02d}" for a, b in ranges) or "none"


def check(case: Case, resolution: Resolution) -> list[str]:
    """What differs between the case and the resolution (empty when it matches)."""
    problems: list[str] = []
    got = tuple((w.start, w.end) for w in resolution.windows)
    if not _same(case.windows, got):
        problems.append(f"windows: expected {_fmt(case.windows)}, got {_fmt(got)}")
    if resolution.ambiguous != case.ambiguous:
        problems.append(f"ambiguous: expected {case.ambiguous}, got {resolution.ambiguous}")
    elif case.ambiguous:
        got_readings = tuple(tuple((w.start, w.end) for w in reading) for reading in resolution.readings)
        if len(got_readings) != len(case.readings) or not all(
            _same(e, g) for e, g in zip(case.readings, got_readings, strict=False)
        ):
            problems.append(
                f"readings: expected {' | '.join(_fmt(r) for r in case.readings)}, "
                f"got {' | '.join(_fmt(r) for r in got_readings) or 'none'}"
            )
    if case.daily is not None:
        got_daily = tuple((d.start, d.end) for d in resolution.daily)
        if got_daily != case.daily:
            problems.append(f"daily: expected {_daily_text(case.daily)}, got {_daily_text(got_daily)}")
    if resolution.excluded_weekdays != case.excluded_weekdays:
        problems.append(
            f"excluded_weekdays: expected {sorted(case.excluded_weekdays)}, got {sorted(resolution.excluded_weekdays)}"
        )
    if resolution.earliest != case.earliest:
        problems.append(f"earliest: expected {case.earliest}, got {resolution.earliest}")
    if resolution.any_day != case.any_day:
        problems.append(f"any_day: expected {case.any_day}, got {resolution.any_day}")
    if resolution.problem != case.problem:
        problems.append(f"problem: expected {case.problem}, got {resolution.problem}")
    return problems

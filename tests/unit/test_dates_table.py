"""Table-driven test of the French date resolver: tests/data/dates_fr.yaml, written from nlu/dates/CONVENTIONS.md.

Each case is one phrase at one reference time; see tests/unit/dates_table.py for the notation and for what is
compared (the benchmark, bench/dates.py, uses the same `check`).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import pytest

from nlu.dates import resolve
from tests.unit.dates_table import PARIS, Case, check, load_cases, parse_expectation

CASES = load_cases()


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_expression(case: Case) -> None:
    problems = check(case, resolve(case.text, case.now))
    assert not problems, f"« {case.text} » at {case.now:%Y-%m-%d %H:%M} ({case.expected}):\n  " + "\n  ".join(problems)


def test_table_size_and_coverage() -> None:
    """The issue asks for at least 200 expressions over several reference dates."""
    assert len(CASES) >= 230
    per_date = Counter(case.now for case in CASES)
    assert len(per_date) >= 6
    assert len({case.id for case in CASES}) == len(CASES), "duplicate case"
    # a daylight-saving change is covered: some expected window carries each of the two offsets
    offsets = {span[0].utcoffset() for case in CASES for span in case.windows}
    assert len(offsets) == 2


def test_notation() -> None:
    now = datetime(2027, 3, 26, 9, 0, tzinfo=PARIS)
    day = parse_expectation("2027-03-28", now)["windows"][0]
    assert day[0].isoformat() == "2027-03-28T00:00:00+01:00"
    assert day[1].isoformat() == "2027-03-29T00:00:00+02:00"
    evening = parse_expectation("2027-03-28 18:00-24:00", now)["windows"][0]
    assert evening[1].isoformat() == "2027-03-29T00:00:00+02:00"
    fields = parse_expectation("now .. 2027-06-24; daily 06:00-12:00, 14:00-16:00; except 0,6; earliest", now)
    assert fields["windows"] == ((now, datetime(2027, 6, 24, tzinfo=PARIS)),)
    assert fields["daily"] == ((360, 720), (840, 960))
    assert fields["excluded_weekdays"] == frozenset({0, 6})
    assert fields["earliest"]
    amb = parse_expectation("ambiguous 2027-04-02 | 2027-03-27", now)
    assert amb["ambiguous"] and [r[0][0].day for r in amb["readings"]] == [2, 27]
    assert [w[0].day for w in amb["windows"]] == [27, 2]
    assert parse_expectation("past", now) == {"problem": "past"}
    assert parse_expectation("nothing", now) == {"daily": ()}
    assert "daily" not in parse_expectation("2027-03-28 06:00-12:00", now)
    assert parse_expectation("2027-03-26 10:00 .. 2027-03-29", now)["daily"] == ()
    with pytest.raises(ValueError):
        parse_expectation("2027-03-28 12:00-10:00", now)
    with pytest.raises(ValueError):
        parse_expectation("2027-03-29; 2027-03-28", now)

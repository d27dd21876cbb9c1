"""``python -m bench.dates [--repeat N]``: accuracy and speed of the French date resolution (nlu.dates).

Accuracy is measured on the project's own table (tests/data/dates_fr.yaml, the same cases and the same
comparison as tests/unit/test_dates_table.py). For comparison, dateparser alone (the library the issue started
from) is asked the same phrases; it is scored only on the day of the first expected window, a much easier test.
Prints a Markdown report; targets (≥ 98 % on the table, < 2 ms per expression) are reported, not enforced.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from datetime import datetime

from nlu.dates import resolve
from tests.unit.dates_table import Case, check, load_cases

DESCRIPTION = "Accuracy and time per expression of nlu.dates on the project's table, beside dateparser."


def _dateparser_day_ok(case: Case) -> bool | None:
    """Does dateparser alone give the day of the first expected window? None when no single day is expected."""
    import dateparser

    if not case.windows or case.ambiguous:
        return None
    first = case.windows[0]
    if (first[1] - first[0]).days > 1:
        return None
    settings = {"RELATIVE_BASE": case.now.replace(tzinfo=None), "PREFER_DATES_FROM": "future"}
    got: datetime | None = dateparser.parse(case.text, languages=["fr"], settings=settings)
    return got is not None and got.date() == first[0].date()


def run(repeat: int) -> str:
    cases = load_cases()
    failures = [(case, problems) for case in cases if (problems := check(case, resolve(case.text, case.now)))]
    timings: list[float] = []
    for _ in range(repeat):
        for case in cases:
            started = time.perf_counter()
            resolve(case.text, case.now)
            timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    ours = [not check(c, resolve(c.text, c.now)) for c in cases if _dateparser_day_ok(c) is not None]
    theirs = [ok for c in cases if (ok := _dateparser_day_ok(c)) is not None]
    accuracy = 100 * (len(cases) - len(failures)) / len(cases)
    lines = [
        "## French date resolution (nlu.dates)",
        "",
        f"Python {platform.python_version()}, {len(cases)} expressions, {len({c.now for c in cases})} reference dates, "
        f"{repeat} passes.",
        "",
        "| figure | value | target |",
        "|---|---|---|",
        f"| accuracy on the table | {accuracy:.1f} % ({len(cases) - len(failures)}/{len(cases)}) | ≥ 98 % |",
        f"| time per expression, mean | {statistics.fmean(timings):.3f} ms | < 2 ms |",
        f"| time per expression, p50 / p95 / max | {timings[len(timings) // 2]:.3f} / "
        f"{timings[int(len(timings) * 0.95)]:.3f} / {timings[-1]:.3f} ms | |",
        f"| single-day cases: nlu.dates exact / dateparser alone right day | "
        f"{100 * sum(ours) / len(ours):.1f} % / {100 * sum(theirs) / len(theirs):.1f} % ({len(ours)} cases) | |",
    ]
    if failures:
        lines += ["", "Cases that differ from the table:", ""]
        lines += [f"- {case.now:%Y-%m-%d %H:%M} « {case.text} »: {'; '.join(problems)}" for case, problems in failures]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dates", description=DESCRIPTION)
    parser.add_argument("--repeat", type=int, default=20, help="timing passes over the table (default 20)")
    options = parser.parse_args(argv)
    print(run(max(1, options.repeat)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""bench/load.py kept honest: its memory fit and verdict on known samples, and a 20-second run on the real stack
(3 chats, 1 call, 5 s of warm-up) whose report has every section, turns on both channels, no error."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from bench.load import GROWTH_FLOOR_MB, Options, Sample, measure, memory, slope_mb_per_min

pytestmark = pytest.mark.rasa_env


def _samples(name: str, values: list[float], every_s: float = 10.0) -> list[Sample]:
    return [Sample(i * every_s, {name: mb}, 0.5, 50.0) for i, mb in enumerate(values)]


def test_the_memory_verdict_follows_the_fitted_line_after_the_warm_up() -> None:
    assert slope_mb_per_min([(0.0, 100.0), (60.0, 106.0), (120.0, 112.0)]) == pytest.approx(6.0)
    assert math.isnan(slope_mb_per_min([(0.0, 100.0)]))
    # Growth during the warm-up (first two samples) and one late spike do not make a leak…
    flat = memory(_samples("booking", [50, 90, 100, 101, 99, 100, 100, 100, 112]), warmup_s=10)[0]
    assert (flat.warm_mb, flat.end_mb, flat.growth_mb) == (90, 112, 22)  # warm-up ends at the 10 s sample
    flat = memory(_samples("booking", [50, 90, 100, 101, 99, 100, 100, 100, 112]), warmup_s=20)[0]
    assert flat.ok and flat.fitted_rise_mb < GROWTH_FLOOR_MB < flat.growth_mb
    # …a steady climb does.
    leak = memory(_samples("dialogue", [1200 + 4 * i for i in range(13)]), warmup_s=30)[0]
    assert leak.slope == pytest.approx(24.0) and leak.allowed_mb == pytest.approx(12.12) and not leak.ok


def _row(report: str, first_cell: str) -> list[str]:
    rows = [line for line in report.splitlines() if line.startswith(f"| {first_cell}")]
    assert len(rows) == 1, f"no single row {first_cell!r} in:\n{report}"
    return [cell.strip() for cell in rows[0].strip("|").split("|")]


def _number(cell: str) -> float:
    match = re.match(r"-?\d+(\.\d+)?", cell)
    assert match, f"not a number: {cell!r}"
    return float(match.group())


def test_a_short_load_run_reports_turns_on_both_channels_and_no_error(tmp_path: Path) -> None:
    report = measure(Options(minutes=20 / 60, chats=3, calls=1, warmup_s=5, think_s=1, sample_s=2), tmp_path)
    print(report)
    for section in ("**Throughput and latency**", "**Errors**", "**Memory**", "Load average", "- Errors: target 0",
                    "- Memory after the warm-up"):
        assert section in report
    chat, call = _row(report, "chat turns ("), _row(report, "call turns (")
    for row in (chat, call):
        turns, per_s, p50, p95, top = (_number(row[i]) for i in (1, 2, 6, 7, 8))
        assert turns > 0 and per_s > 0 and 0 < p50 <= p95 <= top < 30_000
    assert _number(chat[3]) >= 1 and _number(chat[5]) >= 1  # whole conversations, ending in a booking
    for channel in ("chat turns |", "call turns |"):
        assert _row(report, channel)[-1] == "0", report
    assert "- Errors: target 0 — met." in report
    for process in ("dialogue (Rasa)", "actions", "booking", "ANTS stand-in", "bench (phone sessions)"):
        warm, end = (_number(cell) for cell in _row(report, process)[1:3])
        assert 10 < warm < 5000 and 10 < end < 5000

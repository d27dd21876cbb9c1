"""The pure parts of bench/voice.py: percentiles, the Markdown report with its targets, the layered transcriber."""

from __future__ import annotations

import math

import pytest

from bench.stats import percentile
from bench.voice import LevelResult, VoskThenScript, markdown_report
from voice.audio import SLIN16K, AudioFormat
from voice.scripted import ScriptedTranscriber
from voice.stt import Transcript


def test_percentile_interpolates_like_numpy() -> None:
    values = [10.0, 20.0, 30.0, 40.0]
    assert percentile(values, 50) == 25.0
    assert percentile(values, 95) == pytest.approx(38.5)
    assert percentile(values, 0) == 10.0 and percentile(values, 100) == 40.0
    assert percentile([7.0], 95) == 7.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0  # unsorted input
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile(values, 101)


def test_the_report_puts_targets_beside_figures_and_shows_misses() -> None:
    fast = LevelResult(1, latencies_ms=[500.0, 550.0], after_detection_ms=[100.0], barge_ins_ms=[120.0],
                       stt_final_ms=[50.0], bot_ms=[80.0], rss_per_call_mb=12.5, cpu_per_call_pct=20.0)
    slow = LevelResult(10, latencies_ms=[700.0] * 19 + [2000.0], after_detection_ms=[300.0], barge_ins_ms=[],
                       failures=["call 3: TimeoutError waiting for the greeting"], rss_per_call_mb=9.0,
                       cpu_per_call_pct=8.0)
    report = markdown_report([fast, slow], stt_rtf=0.37, tts_rtf=0.004, hangover_ms=600, context="test machine")
    rows = [line for line in report.splitlines() if line.startswith("| 1 |") or line.startswith("| 10 |")]
    assert rows[0].split("|")[2:5] == [" 2 ", " 525 ", " 548 "]
    assert rows[1].split("|")[2:5] == [" 20 ", " 700 ", " 765 "]
    assert "| turn latency p50 | ≤ 600 ms | 700 ms | **MISSED** |" in report
    assert "| turn latency p95 | ≤ 1000 ms | 765 ms | ok |" in report
    assert "| barge-in stop (worst) | ≤ 200 ms | – ms | not measured |" in report
    assert "recognizer 0.370, espeak-ng 0.004" in report and "600 ms" in report
    assert "- 10 calls: call 3: TimeoutError waiting for the greeting" in report


def test_without_the_target_level_there_is_no_verdict() -> None:
    report = markdown_report([LevelResult(1, latencies_ms=[400.0])], stt_rtf=0.1, tts_rtf=0.01, hangover_ms=400,
                             context="")
    assert "MISSED" not in report and "target (10 calls" not in report


async def test_the_layered_transcriber_waits_for_the_recognizer_then_says_the_script() -> None:
    recognizer = ScriptedTranscriber(["annyeong", "yeyak"])  # stands in for Vosk: any Transcriber will do
    timings: list[float] = []
    layered = VoskThenScript(recognizer, ["je voudrais un rendez-vous", "oui"], timings)  # type: ignore[arg-type]
    fmt: AudioFormat = SLIN16K
    heard: list[list[Transcript]] = []
    for _ in range(2):
        stream = layered.open(fmt)
        stream.push(b"\x00" * 640)
        stream.end()
        heard.append([t async for t in stream])
    assert heard == [[Transcript("je voudrais un rendez-vous", True, 0.95)], [Transcript("oui", True, 0.95)]]
    assert recognizer.remaining == 0 and layered.vosk_finals == 2 and len(timings) == 2
    assert layered.open(fmt).__class__.__name__ == "_LayeredStream" and layered.script == []

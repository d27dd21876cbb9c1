"""``python -m bench.report [--with-nlu] [--only NAME …] [--out bench/REPORT.md]``: every benchmark, one report.

Runs, one after the other (they would disturb each other's figures): ``bench.dates``, ``bench.booking``,
``bench.chat``, ``bench.understanding``, ``bench.voice``, ``bench.recognition``, ``bench.load`` (~6 minutes) and,
with ``--with-nlu`` only, ``bench.nlu`` (it trains a model: ~6 minutes).
Each runs as its own process; its Markdown goes into one file with the date, the machine (CPU, cores, RAM, load) and
the commit. A benchmark that is missing or fails is reported as such, with the end of its error output — the
others still run. Exit code: 0 if every benchmark ran, 1 otherwise (the report is written either way).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Bench:
    name: str
    title: str
    args: tuple[str, ...] = ()
    writes_report: bool = False  # takes --report PATH (else: Markdown on stdout)
    timeout_s: float = 1800
    module: str = ""  # bench.<module>; default: the name

    @property
    def runs(self) -> str:
        return self.module or self.name


BENCHES = (
    Bench("dates", "Dates in French (nlu/dates)"),
    Bench("booking", "Booking backend (SQLite, PostgreSQL)"),
    Bench("chat", "Chat turns through the REST channel", writes_report=True),
    Bench("understanding", "Understanding: citizens' questions and details (held-out splits)"),
    Bench("voice", "Phone line (voice gateway), Vosk's real work", writes_report=True, timeout_s=2400),
    Bench("voice-whisper", "Phone line (voice gateway), the embedded Whisper recognizer's real work",
          ("--recognizer", "whisper", "--levels", "1", "5", "10"), writes_report=True, timeout_s=2400,
          module="voice"),
    Bench("recognition", "Speech recognition on human French speech (8 kHz µ-law)", timeout_s=1800),
    Bench("load", "Load: 50 chats and 10 calls at once for 5 minutes", writes_report=True, timeout_s=1200),
    Bench("nlu", "Understanding (NLU, cross-validated; retrains)", timeout_s=3600),
)


def machine() -> list[str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_gib = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except (OSError, ValueError, IndexError):
        mem_gib, load = float("nan"), "?"
    return [f"- Machine: {cpu}, {os.cpu_count()} cores, {mem_gib:.1f} GiB RAM ({platform.system()} "
            f"{platform.release()}, Python {platform.python_version()})",
            f"- Load average when the report started: {load} (other work on the machine skews the figures)"]


def commit() -> str:
    try:
        done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              timeout=10, check=False)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True,
                               timeout=10, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip() + (" (with uncommitted changes)" if dirty else "")


def run(bench: Bench) -> tuple[bool, str, float]:
    """(ran, Markdown or the reason it did not, seconds)."""
    if importlib.util.find_spec(f"bench.{bench.runs}") is None:
        return False, f"_Not run: `bench/{bench.runs}.py` does not exist in this checkout._", 0.0
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        out = Path(tmp) / "report.md"
        command = [sys.executable, "-m", f"bench.{bench.runs}", *bench.args]
        if bench.writes_report:
            command += ["--report", str(out)]
        print(f"== {' '.join(command[1:])}", file=sys.stderr, flush=True)
        try:
            done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=bench.timeout_s,
                                  check=False)
        except subprocess.TimeoutExpired:
            return False, f"_Stopped after {bench.timeout_s:.0f} s without finishing._", time.monotonic() - start
        seconds = time.monotonic() - start
        if done.returncode != 0 or (bench.writes_report and not out.exists()):
            tail = (done.stderr or done.stdout).strip()[-1500:]
            return False, f"_Failed (exit code {done.returncode}):_\n\n```\n{tail}\n```", seconds
        text = out.read_text(encoding="utf-8") if bench.writes_report else done.stdout
    return True, demote(text.strip()), seconds


def demote(markdown: str) -> str:
    """Headings one level down, under this report's ``##`` section of the benchmark (code blocks left alone)."""
    lines, fenced = [], False
    for line in markdown.splitlines():
        fenced ^= line.startswith("```")
        lines.append("#" + line if line.startswith("#") and not fenced else line)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__.splitlines()[0])
    parser.add_argument("--with-nlu", action="store_true", help="also the NLU benchmark (retrains, ~6 min)")
    parser.add_argument("--only", nargs="+", choices=[b.name for b in BENCHES], help="only these benchmarks")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "REPORT.md")
    options = parser.parse_args(argv)
    chosen = [b for b in BENCHES if (b.name in options.only if options.only else b.name != "nlu"
                                     or options.with_nlu)]
    started = datetime.now(UTC)
    sections: list[str] = []
    all_ran = True
    for bench in chosen:
        ran, text, seconds = run(bench)
        all_ran &= ran
        command = " ".join([f"python -m bench.{bench.runs}", *bench.args])
        sections += [f"## {bench.title}", "", f"`{command}` — {seconds:.0f} s", "", text, ""]
    skipped = [b.name for b in BENCHES if b not in chosen]
    header = ["# Benchmark report", "", f"- Date: {started:%Y-%m-%d %H:%M} UTC (`make bench`)", *machine(),
              f"- Commit: {commit()}"]
    if skipped:
        header.append(f"- Not run this time: {', '.join(skipped)}" + (" (`make bench WITH_NLU=1` to include NLU)"
                                                                       if "nlu" in skipped else ""))
    options.out.write_text("\n".join([*header, "", *sections]).rstrip() + "\n", encoding="utf-8")
    print(f"wrote {options.out}", file=sys.stderr)
    return 0 if all_ran else 1


if __name__ == "__main__":
    sys.exit(main())

"""``python -m bench.nlu [--config PATH] [--rasa PATH_TO_RASA_BIN] [--keep DIR]``: the NLU pipeline on held-out data.

Trains an NLU-only model (``rasa train nlu``, the ``policies:`` of the config are ignored) from nlu/data in a
temporary directory, evaluates it with ``rasa test nlu`` on nlu/heldout/test.yml (never trained on) and reads the
JSON files Rasa writes there: intent accuracy and macro F1, the most frequent intent confusions, and per entity
extractor Rasa's entity figures. Rasa scores entities per token and per extractor (the ``extractor`` field of each
predicted entity), on their type only: values are not compared, so FrenchDateResolver's resolved values do not
count, but its spans do (it keeps DIET's outer span, drops a ``time`` entity it cannot read and, with
``extractor: FrenchDateResolver``, adds one over the whole message when DIET found none). Token-level figures
depend on the tokenizer, so the report adds span-level scores (exact type, start and end), per extractor and for
the whole pipeline (every extractor's spans together, as the dialogue sees them), which compare across tokenizers.
When Rasa refuses to score entities because two predicted entities of a message overlap (FrenchDateResolver's
merged span can cover another entity), the evaluation is run again with that check relaxed and the report says so.

Rasa's training cache is the run's own (RASA_CACHE_DIRECTORY in the work directory): every run trains every
component, so runs are independent (DIET has no fixed seed: expect a point or two between runs) and the training
time is real, and the project's .rasa/cache is not touched.

Prints a Markdown report; the figures are reported, not enforced. Exit code 0; 1 if training or evaluation failed;
2 if the rasa executable cannot be found.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DESCRIPTION = "Trains the NLU pipeline on nlu/data and scores intents and entities on the held-out split."
REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = REPO_ROOT / "bot" / "config.yml"
DEFAULT_RASA = REPO_ROOT / ".venv-rasa" / "bin" / "rasa"
TRAIN_DATA = "nlu/data"
HELDOUT = "nlu/heldout/test.yml"
NOT_ENTITY_REPORTS = {"intent_report.json", "response_selection_report.json"}
SUMMARY_KEYS = {"accuracy", "micro avg", "macro avg", "weighted avg"}
Span = tuple[int, int, str]
OVERLAP_EVENT = "test.overlaping.entities"  # sic, Rasa's spelling
# `rasa test nlu` with the check that makes Rasa stop when two predicted entities of a message overlap turned off.
RELAXED_TEST = """\
import sys
import rasa.nlu.test
rasa.nlu.test.do_any_extractors_not_support_overlap = lambda extractors: False
from rasa.__main__ import main
sys.argv = ["rasa", *sys.argv[1:]]
sys.exit(main())
"""


class BenchError(Exception):
    """A step failed; the message says which and where its log is."""


@dataclass
class SpanScore:
    """Exact-match counts of entity spans (type, start, end)."""

    tp: Counter[str] = field(default_factory=Counter)
    fp: Counter[str] = field(default_factory=Counter)
    fn: Counter[str] = field(default_factory=Counter)

    def add(self, gold: set[Span], predicted: set[Span]) -> None:
        for span in gold & predicted:
            self.tp[span[2]] += 1
        for span in predicted - gold:
            self.fp[span[2]] += 1
        for span in gold - predicted:
            self.fn[span[2]] += 1

    def prf(self, entity: str | None = None) -> tuple[float, float, float, int]:
        """Precision, recall, F1 and gold count, for one entity type or micro-averaged over all."""
        if entity is None:
            tp, fp, fn = sum(self.tp.values()), sum(self.fp.values()), sum(self.fn.values())
        else:
            tp, fp, fn = self.tp[entity], self.fp[entity], self.fn[entity]
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return precision, recall, f1, tp + fn


def find_rasa(given: str | None) -> Path | None:
    """The rasa executable: the path given (or a name on PATH), else the project's .venv-rasa."""
    candidate = given or str(DEFAULT_RASA)
    found = shutil.which(candidate)
    return Path(found).resolve() if found else None


def rasa_python(rasa: Path) -> Path:
    """The Python interpreter of the rasa executable's environment (its shebang, else the python beside it)."""
    first = rasa.read_bytes()[:512].split(b"\n", 1)[0].decode(errors="replace")
    if first.startswith("#!") and Path(first[2:].strip()).exists():
        return Path(first[2:].strip())
    return rasa.parent / "python"


def overlapping_entities(log: Path) -> list[str]:
    """The overlapping entities Rasa warned about before refusing to evaluate, one line each."""
    found: list[str] = []
    for line in log.read_text(errors="replace").splitlines():
        if OVERLAP_EVENT not in line or "{" not in line:
            continue
        try:
            event = json.loads(line[line.index("{"):])
        except json.JSONDecodeError:
            continue
        pair = [event.get("current_entity") or {}, event.get("next_entity") or {}]
        value = pair[0].get("value")
        text = f" in « {value['text']} »" if isinstance(value, dict) and "text" in value else ""
        found.append(" overlaps ".join(
            f"`{e.get('entity')}` {e.get('start')}–{e.get('end')} ({e.get('extractor')})" for e in pair
        ) + text)
    return found


def rasa_env(workdir: Path) -> dict[str, str]:
    """Rasa's settings; a training cache of the run's own, so every run trains (and times) every component and
    the project's .rasa/cache is left alone."""
    env = dict(os.environ)
    env.update(RASA_TELEMETRY_ENABLED="false", SQLALCHEMY_SILENCE_UBER_WARNING="1", TF_CPP_MIN_LOG_LEVEL="2",
               RASA_CACHE_DIRECTORY=str(workdir / "rasa-cache"))
    return env


@dataclass
class Timing:
    """Wall time and CPU time (user + system of the rasa process and its children) of one step, in seconds."""

    wall: float
    cpu: float

    def __str__(self) -> str:
        return f"{self.wall:.1f} s wall, {self.cpu:.1f} s CPU"


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_step(name: str, command: list[str], log: Path) -> Timing:
    """Runs one rasa command from the repository root, its output in `log`."""
    started, cpu = time.perf_counter(), children_cpu()
    with log.open("w") as out:
        returncode = subprocess.call(
            command, cwd=REPO_ROOT, env=rasa_env(log.parent), stdout=out, stderr=subprocess.STDOUT
        )
    timing = Timing(time.perf_counter() - started, children_cpu() - cpu)
    if returncode != 0:
        tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-30:])
        raise BenchError(f"{name} failed (exit {returncode}, log {log}):\n{tail}")
    return timing


def load_json(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def entity_spans(entities: Iterable[dict[str, Any]], extractor: str | None = None) -> set[Span]:
    """(start, end, type) of the entities, of one extractor only when given."""
    return {
        (int(e["start"]), int(e["end"]), str(e["entity"]))
        for e in entities
        if extractor is None or e.get("extractor") == extractor
    }


def span_scores(results: Path, extractors: list[str]) -> dict[str, SpanScore]:
    """Span-level scores per extractor and for the whole pipeline ("all").

    Rasa writes, per extractor, the messages where its token labels differ from the targets (errors) and those
    with at least one correct entity token (successes); each entry holds the targets and every extractor's
    predictions. Together they cover every message that has a target or a prediction.
    """
    messages: dict[tuple[str, str], tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {}
    for extractor in extractors:
        for kind in ("errors", "successes"):
            path = results / f"{extractor}_{kind}.json"
            if path.exists():
                for entry in load_json(path):
                    targets, predicted = list(entry.get("entities") or []), list(entry.get("predicted_entities") or [])
                    key = (str(entry["text"]), json.dumps(sorted(entity_spans(targets))))
                    messages[key] = (targets, predicted)
    scores = {name: SpanScore() for name in [*extractors, "all"]}
    for targets, predicted in messages.values():
        gold = entity_spans(targets)
        for extractor in extractors:
            scores[extractor].add(gold, entity_spans(predicted, extractor))
        scores["all"].add(gold, entity_spans(predicted))
    return scores


def intent_confusions(results: Path, report: dict[str, Any], top: int) -> list[tuple[str, str, int, str]]:
    """The most frequent (expected, predicted) intent pairs, with one example each.

    From intent_errors.json (every wrong prediction; FallbackClassifier's verdict is undone by Rasa, so the
    predicted intent is DIET's); from the report's "confused_with" (at most 3 per intent) if that file is absent.
    """
    errors_file = results / "intent_errors.json"
    pairs: Counter[tuple[str, str]] = Counter()
    examples: dict[tuple[str, str], str] = {}
    if errors_file.exists():
        for error in load_json(errors_file):
            pair = (str(error["intent"]), str((error.get("intent_prediction") or {}).get("name")))
            pairs[pair] += 1
            examples.setdefault(pair, str(error.get("text", "")))
    else:
        for intent, row in report.items():
            if intent not in SUMMARY_KEYS and isinstance(row, dict):
                for predicted, count in (row.get("confused_with") or {}).items():
                    pairs[(intent, str(predicted))] += int(count)
    return [(a, b, n, examples.get((a, b), "")) for (a, b), n in pairs.most_common(top)]


def percent(value: float) -> str:
    return f"{100 * value:.1f}"


def markdown_report(
    config: Path, rasa: Path, results: Path, train: Timing, test: Timing, load_before: float, top: int
) -> str:
    intent_report: dict[str, Any] = load_json(results / "intent_report.json")
    n_examples = int(intent_report["weighted avg"]["support"])
    accuracy = float(intent_report["accuracy"])
    macro = intent_report["macro avg"]
    lines = [
        "## NLU on the held-out split",
        "",
        f"Config `{config}`, rasa `{rasa}`, trained on `{TRAIN_DATA}`, tested on `{HELDOUT}`; "
        f"driver Python {platform.python_version()}, {os.cpu_count()} CPUs, load average before the run "
        f"{load_before:.2f} (other processes slow the timings down).",
        "",
        "| figure | value |",
        "|---|---|",
        f"| held-out examples | {n_examples} |",
        f"| intent accuracy | {percent(accuracy)} % ({round(accuracy * n_examples)}/{n_examples}) |",
        f"| intent macro F1 (P / R) | {percent(macro['f1-score'])} % "
        f"({percent(macro['precision'])} / {percent(macro['recall'])}) |",
        f"| intent weighted F1 | {percent(intent_report['weighted avg']['f1-score'])} % |",
    ]
    entity_files = sorted(p for p in results.glob("*_report.json") if p.name not in NOT_ENTITY_REPORTS)
    entity_reports: dict[str, dict[str, Any]] = {
        path.name.removesuffix("_report.json"): load_json(path) for path in entity_files
    }
    extractors = list(entity_reports)
    for name, report in entity_reports.items():
        micro = report.get("micro avg") or {}
        if micro:
            lines.append(
                f"| entities, {name}: token micro F1 (P / R) | {percent(micro['f1-score'])} % "
                f"({percent(micro['precision'])} / {percent(micro['recall'])}) |"
            )
    spans = span_scores(results, extractors)
    for name in ["all", *extractors]:
        p, r, f1, _ = spans[name].prf()
        label = "whole pipeline (all extractors)" if name == "all" else name
        lines.append(f"| entities, {label}: span micro F1 (P / R) | {percent(f1)} % ({percent(p)} / {percent(r)}) |")
    lines += [
        f"| training time (`rasa train nlu`) | {train} |",
        f"| evaluation time (`rasa test nlu`, model load included) | {test} |",
    ]

    entity_types = sorted(
        {k for report in entity_reports.values() for k in report if k not in SUMMARY_KEYS}
        | {t for score in spans.values() for t in (*score.tp, *score.fn)}
    )
    if entity_types:
        headers = [f"{name} token F1" for name in extractors] + ["pipeline span F1 (P / R)"]
        lines += ["", "Per entity (token F1 as Rasa scores each extractor; span F1 of the whole pipeline):", ""]
        lines += ["| entity | support (tokens) | " + " | ".join(headers) + " | gold spans |"]
        lines += ["|---" * (len(headers) + 3) + "|"]
        for entity in entity_types:
            support = next((int(r[entity]["support"]) for r in entity_reports.values() if entity in r), 0)
            cells = [percent(r[entity]["f1-score"]) if entity in r else "–" for r in entity_reports.values()]
            p, r, f1, gold = spans["all"].prf(entity)
            cells.append(f"{percent(f1)} ({percent(p)} / {percent(r)})")
            lines.append(f"| {entity} | {support} | " + " | ".join(cells) + f" | {gold} |")

    per_intent = sorted(
        ((k, v) for k, v in intent_report.items() if k not in SUMMARY_KEYS and isinstance(v, dict)),
        key=lambda kv: (kv[1]["f1-score"], kv[0]),
    )
    lines += ["", "Per intent (lowest F1 first):", "", "| intent | support | F1 | P | R |", "|---|---|---|---|---|"]
    lines += [
        f"| {k} | {int(v['support'])} | {percent(v['f1-score'])} | {percent(v['precision'])} | {percent(v['recall'])} |"
        for k, v in per_intent
    ]

    confusions = intent_confusions(results, intent_report, top)
    lines += ["", f"The {top} most frequent intent confusions:", ""]
    if confusions:
        lines += ["| expected | predicted | count | example |", "|---|---|---|---|"]
        lines += [f"| {a} | {b} | {n} | « {text} » |" for a, b, n, text in confusions]
    else:
        lines.append("None: every held-out intent was predicted correctly.")
    return "\n".join(lines)


def run(config: Path, rasa: Path, workdir: Path, top: int) -> str:
    load_before = os.getloadavg()[0]
    model_dir = workdir / "model"
    results = workdir / "results"
    for stale in (workdir / "rasa-cache", model_dir, results):  # a --keep directory used before: start afresh
        shutil.rmtree(stale, ignore_errors=True)
    train = run_step(
        "rasa train nlu",
        [str(rasa), "train", "nlu", "--config", str(config), "--nlu", TRAIN_DATA, "--out", str(model_dir),
         "--fixed-model-name", "nlu"],
        workdir / "train.log",
    )
    models = sorted(model_dir.glob("nlu*.tar.gz"))
    if not models:
        raise BenchError(f"rasa train nlu wrote no model in {model_dir} (log {workdir / 'train.log'})")
    test_args = ["test", "nlu", "--model", str(models[0]), "--nlu", HELDOUT, "--out", str(results), "--no-plot",
                 "--successes"]
    overlaps: list[str] = []
    try:
        test = run_step("rasa test nlu", [str(rasa), *test_args], workdir / "test.log")
    except BenchError:
        overlaps = overlapping_entities(workdir / "test.log")
        if not overlaps:
            raise
        # Rasa refuses to score DIET's entities when two of a message's entities overlap; score them anyway
        # (each token goes to the entity covering most of it) and say so in the report.
        test = run_step(
            "rasa test nlu (overlap check relaxed)",
            [str(rasa_python(rasa)), "-c", RELAXED_TEST, *test_args],
            workdir / "test-relaxed.log",
        )
    if not (results / "intent_report.json").exists():
        raise BenchError(f"rasa test nlu wrote no intent_report.json in {results} (log {workdir / 'test.log'})")
    report = markdown_report(config, rasa, results, train, test, load_before, top)
    if overlaps:
        report += (
            "\n\n**Rasa's entity evaluation failed** (`ValueError: The possible entities should not overlap`) on:\n\n"
            + "\n".join(f"- {line}" for line in overlaps)
            + "\n\nThe figures above come from a second evaluation with that check relaxed "
            "(each token is scored against the entity that covers most of it)."
        )
    return report
    return markdown_report(config, rasa, results, train, test, load_before, top)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.nlu", description=DESCRIPTION)
    parser.add_argument("--config", default=str(DEFAULT_CONFIG), help="pipeline config (default bot/config.yml)")
    parser.add_argument("--rasa", default=None, help="rasa executable (default .venv-rasa/bin/rasa)")
    parser.add_argument("--keep", metavar="DIR", default=None,
                        help="keep the model, logs and Rasa's reports in DIR (default: a temporary directory)")
    parser.add_argument("--top", type=int, default=10, help="intent confusions listed (default 10)")
    options = parser.parse_args(argv)
    rasa = find_rasa(options.rasa)
    if rasa is None:
        print(f"rasa not found ({options.rasa or DEFAULT_RASA}): set up the Rasa environment (make setup) "
              "or pass --rasa PATH_TO_RASA_BIN", file=sys.stderr)
        return 2
    config = Path(options.config).resolve()
    if not config.is_file():
        parser.error(f"no such config: {config}")
    try:
        if options.keep:
            workdir = Path(options.keep).resolve()
            workdir.mkdir(parents=True, exist_ok=True)
            print(run(config, rasa, workdir, max(1, options.top)))
        else:
            with tempfile.TemporaryDirectory(prefix="bench-nlu-") as tmp:
                print(run(config, rasa, Path(tmp), max(1, options.top)))
    except BenchError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

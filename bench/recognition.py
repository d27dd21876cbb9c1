"""``python -m bench.recognition [--limit N]``: the recognizers on real human French speech over a phone line.

Debian's Asterisk recordings (one human French speaker, voice/testing/human.py) go through an 8 kHz µ-law channel,
then to the recognizer at its rate, as a caller's voice does through the gateway. Printed as Markdown:

- word error rate on the recorded prompts (texts from core-sounds-fr.txt; case, accents and punctuation ignored,
  digits read as French words), for each Whisper encoder window;
- slot accuracy on composed answers: phone numbers by pairs, spelled pré-demande codes, days, dates — raw, and
  after :func:`voice.heard.checked` reads them for the question asked;
- decoding time per utterance, and the throughput of concurrent utterances sharing one pass.

Vosk is measured only when a French Vosk model is installed (``make models``): none can be obtained here.
"""

from __future__ import annotations

import argparse
import random
import re
import resource
import statistics
import time
import unicodedata
from collections.abc import Sequence
from concurrent.futures import wait
from pathlib import Path

from num2words import num2words

from bench.stats import percentile
from voice.audio import AudioFormat
from voice.heard import checked
from voice.models import DEFAULT_DEST as VOSK_DEST
from voice.models import find_model
from voice.testing.human import MONTHS, HumanVoice, on_the_line
from voice.whisper import WhisperTranscriber
from voice.whisper_model import DEFAULT_DEST, find_whisper_model

ROOT = Path(__file__).resolve().parents[1]
SLIN16K = AudioFormat("slin16", 16000)
DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi")


def words(text: str) -> list[str]:
    """Lower case, no accents, no punctuation, numbers as French words (« 12 » → « douze »)."""
    text = re.sub(r"\d+", lambda m: f" {num2words(int(m[0]), lang='fr')} ", text.lower().replace("’", "'"))
    text = "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))
    return re.sub(r"[^a-z' ]+", " ", text.replace("-", " ")).replace("'", " ").split()


def edit_distance(ref: Sequence[str], hyp: Sequence[str]) -> int:
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        previous, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (r != h))
    return row[-1]


def wer(pairs: Sequence[tuple[str, str]]) -> float:
    errors = sum(edit_distance(words(ref), words(hyp)) for ref, hyp in pairs)
    return errors / max(1, sum(len(words(ref)) for ref, _ in pairs))


def _slots(voice: HumanVoice, count: int, rng: random.Random) -> list[tuple[str, str, bytes, str]]:
    """(kind, requested slot, audio, expected) of composed answers."""
    items: list[tuple[str, str, bytes, str]] = []
    alphabet = "ABCDEFGHJKLMNPRSTUVXYZ0123456789"
    for _ in range(count):
        phone = "0" + rng.choice("67") + "".join(rng.choice("0123456789") for _ in range(8))
        items.append(("numéro de téléphone (par paires)", "phone", voice.digits(phone).pcm, phone))
        code = "".join(rng.choice(alphabet) for _ in range(10))
        items.append(("code de pré-demande épelé", "predemande_ids", voice.spell(code).pcm, code))
        day = rng.choice(DAYS)
        items.append(("jour de la semaine", "when", voice.weekday(day).pcm, day))
        date_day, month = rng.randint(1, 28), rng.randint(1, 12)
        items.append(("date (jour et mois)", "when", voice.date(date_day, month).pcm, f"{date_day} {month}"))
    return items


def _right(kind: str, heard: str, expected: str) -> bool:
    if kind.startswith("numéro"):
        return re.sub(r"\D", "", heard) == expected
    if kind.startswith("code"):
        return re.sub(r"[^A-Z0-9]", "", heard.upper()) == expected
    if kind.startswith("jour"):
        return expected in words(heard)
    day, month = expected.split()
    said = words(heard)
    return num2words(int(day), lang="fr").split("-")[0] in said and words(MONTHS[int(month) - 1])[0] in said


def run(limit: int, slot_count: int) -> str:
    model = find_whisper_model(ROOT / DEFAULT_DEST)
    if model is None:
        raise SystemExit("no Whisper model in data/models/whisper-base: run `make setup`")
    voice = HumanVoice(rate=8000)
    prompts = [(name, on_the_line(pcm), text) for name, pcm, text in voice.wer_set(limit)]
    audio_s = sum(SLIN16K.duration_ms(len(pcm)) for _, pcm, _ in prompts) / 1000
    lines = ["# Speech recognition on human French speech (8 kHz µ-law)", "",
             f"{len(prompts)} recorded prompts of Debian's asterisk-core-sounds-fr ({audio_s / 60:.1f} min, one "
             "speaker, fr-CA), through a µ-law channel; Whisper base int8, greedy, temperature 0, 2 threads.", "",
             "| Recognizer | Encoder window | WER | Decode p50 | Decode p95 | Real-time factor |",
             "|---|---|---|---|---|---|"]
    misses: list[str] = []
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for window in ("fit", "full"):
        whisper = WhisperTranscriber(model, threads=2, window=window)
        whisper.transcribe(SLIN16K.silence(500))  # loads the model
        times, pairs = [], []
        for name, pcm, text in prompts:
            start = time.perf_counter()
            heard = whisper.transcribe(pcm).text
            times.append(time.perf_counter() - start)
            pairs.append((text, heard))
            if window == "fit" and edit_distance(words(text), words(heard)) > max(2, len(words(text)) // 3):
                misses.append(f"- `{name}`: « {text} » → « {heard} »")
        whisper.close()
        lines.append(f"| Whisper base | {window} ({'utterance length, 5 s steps' if window == 'fit' else '30 s'}) | "
                     f"{wer(pairs):.1%} | {percentile(times, 50) * 1000:.0f} ms | {percentile(times, 95) * 1000:.0f} "
                     f"ms | {sum(times) / audio_s:.2f} |")
    rss_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    vosk = find_model(ROOT / VOSK_DEST)
    lines.append(f"| Vosk | streaming | {'not measured here' if vosk is None else 'run with a French model'} | | | |")
    lines += ["", f"Memory: the recognizer added {rss_mb:.0f} MB of peak RSS to this process.", ""]

    rng = random.Random(20261203)
    whisper = WhisperTranscriber(model, threads=2)
    items = _slots(voice, slot_count, rng)
    tally: dict[str, list[int]] = {}
    slot_misses: list[str] = []
    for kind, slot, pcm, expected in items:
        raw = whisper.transcribe(on_the_line(pcm)).text
        read = checked(raw, slot)
        right = tally.setdefault(kind, [0, 0, 0])
        right[0] += _right(kind, raw, expected)
        right[1] += _right(kind, read, expected)
        right[2] += 1
        if not _right(kind, read, expected) and len(slot_misses) < 12:
            slot_misses.append(f"- {kind}: expected « {expected} », heard « {raw} », read « {read} »")
    lines += [f"## Slot accuracy ({slot_count} composed answers of each kind, seed 20261203)", "",
              "| Answer | Raw | Read for the question (voice/heard.py) |", "|---|---|---|"]
    for kind, (raw_ok, read_ok, total) in tally.items():
        lines.append(f"| {kind} | {raw_ok / total:.0%} | {read_ok / total:.0%} |")
    total_right = sum(v[1] for v in tally.values()) / max(1, sum(v[2] for v in tally.values()))
    lines += ["", f"All slots, read for the question: {total_right:.1%} (target ≥ 95 %).", ""]

    lines += ["## Concurrent utterances: one pass for all, or one after the other", "",
              "| Utterances at once | Together: wall time | Passes | One after the other: wall time |",
              "|---|---|---|---|"]
    sample = [pcm for _, pcm, _ in prompts[:8]]
    for concurrent in (1, 2, 4, 8):
        batch = (sample * 8)[:concurrent]
        whisper.batches.clear()
        start = time.perf_counter()
        wait([whisper.submit(pcm) for pcm in batch])
        together = time.perf_counter() - start
        passes = len(whisper.batches)
        start = time.perf_counter()
        for pcm in batch:
            whisper.submit(pcm).result()
        alone = time.perf_counter() - start
        lines.append(f"| {concurrent} | {together * 1000:.0f} ms | {passes} | {alone * 1000:.0f} ms |")
    whisper.close()
    lines += ["", "## Prompts misheard most (fit window)", "", *(misses[:15] or ["- none"]), "",
              "## Slot answers misread", "", *(slot_misses or ["- none"]), ""]
    median_s = statistics.median(SLIN16K.duration_ms(len(p)) for _, p, _ in prompts) / 1000
    lines.append(f"Median prompt length: {median_s:.1f} s.")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.recognition", description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=150, help="recorded prompts for the WER (default 150)")
    parser.add_argument("--slots", type=int, default=40, help="composed answers of each kind (default 40)")
    options = parser.parse_args(argv)
    print(run(options.limit, options.slots))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

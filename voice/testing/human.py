"""Test callers made of real human French speech: the Asterisk fr_CA "June" recordings shipped by Debian.

Debian ``asterisk-core-sounds-fr-wav`` (CC-BY-SA) installs ~560 recordings of one speaker (8 kHz mono 16-bit WAV)
under ``/usr/share/asterisk/sounds/fr_CA_f_June``: IVR prompts, digits 0–20 and the tens, letters, days, months.
Their texts are in ``core-sounds-fr.txt`` of ``asterisk-core-sounds-fr``. The composers below join recordings into
what a caller would say (a phone number by pairs, a spelled reference, a date) and return the audio with the text
it should be recognised as. Audio is mono slin16 at the voice's rate (8000 or 16000 Hz; the source is 8 kHz, so
16 kHz adds no bandwidth). For µ-law use :func:`voice.audio.convert` (``SLIN8K`` → ``ULAW8K``).

The parts of one number are joined tight (« vingt | et | un », 10 ms crossfade), without the liaisons a speaker
would make (« vingt-deux » keeps the standalone « vin »); words are separated by ``pause_ms`` of silence.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import NamedTuple

import numpy as np

from voice.audio import SLIN8K, ULAW8K, AudioFormat, Samples, convert, read_wav, remix, resample, to_samples

SOUNDS_PACKAGE = "asterisk-core-sounds-fr-wav"
TEXTS_PACKAGE = "asterisk-core-sounds-fr"
DEFAULT_ROOT = Path("/usr/share/asterisk/sounds/fr_CA_f_June")
DEFAULT_TRANSCRIPTS = Path("/usr/share/doc/asterisk-core-sounds-fr/core-sounds-fr.txt.gz")
SOURCE_RATE = 8000
RATES = (8000, 16000)

_UNITS = ("zéro un deux trois quatre cinq six sept huit neuf dix onze douze treize quatorze quinze seize "
          "dix-sept dix-huit dix-neuf").split()
_TENS = {20: "vingt", 30: "trente", 40: "quarante", 50: "cinquante", 60: "soixante", 70: "soixante-dix",
         80: "quatre-vingts", 90: "quatre-vingt-dix"}
WEEKDAYS = ("dimanche", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi")  # Asterisk's day-0 is Sunday
MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
          "novembre", "décembre")
_SYMBOLS = {"-": "letters/dash", ".": "letters/dot", "@": "letters/at", "/": "letters/slash", "+": "letters/plus",
            "*": "digits/star", "#": "digits/pound"}
# Texts missing from, or wrong in, core-sounds-fr.txt (typos; et, h-80 and asterisk checked with a recogniser).
_TEXT_FIXES = {"digits/et": "et", "digits/h-80": "quatre-vingtième", "digits/h-16": "seizième",
               "digits/h-billion": "milliardième", "letters/asterisk": "astérisque"}
# Prompts whose transcript is not a fair reference for recognition (spelled acronyms, an onomatopoeia).
_NOT_FOR_WER = frozenset({"spy-h323", "spy-iax", "spy-iax2", "spy-nbs", "spy-sip"})
_UNIT_DIRS = ("digits/", "letters/", "phonetic/", "silence/")


def on_the_line(pcm8: bytes, rate: int = 16000) -> bytes:
    """8 kHz speech as a recognizer gets it from a call: through a µ-law telephone channel, then at ``rate``."""
    heard = convert(convert(pcm8, SLIN8K, ULAW8K), ULAW8K, SLIN8K)
    return heard if rate == SLIN8K.rate else convert(heard, SLIN8K, AudioFormat("slin16", rate))


class HumanVoiceMissing(RuntimeError):
    """The recordings or their transcripts are not installed."""


class UnknownUnit(LookupError):
    """No recording (or no known text) for a unit name, a letter, a weekday…"""


class Said(NamedTuple):
    """An utterance: mono slin16 audio and the text it should be recognised as."""

    pcm: bytes
    text: str


@dataclass(frozen=True)
class Word:
    """Recordings said as one word (joined without pause) and the word's written form."""

    units: tuple[str, ...]
    text: str


# --- what to say: pure, no audio ---------------------------------------------------------------------------------


def number_word(n: int) -> Word:
    """0–99 the way a French speaker says it, from the files that exist (0–20, 30, 40 … 90, « et »)."""
    if not 0 <= n <= 99:
        raise ValueError(f"{n} is not between 0 and 99")
    if n < 20:
        return Word((f"digits/{n}",), _UNITS[n])
    if n in _TENS:
        return Word((f"digits/{n}",), _TENS[n])
    tens, rest = (60, n - 60) if 70 < n < 80 else (80, n - 80) if n > 80 else (n - n % 10, n % 10)
    head = _TENS[tens].removesuffix("s")
    if rest in (1, 11) and tens != 80:  # vingt et un, soixante et onze; but quatre-vingt-un
        return Word((f"digits/{tens}", "digits/et", f"digits/{rest}"), f"{head} et {_UNITS[rest]}")
    return Word((f"digits/{tens}", f"digits/{rest}"), f"{head}-{_UNITS[rest]}")


def number_words(n: int) -> list[Word]:
    """0–999 999 in words (« deux cent trois », « mille vingt »)."""
    if not 0 <= n < 1_000_000:
        raise ValueError(f"{n} is not between 0 and 999 999")
    if n < 100:
        return [number_word(n)]
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        cent = "cents" if hundreds > 1 and not rest else "cent"
        head = [] if hundreds == 1 else [number_word(hundreds)]
        return [*head, Word(("digits/hundred",), cent), *(number_words(rest) if rest else [])]
    thousands, rest = divmod(n, 1000)
    head = [] if thousands == 1 else [Word(w.units, w.text.removesuffix("s")) for w in number_words(thousands)]
    return [*head, Word(("digits/thousand",), "mille"), *(number_words(rest) if rest else [])]


def digit_words(digits: str, *, by_pairs: bool = True) -> list[Word]:
    """A digit string (spaces, dots and dashes ignored) one digit at a time, or by pairs as French phone numbers
    are said: « zéro six, douze, trente-quatre … » (a pair starting with 0 is said « zéro » + digit)."""
    clean = re.sub(r"[\s.\-]", "", digits)
    if not clean.isdigit() or not clean.isascii():
        raise ValueError(f"not a digit string: {digits!r}")
    if not by_pairs:
        return [number_word(int(d)) for d in clean]
    words: list[Word] = []
    for i in range(0, len(clean), 2):
        pair = clean[i : i + 2]
        words += [number_word(int(d)) for d in pair] if pair[0] == "0" or len(pair) == 1 else [number_word(int(pair))]
    return words


def spell_words(text: str) -> list[Word]:
    """Letters and digits one by one (spaces ignored), plus « - . @ / + * # »."""
    words = []
    for ch in text.lower():
        if ch.isspace():
            continue
        if ch.isascii() and ch.isalpha():
            words.append(Word((f"letters/{ch}",), ch))
        elif ch.isascii() and ch.isdigit():
            words.append(number_word(int(ch)))
        elif ch in _SYMBOLS:
            words.append(Word((_SYMBOLS[ch],), ""))  # text filled from the transcript when rendered
        else:
            raise UnknownUnit(f"no recording to spell {ch!r} (only a–z, 0–9 and {''.join(_SYMBOLS)})")
    return words


def weekday_word(name: str) -> Word:
    """« lundi » … « dimanche » (any case)."""
    key = name.strip().lower()
    if key not in WEEKDAYS:
        raise UnknownUnit(f"unknown weekday {name!r}; expected one of {', '.join(WEEKDAYS)}")
    return Word((f"digits/day-{WEEKDAYS.index(key)}",), key)


def date_words(day: int, month: int, weekday: str | None = None) -> list[Word]:
    """« [jeudi] vingt et un décembre », « premier mai ». No recording of « le » exists, so it is never said."""
    if not 1 <= day <= 31 or not 1 <= month <= 12:
        raise ValueError(f"no such date: day {day}, month {month}")
    head = [weekday_word(weekday)] if weekday else []
    the_day = Word(("digits/h-1",), "premier") if day == 1 else number_word(day)
    return [*head, the_day, Word((f"digits/mon-{month - 1}",), MONTHS[month - 1])]


def hour_words(hour: int, minute: int = 0) -> list[Word]:
    """« quatorze heures trente ». 1 h and 21 h need « une », which is not recorded (only « un »)."""
    if not 0 <= hour <= 23 or not 0 <= minute <= 59:
        raise ValueError(f"no such time: {hour}:{minute:02d}")
    if hour in (1, 21):
        raise ValueError(f"{hour} h needs « une heure(s) »; the recordings only have « un »")
    tail = number_words(minute) if minute else []
    return [*number_words(hour), Word(("digits/oclock" if hour == 0 else "hours",), ""), *tail]


# --- transcripts ---------------------------------------------------------------------------------------------------


def parse_transcripts(text: str) -> dict[str, str]:
    """``name: text`` lines of core-sounds-fr.txt (``;`` comments and blank lines skipped; texts stripped)."""
    entries = {}
    for line in text.splitlines():
        match = re.match(r"^([^\s:;][^\s:]*):\s*(.*)$", line)
        if match:
            entries[match[1]] = match[2].strip()
    return entries


def clean_text(text: str) -> str:
    """What is actually said: no ``[non-speech]`` marks, no one-word ``(annotation)``, no quotes."""
    text = re.sub(r"\[[^\]]*\]|\(\s*\w+\s*\)", " ", text)
    text = re.sub(r"[“”\"]", "", text).replace("(", "").replace(")", "")
    return re.sub(r"\s+", " ", text).strip()


# --- audio ---------------------------------------------------------------------------------------------------------


def _trim(samples: Samples, rate: int, *, floor_db: float = 40.0, margin_ms: float = 20.0) -> Samples:
    """Cut leading and trailing silence: keep from the first to the last 10 ms frame within ``floor_db`` of the
    loudest frame, plus ``margin_ms`` either side; 5 ms fades so joins do not click."""
    step = rate // 100
    n = len(samples) // step
    if n == 0:
        return samples
    level = np.sqrt(np.mean(samples[: n * step].astype(np.float64).reshape(n, step) ** 2, axis=1)) + 1e-9
    loud = np.flatnonzero(20 * np.log10(level / level.max()) > -floor_db)
    margin = int(rate * margin_ms / 1000)
    out = samples[max(0, loud[0] * step - margin) : min(len(samples), (loud[-1] + 1) * step + margin)].astype(float)
    fade = min(int(rate * 0.005), len(out) // 2)
    if fade:
        ramp = np.linspace(0.0, 1.0, fade)
        out[:fade] *= ramp
        out[-fade:] *= ramp[::-1]
    return np.round(out).astype(np.int16)


def _join(parts: Sequence[Samples], crossfade_ms: float = 10.0) -> Samples:
    """Parts of one word, each overlapping the previous by ``crossfade_ms`` (their faded edges add up)."""
    out = parts[0].astype(np.float64)
    for part in parts[1:]:
        k = min(int(SOURCE_RATE * crossfade_ms / 1000), len(out), len(part))
        out = np.concatenate([out[: len(out) - k], out[len(out) - k :] + part[:k], part[k:]])
    return np.clip(np.round(out), -32768, 32767).astype(np.int16)


def _silence(ms: float, rate: int = SOURCE_RATE) -> Samples:
    return np.zeros(int(rate * ms / 1000), dtype=np.int16)


Item = str | Word | Said | bytes
"""What :meth:`HumanVoice.sentence` joins: a unit name, a :class:`Word`, a :class:`Said`, or raw slin16 audio
at the voice's rate (which adds no text)."""


class HumanVoice:
    """The installed recordings, and composers that make caller utterances of them.

    ``rate`` is the output rate (8000 or 16000); ``pause_ms`` separates words, ``edge_ms`` of silence opens and
    closes every composed utterance.
    """

    def __init__(self, root: Path = DEFAULT_ROOT, transcripts_path: Path = DEFAULT_TRANSCRIPTS, *, rate: int = 8000,
                 pause_ms: float = 200.0, edge_ms: float = 300.0) -> None:
        if rate not in RATES:
            raise ValueError(f"rate must be one of {RATES}, not {rate}")
        if not (root / "digits" / "0.wav").is_file():
            raise HumanVoiceMissing(f"no French recordings in {root}: install the Debian package {SOUNDS_PACKAGE} "
                                    "(it is in deploy/debian-packages.txt: make debian)")
        if not transcripts_path.is_file() and not transcripts_path.with_suffix("").is_file():
            raise HumanVoiceMissing(f"no transcripts at {transcripts_path}: install the Debian package {TEXTS_PACKAGE}")
        self.root, self.transcripts_path = root, transcripts_path
        self.rate, self.pause_ms, self.edge_ms = rate, pause_ms, edge_ms
        self._texts: dict[str, str] | None = None

    # -- units

    def names(self) -> list[str]:
        """Every recording, as a unit name (``digits/5``, ``vm-goodbye``), sorted."""
        return sorted(p.relative_to(self.root).with_suffix("").as_posix() for p in self.root.rglob("*.wav"))

    def transcripts(self) -> dict[str, str]:
        """Prompt name → text from core-sounds-fr.txt, for the recordings that exist and have a non-empty text."""
        if self._texts is None:
            path = self.transcripts_path
            if path.is_file():
                with gzip.open(path, "rt", encoding="utf-8") as file:
                    raw = file.read()
            else:
                raw = path.with_suffix("").read_text(encoding="utf-8")
            existing = set(self.names())
            self._texts = {k: v for k, v in parse_transcripts(raw).items() if v and k in existing}
        return self._texts

    def text(self, name: str) -> str:
        """What a unit says (the transcript, cleaned and corrected); :class:`UnknownUnit` if not known."""
        if name in _TEXT_FIXES:
            return _TEXT_FIXES[name]
        if name.startswith("silence/"):
            return ""
        if name not in self.transcripts():
            known = "exists but has no transcript" if (self.root / f"{name}.wav").is_file() else "does not exist"
            raise UnknownUnit(f"recording {name!r} {known} in {self.root}")
        return clean_text(self.transcripts()[name])

    def clip(self, name: str, rate: int | None = None) -> bytes:
        """One recording, untouched but for the rate: mono slin16 at ``rate`` (default: the voice's)."""
        return _to_bytes(resample(self._source(name), SOURCE_RATE, rate or self.rate))

    # -- composers

    def digits(self, digits: str, *, by_pairs: bool = True) -> Said:
        """A phone number or any digit string, by pairs the French way or digit by digit."""
        return self.sentence(*digit_words(digits, by_pairs=by_pairs))

    def spell(self, text: str) -> Said:
        """Letters and digits one by one (« a b un deux … »)."""
        return self.sentence(*spell_words(text))

    def number(self, n: int) -> Said:
        """A number 0–999 999."""
        return self.sentence(*number_words(n))

    def weekday(self, name: str) -> Said:
        """« jeudi »."""
        return self.sentence(weekday_word(name))

    def date(self, day: int, month: int, weekday: str | None = None) -> Said:
        """« [jeudi] vingt et un décembre » (without « le »: not recorded)."""
        return self.sentence(*date_words(day, month, weekday))

    def hour(self, hour: int, minute: int = 0) -> Said:
        """« quatorze heures trente »."""
        return self.sentence(*hour_words(hour, minute))

    def sentence(self, *items: Item) -> Said:
        """Join items with ``pause_ms`` between them and ``edge_ms`` of silence before and after."""
        if not items:
            raise ValueError("nothing to say")
        parts, texts = [_silence(self.edge_ms)], []
        for i, item in enumerate(items):
            samples, text = self._item(item)
            parts += [_silence(self.pause_ms)] if i else []
            parts.append(samples)
            texts += [text] if text else []
        parts.append(_silence(self.edge_ms))
        pcm = _to_bytes(resample(np.concatenate(parts), SOURCE_RATE, self.rate))
        return Said(pcm, " ".join(texts))

    def wer_set(self, limit: int | None = None, *, include_units: bool = False) -> list[tuple[str, bytes, str]]:
        """(name, pcm, reference text) of the prompts fit for a word error rate measure, sorted by name: no empty or
        non-speech transcript, no spelled acronym; single digits, letters, days, months only with ``include_units``."""
        out = []
        for name in sorted(self.transcripts()):
            if name in _NOT_FOR_WER or (name.startswith(_UNIT_DIRS) and not include_units):
                continue
            text = self.text(name)
            if not re.search(r"\w", text):
                continue
            out.append((name, self.sentence(name).pcm, text))
            if limit is not None and len(out) >= limit:
                break
        return out

    # -- internals

    def _item(self, item: Item) -> tuple[Samples, str]:
        if isinstance(item, bytes):
            return _to_source(item, self.rate), ""
        if isinstance(item, Said):
            return _to_source(item.pcm, self.rate), item.text
        if isinstance(item, str):
            return _trim(self._source(item), SOURCE_RATE), self.text(item)
        text = item.text or " ".join(self.text(u) for u in item.units)
        if len(item.units) == 1:
            return _trim(self._source(item.units[0]), SOURCE_RATE), text
        return _join([_trim(self._source(u), SOURCE_RATE, floor_db=35, margin_ms=5) for u in item.units]), text

    def _source(self, name: str) -> Samples:
        return _load(self.root, name)


@cache
def _load(root: Path, name: str) -> Samples:
    """A recording's samples at its own rate (8 kHz), mono; cached."""
    path = root / f"{name}.wav"
    if not re.fullmatch(r"[\w-]+(/[\w-]+)?", name) or not path.is_file():
        raise UnknownUnit(f"no recording {name!r} in {root}")
    data, fmt = read_wav(path)
    if fmt.rate != SOURCE_RATE:
        raise ValueError(f"{path} is {fmt.rate} Hz, expected {SOURCE_RATE}")
    samples = remix(to_samples(data, fmt), fmt.channels, 1)
    samples.setflags(write=False)
    return samples


def _to_bytes(samples: Samples) -> bytes:
    return np.asarray(samples, dtype="<i2").tobytes()


def _to_source(pcm: bytes, rate: int) -> Samples:
    return resample(to_samples(pcm, SLIN8K), rate, SOURCE_RATE)


def units_of(words: Iterable[Word]) -> list[str]:
    """The recordings behind some words, in order."""
    return [unit for word in words for unit in word.units]

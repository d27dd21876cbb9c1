"""What the recognizer heard, checked against what the bot has just asked (the requested slot).

A whole-utterance recognizer such as Whisper writes what it hears with no vocabulary: « Judi » for « jeudi » said
alone, « 0, 6, 12 » for a phone number, « 20 et 1 » or « 60, 11 » for numbers said in pieces, « M A R T I N » for a
spelled name. Knowing the question makes these readable by the dialogue: a day or an ordinal close to a known word
becomes that word, numbers said in pieces are joined the French way, the commas between digits go, a spelled name is
joined. Nothing changes for an open question.
"""

from __future__ import annotations

import difflib
import re
import unicodedata

from voice.hints import HINT_PHRASES, SLOT_HINTS, HintSet, slots_hinted

_CLOSE = 0.74  # how close a heard word must be to a known one to be read as it (« judi » → « jeudi »: 0.89)
_NUMBER_SLOTS = slots_hinted(HintSet.DIGITS)  # phone, people, ages, codes, references, days
_TENS_ET = re.compile(r"\b([2-6]0)\s*,?\s+et\s+(1|11)\b")  # « vingt et un », « soixante et onze »
_TENS_UNIT = re.compile(r"\b([2-9]0)\s*,?\s+([1-9]|1[0-9])\b(?!\s*(?:h\b|heures?\b|:))")
_DIGIT_COMMAS = re.compile(r"(?<=\d)\s*,\s*(?=\d)")


def _fold(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", word.lower()) if not unicodedata.combining(c))


def join_number_pieces(text: str) -> str:
    """« 20 et 1 » → « 21 », « 60, 11 » → « 71 », « 80 12 » → « 92 »; the commas between digits go."""
    text = _TENS_ET.sub(lambda m: str(int(m[1]) + int(m[2])), text)

    def tens_unit(m: re.Match[str]) -> str:
        tens, unit = int(m[1]), int(m[2])
        if unit >= 10 and tens not in (60, 80):  # only « soixante-dix… » and « quatre-vingt-dix… » take a teen
            return m[0]
        return str(tens + unit)

    text = _TENS_UNIT.sub(tens_unit, text)
    return _DIGIT_COMMAS.sub(" ", text)


def snap_words(text: str, vocabulary: tuple[str, ...]) -> str:
    """Each word of ``text`` that is not known but close to one word of ``vocabulary`` becomes that word."""
    words = {_fold(w): w for phrase in vocabulary for w in phrase.split() if len(w) >= 3}
    out = []
    for token in re.findall(r"[\wÀ-ÿ'-]+|[^\w\s]", text):
        folded = _fold(token)
        if len(folded) < 3 or folded in words or not folded.isalpha():
            out.append(token)
            continue
        match = difflib.get_close_matches(folded, list(words), n=1, cutoff=_CLOSE)
        out.append(words[match[0]] if match else token)
    return " ".join(out)


def join_spelled(text: str) -> str:
    """« M A R T I N », « M-A-R-T-I-N » or « du, p, o, n, t » (D U heard as « du ») → « Martin », « Dupont »;
    anything else unchanged."""
    tokens = [t for t in re.split(r"[\s.,\-]+", text.strip()) if t]
    singles = sum(len(t) == 1 for t in tokens)
    if len(tokens) < 3 or not all(t.isalpha() and len(t) <= 2 for t in tokens) or singles < 0.6 * len(tokens):
        return text
    letters = "".join(tokens)
    return letters[:1].upper() + letters[1:].lower()


def checked(text: str, requested_slot: str | None) -> str:
    """``text`` made readable for the answer to ``requested_slot`` (unchanged for open questions)."""
    if not text or requested_slot is None:
        return text
    if requested_slot == "person_name":
        return join_spelled(text)
    if requested_slot in _NUMBER_SLOTS:
        text = join_number_pieces(text)
    sets = SLOT_HINTS.get(requested_slot, ())
    words = tuple(p for s in sets if s is not HintSet.SPELLING for p in HINT_PHRASES[s])
    if requested_slot == "chosen_slot":
        words = ("premier", "première", "deuxième", "second", "seconde", "troisième", "dernier", "autres")
    return snap_words(text, words) if words else text

"""Speakable French: turns a bot reply written for reading into the text a TTS engine should say.

``speakable("Rendez-vous mardi 1er décembre à 10 h 30, réf. K7M4-QX9B")`` says the date and time in words and
spells the reference with the French spelling alphabet. Pure functions, no I/O: one ordered table of rules.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from num2words import num2words

from guichet.french import display_phone
from guichet.references import ALPHABET as REFERENCE_ALPHABET

__all__ = ["RULES", "SPELLING_ALPHABET", "Rule", "say_number", "speakable", "spell"]

SPELLING_ALPHABET: dict[str, str] = {
    "A": "Anatole", "B": "Berthe", "C": "Célestin", "D": "Désiré", "E": "Eugène", "F": "François",
    "G": "Gaston", "H": "Henri", "I": "Irma", "J": "Joseph", "K": "Kléber", "L": "Louis", "M": "Marcel",
    "N": "Nicolas", "O": "Oscar", "P": "Pierre", "Q": "Quintal", "R": "Raoul", "S": "Suzanne", "T": "Thérèse",
    "U": "Ursule", "V": "Victor", "W": "William", "X": "Xavier", "Y": "Yvonne", "Z": "Zoé",
}
# espeak-ng reads a lone "Y" as "i": write the letter's name.
_LETTER_NAMES = {"Y": "i grec"}

# Nouns that make "un" feminine ("une heure", "vingt et une personnes").
_FEMININE = ("heure", "minute", "seconde", "personne", "semaine", "journée", "année", "nuit", "fois", "pièce",
             "photo", "demande", "pré-demande", "carte", "place")
_MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
           "novembre", "décembre")

Replacement = str | Callable[[re.Match[str]], str]


@dataclass(frozen=True, slots=True)
class Rule:
    """One rewrite: every match of ``pattern`` becomes ``replace`` (a ``re.sub`` template or function)."""

    name: str
    pattern: re.Pattern[str]
    replace: Replacement


def say_number(digits: str, *, feminine: bool = False) -> str:
    """``"86"`` → ``quatre-vingt-six``; ``"05"`` → ``zéro cinq`` (a leading zero is said digit by digit)."""
    if len(digits) > 1 and digits.startswith("0"):
        return " ".join(_DIGITS[int(d)] for d in digits)
    words: str = num2words(int(digits), lang="fr")
    return re.sub(r"(^|[ -])un$", r"\1une", words) if feminine else words


_DIGITS = tuple(num2words(d, lang="fr") for d in range(10))


def spell(code: str) -> str:
    """``K7M4-QX9B`` → ``K comme Kléber, sept, M comme Marcel, …``: letters by the spelling alphabet, digits in
    words, commas for pauses; spaces, dashes and dots are dropped."""
    said = []
    for char in code.upper():
        if char.isdigit():
            said.append(_DIGITS[int(char)])
        elif char in SPELLING_ALPHABET:
            said.append(f"{_LETTER_NAMES.get(char, char)} comme {SPELLING_ALPHABET[char]}")
    return ", ".join(said)


def _hour(hour: int, minutes: int | None) -> str:
    if minutes is None and hour == 12:
        return "midi"
    said = "minuit" if hour == 0 else f"{say_number(str(hour), feminine=True)} heure{'s' if hour > 1 else ''}"
    return f"{said} {say_number(str(minutes), feminine=True)}" if minutes else said


def _time(m: re.Match[str]) -> str:
    start = _hour(int(m[1]), int(m[2]) if m[2] else None)
    return f"{start} à {_hour(int(m[3]), int(m[4]) if m[4] else None)}" if m[3] else start


def _amount(m: re.Match[str]) -> str:
    euros = int(re.sub(r"\D", "", m[1]))
    said = f"{say_number(str(euros))} euro{'s' if euros > 1 else ''}"
    cents = int(m[2].ljust(2, "0")) if m[2] else 0
    return f"{said} {say_number(str(cents))}" if cents else said


def _ordinal(m: re.Match[str]) -> str:
    if m[1] == "1":
        return "premier" if m[2] == "er" else "première"
    return str(num2words(int(m[1]), lang="fr", to="ordinal"))


def _numeric_date(m: re.Match[str]) -> str:
    day, month = int(m[1]), int(m[2])
    if not 1 <= month <= 12 or not 1 <= day <= 31:
        return m[0]
    return f"{'premier' if day == 1 else say_number(str(day))} {_MONTHS[month - 1]} {say_number(m[3])}"


def _phone(m: re.Match[str]) -> str:
    pairs = display_phone("0" + m[1] + re.sub(r"\D", "", m[2])).split()
    return ", ".join(say_number(pair) for pair in pairs)


def _number(m: re.Match[str]) -> str:
    said = say_number(m[1], feminine=m[3] is not None)
    return f"{said} virgule {say_number(m[2])}" if m[2] else said


_REF = f"[{REFERENCE_ALPHABET}]"
_T = r"([01]?\d|2[0-3]) ?[hH] ?([0-5]\d)?(?!\w)"
_EMOJI = "[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\u2300-\u23ff\ufe0f\u200d\u20e3]"


def _r(name: str, pattern: str, replace: Replacement, flags: int = 0) -> Rule:
    return Rule(name, re.compile(pattern, flags), replace)


RULES: tuple[Rule, ...] = (
    # Layout: links, markup and lines become plain sentences.
    _r("markdown link", r"\[([^\]]+)\]\([^)]*\)", r"\1"),
    _r("url", r"(?:https?://|www\.)[^\s<>()\[\]«»\"]*[^\s<>()\[\]«»\".,;:!?]", ""),
    _r("emoji", _EMOJI + "+", ""),
    _r("markup", r"\*\*|__|`+|^#+\s*", "", re.MULTILINE),
    _r("list item", r"^[^\S\n]*(?:[-*•·–]|\d{1,2}[.)])[^\S\n]+", "", re.MULTILINE),
    _r("line after punctuation", r"(?<=[.!?:;,…])[^\S\n]*\n\s*", " "),
    _r("line", r"[^\S\n]*\n\s*", ". "),
    # Things to say digit group by digit group or letter by letter, before any number is read as a quantity.
    _r("phone", r"(?<![\d+])(?:\+33 ?(?:\(0\) ?)?|0)([1-9])((?:[ .\-]?\d{2}){4})(?!\d)", _phone),
    _r("reference", rf"(?<![\w-]){_REF}{{4}}-{_REF}{{4}}(?![\w-])", lambda m: spell(m[0])),
    _r("reference", rf"(?<![\w-])(?={_REF}{{0,7}}\d)(?={_REF}{{0,7}}[A-Z]){_REF}{{8}}(?![\w-])", lambda m: spell(m[0])),
    _r("spaced reference", rf"(?<![\w-]){_REF}(?: {_REF}){{3}}(?: -)? {_REF}(?: {_REF}){{3}}(?![\w-])",
       lambda m: spell(m[0])),
    _r("pre-application", r"(?<![\w-])(?=[A-Z0-9]{0,9}\d)(?=[A-Z0-9]{0,9}[A-Z])[A-Z0-9]{10}(?![\w-])",
       lambda m: spell(m[0])),
    # Dates, times, amounts.
    _r("numeric date", r"(?<![\d/])(\d{1,2})/(\d{1,2})/(\d{4})(?![\d/])", _numeric_date),
    _r("24/7", r"\b24 ?h? ?/ ?24\b(?: ?,? ?7 ?j? ?/ ?7\b)?|\b24/7\b",
       lambda m: "vingt-quatre heures sur vingt-quatre" + (", sept jours sur sept" if "7" in m[0] else "")),
    _r("7/7", r"\b7 ?j ?/ ?7\b", "sept jours sur sept"),
    _r("time", rf"(?<![\d,.:/]){_T}(?: ?[-–] ?{_T})?", _time),
    _r("clock time", r"(?<![\d:,.])([01]?\d|2[0-3]):([0-5]\d)(?![\d:])", lambda m: _hour(int(m[1]), int(m[2]))),
    _r("amount", r"(?<![\d,])(\d{1,3}(?:[ \u00a0\u202f]\d{3})+|\d+)(?:[,.](\d{1,2}))? ?(?:€|\bEUR\b|\beuros?\b)",
       _amount),
    _r("dimensions", r"(\d) ?[x×] ?(?=\d)", r"\1 sur "),
    _r("millimetres", r"(\d) ?mm\b", r"\1 millimètres"),
    _r("percent", r"(\d) ?%", r"\1 pour cent"),
    _r("minutes", r"(\d+) ?min\b\.?", lambda m: f"{m[1]} minute{'s' if int(m[1]) > 1 else ''}"),
    _r("ordinal", r"\b(\d+)(er|re|ère|e|ème|è)\b", _ordinal),
    # Abbreviations.
    _r("acronym in brackets", r" ?\((?:CNI|ANTS)\)", ""),
    _r("CNI", r"\bCNIe?\b", "carte d'identité"),
    _r("ANTS", r"\bANTS\b", "A N T S"),
    _r("rdv", r"\brdv\b", "rendez-vous", re.IGNORECASE),
    _r("Mme", r"\bMme\b", "madame"),
    _r("Mlle", r"\bMlle\b", "mademoiselle"),
    _r("MM.", r"\bMM\.(?= [A-ZÀ-Ý])", "messieurs"),
    _r("M.", r"\bM\.(?= [A-ZÀ-Ý])", "monsieur"),
    _r("n°", r"\b[nN]° ?", "numéro "),
    _r("tél.", r"\b[tT]él\.", "téléphone"),
    _r("&", r" & ", " et "),
    _r("word/word", r"(?<=[a-zà-ÿ])/(?=[a-zA-Zà-ÿ])", " ou "),
    # Any number left is a quantity or a year.
    _r("thousands", r"(?<![\d,])(\d{1,3})((?:[ \u00a0\u202f]\d{3})+)(?![\d,])",
       lambda m: m[1] + re.sub(r"\D", "", m[2])),
    _r("number", rf"(?<![\w,])(\d+)(?:,(\d+))?(?!\w)(?=( (?:{'|'.join(_FEMININE)})s?\b)?)", _number),
    # Tidy what the removals left behind.
    _r("empty brackets", r"\(\s*\)", ""),
    _r("space before point", r"\s+(?=[.,])", ""),
    _r("orphan punctuation", r"[,:;]+(?=[.!?])|(?<=[.!?])[.,:;]+|^[\s.,:;]+", ""),
    _r("spaces", r"[ \t\u00a0\u202f]{2,}", " "),
)


def speakable(text: str) -> str:
    """The French to *say* for a reply written to be read (see ``RULES``); already-speakable text is unchanged."""
    for rule in RULES:
        text = rule.pattern.sub(rule.replace, text)
    return text.strip()

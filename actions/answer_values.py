"""What the citizen's request is about, read from slots, entities or free text: procedure, case, adult or minor, age.

Slot values come from DIET entities (after synonyms: ``passport``, ``perte``, ``mineur``…); when DIET found nothing,
a small keyword map reads the free-text answer ("je l'ai perdue" → ``perte``, "mon fils" → ``mineur``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rasa_sdk import Tracker

from actions import slots as slot_values
from actions.common import entity_values, latest_text
from actions.extract import digits
from knowledge.facts_schema import ADULT_AGE, MAX_AGE

PROCEDURES = ("passport", "cni", "both")
CASES = ("premiere_demande", "renouvellement", "perte", "vol", "deterioration", "changement_de_nom", "hebergement")
AGE_GROUPS = ("adulte", "mineur")

# Checked in order: the more specific situation wins ("renouveler ma carte perdue" is a loss).
_CASE_WORDS: tuple[tuple[str, str], ...] = (
    ("vol", r"\bvol(e|ee|es|ees)?\b|\bderob|\bcambriol"),
    ("perte", r"\bperd|\bperte\b|\begar|\bplus (le |la )?(re)?trouv|\btrouve plus\b"),
    ("deterioration", r"\babim|\bcasse|\bdechir|\bendommag|\bdeterior|\billisible|\bmouill"),
    ("changement_de_nom", r"\bnom\b|\bmariage\b|\bmariee?\b|\bdivorc"),
    ("hebergement", r"\bheberg"),
    ("renouvellement", r"\brenouv|\bexpir|\bperime|\bplus valable|\bfin de validite"),
    ("premiere_demande", r"\bpremier|\bpremiere|\b1 ?ere?\b|\bjamais (eu|fait)|\bnouvelle demande"),
)
_MINOR_WORDS = (r"\bfils\b|\bfilles?\b|\benfants?\b|\bbebes?\b|\bados?\b|\badolescente?s?\b|\bmineure?s?\b|"
                r"\bpetite?\b|\bgarcons?\b")
_ADULT_WORDS = r"\bpour moi\b|\bmoi meme\b|\bmoi\b|\badultes?\b|\bmajeure?s?\b|\bmon mari\b|\bma femme\b|\bepou"
_PASSPORT_WORDS = r"\bpasse? ?ports?\b"
_CNI_WORDS = r"\bcni\b|\bcartes? (nationales? )?d ?identite\b|\bcartes?\b|\bidentite\b"
_BOTH_WORDS = r"\bles deux\b|\bdeux\b|\btous les deux\b"
_AGE = re.compile(r"\b(\d{1,3}) ?(ans?|mois)\b")


def fold(text: str) -> str:
    """Lower case, no accents, punctuation as spaces: ``"Je l'ai perdue !"`` → ``"je l ai perdue"``."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^a-z0-9]+", " ", plain).split())


def _values(value: Any) -> list[str]:
    if value is None:
        return []
    items: Iterable[Any] = value if isinstance(value, list | tuple) else [value]
    return [str(v) for v in items if v is not None and str(v).strip()]


def procedure_from(value: Any) -> str | None:
    """``passport`` / ``cni`` / ``both`` from a slot value, an entity value or free text; None if not one."""
    found: set[str] = set()
    for item in _values(value):
        if item in PROCEDURES:
            found.add(item)
            continue
        text = fold(item)
        if re.search(_BOTH_WORDS, text):
            found.add("both")
        if re.search(_PASSPORT_WORDS, text):
            found.add("passport")
        if re.search(_CNI_WORDS, text):
            found.add("cni")
    if "both" in found or {"passport", "cni"} <= found:
        return "both"
    return next(iter(found), None)


def case_from(value: Any) -> str | None:
    """A case key (``perte``…) from a slot value, an entity value or free text; None if not understood."""
    for item in _values(value):
        if item in CASES:
            return item
    for item in _values(value):
        text = fold(item)
        for case, pattern in _CASE_WORDS:
            if re.search(pattern, text):
                return case
    return None


def age_from(text: str) -> int | None:
    """The age said in a sentence ("mon fils de seize ans" → 16, "un bébé de 6 mois" → 0), else None."""
    if not text:
        return None
    match = _AGE.search(fold(digits(text.lower())))
    if not match:
        return None
    years = 0 if match.group(2) == "mois" else int(match.group(1))
    return years if years <= MAX_AGE else None


def number_from(text: str) -> int | None:
    """A bare number of years ("8", "huit", "16 ans") as an answer to "quel âge a l'enfant ?"."""
    said = age_from(text)
    if said is not None:
        return said
    numbers = re.findall(r"\b(\d{1,3})\b", fold(digits(text.lower()))) if text else []
    return int(numbers[0]) if len(numbers) == 1 and int(numbers[0]) <= MAX_AGE else None


def age_group_from(value: Any) -> str | None:
    """``adulte`` / ``mineur`` from a value or free text ("mon fils", "pour moi", "16 ans"); None if not said."""
    for item in _values(value):
        if item in AGE_GROUPS:
            return item
    for item in _values(value):
        text = fold(item)
        if re.search(_MINOR_WORDS, text):
            return "mineur"
        if re.search(_ADULT_WORDS, text):
            return "adulte"
        age = age_from(item)
        if age is not None:
            return "mineur" if age < ADULT_AGE else "adulte"
    return None


@dataclass(frozen=True)
class Request:
    """What is known of the citizen's request; None where still unknown."""

    procedure: str | None = None
    case: str | None = None
    minor: bool | None = None
    age: int | None = None

    @property
    def hosted(self) -> bool | None:
        return True if self.case == "hebergement" else None


def _first(tracker: Tracker, slot: str) -> Any:
    value = tracker.get_slot(slot)
    return value if value not in (None, "", []) else entity_values(tracker, slot) or None


def request_from(tracker: Tracker) -> Request:
    """The request from the slots, completed by the latest message's entities and words (for questions)."""
    procedure = procedure_from(_first(tracker, "procedure"))
    raw_case = _first(tracker, "case")
    case = case_from(raw_case)
    group = age_group_from(_first(tracker, "age_group"))
    if group is None and "mineur" in _values(raw_case):
        group = "mineur"
    age = slot_values.age(tracker.get_slot("child_age"))
    if age is None:
        age = age_from(latest_text(tracker))
    if age is not None and group is None:
        group = "mineur" if age < ADULT_AGE else "adulte"
    if age is not None and (group == "mineur") != (age < ADULT_AGE):
        age = None  # "mineur" with "30 ans" in the sentence: the age was someone else's
    minor = None if group is None else group == "mineur"
    return Request(procedure, case, minor, age)

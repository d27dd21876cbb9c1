"""Schema of ``facts.yaml`` (national passport / CNI facts) and the cross-checks run when it is loaded."""

from __future__ import annotations

import re
from collections.abc import Container
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator, model_validator

from knowledge.town import Procedure

Title = Literal["passport", "cni"]
Reason = Literal["premiere_demande", "renouvellement", "perte", "vol", "deterioration", "changement_de_nom"]
Situation = Literal["mineur", "hebergement"]
Case = Literal[Reason, Situation]
AnswerTopic = Literal["photo", "validity", "predemande", "collection", "delay", "status", "stamp", "where",
                      "originals", "proof_of_address", "minor", "emergency"]
Topic = Literal[AnswerTopic, "fees"]
QuestionKey = Literal["procedure", "reason", "minor", "child_age", "hosted"]
DocKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,47}$")]
Loc = tuple[str | int, ...]

PROCEDURES: tuple[Procedure, ...] = get_args(Procedure)
TITLES: tuple[Title, ...] = get_args(Title)
REASONS: tuple[Reason, ...] = get_args(Reason)
SITUATIONS: tuple[Situation, ...] = get_args(Situation)
CASES: tuple[Case, ...] = (*REASONS, *SITUATIONS)
ANSWER_TOPICS: tuple[AnswerTopic, ...] = get_args(AnswerTopic)
TOPICS: tuple[Topic, ...] = (*ANSWER_TOPICS, "fees")
QUESTION_KEYS: tuple[QuestionKey, ...] = get_args(QuestionKey)
QUESTION_OPTIONS: dict[QuestionKey, frozenset[str]] = {
    "procedure": frozenset(), "reason": frozenset(), "child_age": frozenset(),
    "minor": frozenset({"adult", "minor"}), "hosted": frozenset({"own", "hosted"}),
}
ADULT_AGE = 18
MAX_AGE = 130
STAMP_DOCUMENT = "timbre_fiscal"
LONG_TEXT = 300
_URL = re.compile(r"https?://|www\.", re.IGNORECASE)


def euros(amount: Decimal) -> str:
    """French rendering of an amount: ``86 €``, ``8,50 €``."""
    whole = amount == amount.to_integral_value()
    return f"{amount:.0f} €" if whole else f"{amount:.2f} €".replace(".", ",")


class ConsistencyError(ValueError):
    """The file matches the schema but its parts do not fit together (unknown reference, missing entry...)."""

    def __init__(self, problems: list[tuple[Loc, str]]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, loc))}: {msg}" for loc, msg in problems))
        self.problems = problems


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(_Strict):
    """A text for citizens: ``text`` is written (chat), ``voice`` is the phone version (no web address)."""

    voice: str | None = Field(None, min_length=1)  # before text, so that text's validator sees it
    text: str = Field(min_length=1)

    @field_validator("voice")
    @classmethod
    def _spoken_has_no_link(cls, value: str | None) -> str | None:
        if value is not None and _URL.search(value):
            raise ValueError("voice : pas d'adresse web dans la version orale")
        return value

    @field_validator("text")
    @classmethod
    def _needs_voice(cls, value: str, info: ValidationInfo) -> str:
        if "voice" in info.data and info.data["voice"] is None and (_URL.search(value) or len(value) > LONG_TEXT):
            raise ValueError("version orale (voice:) obligatoire quand le texte contient un lien ou est long")
        return value

    @property
    def spoken(self) -> str:
        return self.voice or self.text


class Sourced(_Strict):
    """Where a fact comes from (an address or a section of passport-facts.md) and when it was last checked."""

    source: str = Field(min_length=5)
    checked: date


class Fact(Text, Sourced):
    """A sourced text."""


class ProcedureInfo(Fact):
    label: str = Field(min_length=1)
    name: str = Field(min_length=1)


class CaseInfo(Sourced):
    kind: Literal["reason", "situation"]
    label: str = Field(min_length=1)
    note: Text | None = None


class Dossier(Sourced):
    """The documents for one procedure and one reason, as keys of ``documents``."""

    items: tuple[DocKey, ...] = Field(min_length=1)
    caveat: Text | None = None


class SituationRule(Sourced):
    """How a situation (minor, hosted) changes a dossier: documents added per procedure, or one replaced by others."""

    condition: Text
    add: dict[Title, tuple[DocKey, ...]] = Field(default_factory=dict)
    replace: dict[DocKey, tuple[DocKey, ...]] = Field(default_factory=dict)


class FeeRule(Fact):
    """A fiscal-stamp amount; ``{montant}`` in ``label``/``text``/``voice`` is replaced by the amount."""

    procedure: Title
    cases: tuple[Reason, ...] | None = None
    min_age: int = Field(0, ge=0, le=MAX_AGE)
    max_age: int = Field(MAX_AGE, ge=0, le=MAX_AGE)
    amount: Decimal = Field(ge=0, max_digits=7, decimal_places=2)
    label: str = Field(min_length=1)

    @model_validator(mode="after")
    def _coherent(self) -> FeeRule:
        if self.max_age < self.min_age:
            raise ValueError(f"max_age {self.max_age} est inférieur à min_age {self.min_age}")
        return self

    def matches(self, procedure: Title, reason: Reason, age: int) -> bool:
        return (self.procedure == procedure and (self.cases is None or reason in self.cases)
                and self.min_age <= age <= self.max_age)

    def render(self, template: str) -> str:
        return template.replace("{montant}", euros(self.amount))


class PredemandeFormat(Sourced):
    pattern: str

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"expression régulière invalide : {exc}") from None
        return value


class QuestionEntry(Text):
    options: dict[str, str] = Field(default_factory=dict)


class FactsFile(_Strict):
    """The whole of ``facts.yaml``."""

    procedures: dict[Procedure, ProcedureInfo]
    cases: dict[Case, CaseInfo]
    documents: dict[DocKey, Fact]
    dossiers: dict[Title, dict[Reason, Dossier]]
    situations: dict[Situation, SituationRule]
    fees: tuple[FeeRule, ...] = Field(min_length=1)
    predemande_number: PredemandeFormat
    answers: dict[AnswerTopic, Fact]
    questions: dict[QuestionKey, QuestionEntry]

    def first_fee(self, procedure: Title, reason: Reason, age: int) -> FeeRule | None:
        return next((rule for rule in self.fees if rule.matches(procedure, reason, age)), None)


def _missing(section: str, present: Container[str], expected: tuple[str, ...]) -> list[tuple[Loc, str]]:
    absent = [key for key in expected if key not in present]
    return [((section,), f"entrées manquantes : {', '.join(absent)}")] if absent else []


def consistency_problems(facts: FactsFile) -> list[tuple[Loc, str]]:
    """Everything the schema alone cannot see: missing entries, unknown document keys, uncovered fees."""
    problems = [
        *_missing("procedures", facts.procedures, PROCEDURES),
        *_missing("cases", facts.cases, CASES),
        *_missing("situations", facts.situations, SITUATIONS),
        *_missing("answers", facts.answers, ANSWER_TOPICS),
        *_missing("questions", facts.questions, QUESTION_KEYS),
        *_missing("dossiers", facts.dossiers, TITLES),
    ]
    for key, info in facts.cases.items():
        expected = "reason" if key in REASONS else "situation"
        if info.kind != expected:
            problems.append((("cases", key, "kind"), f"doit valoir {expected!r}"))

    def unknown(loc: Loc, keys: tuple[str, ...]) -> None:
        for index, doc in enumerate(keys):
            if doc not in facts.documents:
                problems.append(((*loc, index), f"document inconnu {doc!r} (absent de documents)"))

    for title, by_reason in facts.dossiers.items():
        problems += _missing(f"dossiers.{title}", by_reason, REASONS)
        for reason, dossier in by_reason.items():
            unknown(("dossiers", title, reason, "items"), dossier.items)
    for name, rule in facts.situations.items():
        for title, docs in rule.add.items():
            unknown(("situations", name, "add", title), docs)
        for old, docs in rule.replace.items():
            unknown(("situations", name, "replace"), (old,))
            unknown(("situations", name, "replace", old), docs)
    stamp = facts.documents.get(STAMP_DOCUMENT)
    if stamp is None or "{montant}" not in stamp.text:
        problems.append((("documents",), f"{STAMP_DOCUMENT} : document obligatoire, avec {{montant}} dans text"))
    for index, fee in enumerate(facts.fees):
        if fee.amount > 0 and "{montant}" not in fee.text:
            problems.append((("fees", index, "text"), "doit contenir {montant} pour un tarif payant"))
    for title in TITLES:
        for reason in REASONS:
            age = next((a for a in range(MAX_AGE + 1) if facts.first_fee(title, reason, a) is None), None)
            if age is not None:
                problems.append((("fees",), f"aucun tarif pour {title} / {reason} à {age} ans"))
    for question, entry in facts.questions.items():
        if set(entry.options) != QUESTION_OPTIONS[question]:
            wanted = ", ".join(sorted(QUESTION_OPTIONS[question])) or "aucune"
            problems.append((("questions", question, "options"), f"options attendues : {wanted}"))
    return problems

"""What the bot's actions ask the knowledge base: documents, fees, answers, and which questions are still needed.

Load it with ``knowledge.loader.load_facts()``. Arguments are the plain strings the dialogue holds (slot values);
an unknown procedure, case, topic or age raises :class:`UnknownFact` naming the accepted values.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from knowledge.facts_schema import (
    ADULT_AGE,
    CASES,
    MAX_AGE,
    PROCEDURES,
    REASONS,
    STAMP_DOCUMENT,
    TOPICS,
    Case,
    CaseInfo,
    ConsistencyError,
    Fact,
    FactsFile,
    FeeRule,
    ProcedureInfo,
    QuestionKey,
    Reason,
    Situation,
    Sourced,
    Text,
    Title,
    consistency_problems,
    euros,
)

__all__ = ["CASES", "PROCEDURES", "TOPICS", "Answer", "Document", "Facts", "Fee", "Question", "UnknownFact"]

_TITLES: dict[str, tuple[Title, ...]] = {"passport": ("passport",), "cni": ("cni",), "both": ("passport", "cni")}


class UnknownFact(ValueError):
    """A procedure, case, topic or age that the knowledge base does not know."""


@dataclass(frozen=True)
class Document:
    """One document to bring. ``condition`` is set when it applies only in a situation not yet known."""

    key: str
    text: str
    voice: str
    source: str
    checked: date
    condition: Situation | None = None


@dataclass(frozen=True)
class Fee:
    """The fiscal stamp. ``amount`` is None when the age is needed to decide; ``text`` then lists the amounts."""

    amount: Decimal | None
    text: str
    voice: str
    source: str
    checked: date

    @property
    def stamp_needed(self) -> bool:
        return self.amount is None or self.amount > 0


@dataclass(frozen=True)
class Answer:
    topic: str
    text: str
    voice: str
    source: str
    checked: date


@dataclass(frozen=True)
class Question:
    """A question that decides the case; ``options`` are (value, label) pairs, empty for a free answer (an age)."""

    key: QuestionKey
    text: str
    voice: str
    options: tuple[tuple[str, str], ...] = ()


def _check(kind: str, value: str, accepted: tuple[str, ...]) -> None:
    if value not in accepted:
        raise UnknownFact(f"{kind} inconnu(e) : {value!r} (attendu : {', '.join(accepted)})")


def _sources(entries: Sequence[Sourced]) -> tuple[str, date]:
    return "; ".join(dict.fromkeys(e.source for e in entries)), min(e.checked for e in entries)


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


class Facts:
    """National passport / CNI facts, validated and cross-checked (see ``facts_schema.consistency_problems``)."""

    def __init__(self, data: FactsFile) -> None:
        problems = consistency_problems(data)
        if problems:
            raise ConsistencyError(problems)
        self.data = data
        self._predemande = re.compile(data.predemande_number.pattern)
        self._procedures: dict[str, ProcedureInfo] = {k: v for k, v in data.procedures.items()}
        self._cases: dict[str, CaseInfo] = {k: v for k, v in data.cases.items()}
        self._answers: dict[str, Fact] = {k: v for k, v in data.answers.items()}

    # --- lookups -------------------------------------------------------------------------------------------------
    def procedure(self, procedure: str) -> ProcedureInfo:
        _check("procédure", procedure, PROCEDURES)
        return self._procedures[procedure]

    def case(self, case: str) -> CaseInfo:
        _check("cas", case, CASES)
        return self._cases[case]

    def answer(self, topic: str) -> Answer:
        """A ready answer on ``topic`` (photo, validity, predemande, collection, delay, status, stamp, fees...)."""
        _check("sujet", topic, TOPICS)
        if topic == "fees":
            return self._fees_overview()
        fact = self._answers[topic]
        return Answer(topic, fact.text, fact.spoken, fact.source, fact.checked)

    def normalize_predemande(self, text: str) -> str | None:
        """The pré-demande number in canonical form (upper case, no spaces), or None if it has the wrong format."""
        number = re.sub(r"\s+", "", text).upper()
        return number if self._predemande.fullmatch(number) else None

    # --- the case ------------------------------------------------------------------------------------------------
    def _resolve(self, procedure: str, case: str, age: int | None, minor: bool | None,
                 hosted: bool | None) -> tuple[tuple[Title, ...], Reason, bool | None, bool | None]:
        self.procedure(procedure)
        self.case(case)
        if age is not None:
            if not isinstance(age, int) or isinstance(age, bool) or not 0 <= age <= MAX_AGE:
                raise UnknownFact(f"âge invalide : {age!r} (attendu : 0 à {MAX_AGE})")
            if minor is not None and minor != (age < ADULT_AGE):
                raise UnknownFact(f"âge {age} incompatible avec minor={minor}")
            minor = age < ADULT_AGE
        if case == "mineur":
            if minor is False:
                raise UnknownFact("cas 'mineur' incompatible avec minor=False")
            minor = True
        if case == "hebergement":
            hosted = True
        reason: Reason = case if case in REASONS else "premiere_demande"
        return _TITLES[procedure], reason, minor, hosted

    def case_questions(self, procedure: str | None = None, case: str | None = None, *, age: int | None = None,
                       minor: bool | None = None, hosted: bool | None = None) -> list[Question]:
        """The questions still needed, in asking order, to know the documents and the fee.

        ``child_age`` is asked only for a minor's passport (the stamp depends on it). ``hosted`` is asked while
        unknown; an action may skip it, since ``documents(hosted=None)`` lists the host's papers as conditional.
        """
        _, _, minor, hosted = self._resolve(procedure or "both", case or "premiere_demande", age, minor, hosted)
        needed: list[QuestionKey] = []
        if procedure is None:
            needed.append("procedure")
        if case is None or case not in REASONS:
            needed.append("reason")
        if minor is None:
            needed.append("minor")
        if minor and age is None and procedure in ("passport", "both"):
            needed.append("child_age")
        if hosted is None:
            needed.append("hosted")
        return [self._question(key) for key in needed]

    def _question(self, key: QuestionKey) -> Question:
        entry = self.data.questions[key]
        options: tuple[tuple[str, str], ...]
        if key == "procedure":
            options = tuple((p, _upper_first(self._procedures[p].label)) for p in PROCEDURES)
        elif key == "reason":
            options = tuple((r, _upper_first(self._cases[r].label)) for r in REASONS)
        else:
            options = tuple(entry.options.items())
        return Question(key, entry.text, entry.spoken, options)

    # --- documents -----------------------------------------------------------------------------------------------
    def documents(self, procedure: str, case: str, *, age: int | None = None, minor: bool | None = None,
                  hosted: bool | None = None) -> list[Document]:
        """The documents to bring, fiscal stamp included.

        ``case`` is a reason (premiere_demande, renouvellement, perte, vol, deterioration, changement_de_nom) or a
        situation (mineur, hebergement: then the reason is taken as premiere_demande). ``minor``/``hosted`` None
        means unknown: the documents of that situation come with ``condition`` set and the condition in the text.
        """
        titles, reason, minor, hosted = self._resolve(procedure, case, age, minor, hosted)
        found: dict[str, Document] = {}
        stamps = []
        for title in titles:
            for doc in self._title_documents(title, reason, minor, hosted):
                if doc.key not in found or (doc.condition is None and found[doc.key].condition is not None):
                    found[doc.key] = doc
            rules = self._fee_rules(title, reason, age, minor)
            if any(rule.amount > 0 for rule in rules):
                stamps.append(self._stamp(title, rules))
        return [*found.values(), *stamps]

    def notes(self, procedure: str, case: str, *, minor: bool | None = None,
              hosted: bool | None = None) -> list[Answer]:
        """Warnings that go with the document list: the case's note, the situations' notes, dossier caveats."""
        titles, reason, minor, hosted = self._resolve(procedure, case, None, minor, hosted)
        keys: list[Case] = [reason]
        if minor:
            keys.append("mineur")
        if hosted:
            keys.append("hebergement")
        texts: list[tuple[str, Text, Sourced]] = [(k, n, self.data.cases[k]) for k in keys
                                                  if (n := self.data.cases[k].note) is not None]
        for title in titles:
            dossier = self.data.dossiers[title][reason]
            if dossier.caveat is not None:
                texts.append((f"{title}.{reason}", dossier.caveat, dossier))
        unique = {note.text: (key, note, origin) for key, note, origin in texts}
        return [Answer(key, note.text, note.spoken, origin.source, origin.checked)
                for key, note, origin in unique.values()]

    def _title_documents(self, title: Title, reason: Reason, minor: bool | None,
                         hosted: bool | None) -> list[Document]:
        rows: list[tuple[str, Situation | None]] = [(key, None) for key in self.data.dossiers[title][reason].items]
        states: tuple[tuple[Situation, bool | None], ...] = (("hebergement", hosted), ("mineur", minor))
        for situation, known in states:
            if known is False:
                continue
            rule = self.data.situations[situation]
            condition = situation if known is None else None
            for old, new in rule.replace.items():
                if (old, None) in rows:
                    at = rows.index((old, None))
                    rows[at:at + 1] = [*([] if known else [(old, None)]), *((key, condition) for key in new)]
            rows += [(key, condition) for key in rule.add.get(title, ())]
        return [self._document(key, condition) for key, condition in rows]

    def _document(self, key: str, condition: Situation | None) -> Document:
        fact = self.data.documents[key]
        text, voice = fact.text, fact.spoken
        if condition is not None:
            when = self.data.situations[condition].condition
            text, voice = f"{when.text} : {_lower_first(text)}", f"{when.spoken} : {_lower_first(voice)}"
        return Document(key, text, voice, fact.source, fact.checked, condition)

    def _stamp(self, title: Title, rules: list[FeeRule]) -> Document:
        template = self.data.documents[STAMP_DOCUMENT]
        amount = euros(rules[0].amount) if len(rules) == 1 else ", ".join(r.render(r.label) for r in rules)
        name = self.data.procedures[title].name

        def fill(text: str) -> str:
            return text.replace("{titre}", name).replace("{montant}", amount)

        source, checked = _sources([template, *rules])
        return Document(f"{STAMP_DOCUMENT}:{title}", fill(template.text), fill(template.spoken), source, checked)

    # --- fees ----------------------------------------------------------------------------------------------------
    def _fee_rules(self, title: Title, reason: Reason, age: int | None, minor: bool | None) -> list[FeeRule]:
        if age is not None:
            ages = range(age, age + 1)
        else:
            ages = {None: range(MAX_AGE + 1), True: range(ADULT_AGE), False: range(ADULT_AGE, MAX_AGE + 1)}[minor]
        matched = {self.data.first_fee(title, reason, a) for a in ages}
        return [rule for rule in self.data.fees if rule in matched]  # in file order

    def fee(self, procedure: str, case: str, age: int | None = None, *, minor: bool | None = None) -> Fee:
        """The fiscal stamp for this request. Without ``age`` (or ``minor`` for a CNI) the amount may be None."""
        titles, reason, minor, _ = self._resolve(procedure, case, age, minor, None)
        parts: list[Fee] = []
        for title in titles:
            rules = self._fee_rules(title, reason, age, minor)
            source, checked = _sources(rules)
            if len({rule.amount for rule in rules}) == 1:
                rule = rules[0]
                parts.append(Fee(rule.amount, rule.render(rule.text), rule.render(rule.spoken), source, checked))
            else:
                label = _upper_first(self.data.procedures[title].label)
                text = f"{label} : {', '.join(rule.render(rule.label) for rule in rules)}."
                parts.append(Fee(None, text, text, source, checked))
        amounts = [part.amount for part in parts]
        total = None if None in amounts else sum((a for a in amounts if a is not None), Decimal(0))
        return Fee(total, " ".join(p.text for p in parts), " ".join(p.voice for p in parts),
                   "; ".join(dict.fromkeys(p.source for p in parts)), min(p.checked for p in parts))

    def _fees_overview(self) -> Answer:
        lines = []
        for title in ("passport", "cni"):
            labels = dict.fromkeys(r.render(r.label) for r in self.data.fees if r.procedure == title)
            lines.append(f"{_upper_first(self.data.procedures[title].label)} : {', '.join(labels)}.")
        source, checked = _sources(self.data.fees)
        return Answer("fees", " ".join(lines), " ".join(lines), source, checked)

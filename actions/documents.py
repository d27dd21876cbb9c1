"""The documents flow: ``documents_form`` asks only what decides the list, then ``action_answer_documents`` gives it.

Which questions are needed comes from ``Facts.case_questions`` (the child's age only for a minor's passport, and
only when the domain declares a ``child_age`` slot). Free-text answers are read for the question being asked
("je l'ai perdue" → ``perte``); an answer that is not a possible value gets a clear explanation before the form asks
again.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT, FormValidationAction
from rasa_sdk.types import DomainDict

from actions import slots as slot_values
from actions.answer_dossier import documents_reply
from actions.answer_values import age_from, age_group_from, case_from, number_from, procedure_from, request_from
from actions.common import entity_values, latest_intent, latest_text, say
from actions.deps import deps
from guichet.french import join_and
from knowledge.facts import CASES
from knowledge.facts_schema import ADULT_AGE

log = logging.getLogger(__name__)

# Intents whose text may be an answer to the question being asked (a question intent goes to its own rule).
_ANSWER_INTENTS = frozenset({"inform", "affirm", "deny", "nlu_fallback", "ask_documents"})


def _options(key: str) -> str:
    """``un adulte ou un enfant mineur`` from the knowledge base's question options."""
    question = next(q for q in deps().facts.case_questions() if q.key == key)
    return join_and([label[:1].lower() + label[1:] for _, label in question.options], "ou")


def _reasons() -> str:
    facts = deps().facts
    return join_and([facts.case(case).label for case in CASES if facts.case(case).kind == "reason"], "ou")


class ValidateDocumentsForm(FormValidationAction):
    """Validates and normalizes procedure, case, age group (and the child's age) for ``documents_form``."""

    def name(self) -> str:
        return "validate_documents_form"

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: DomainDict) -> list[str]:
        facts = deps().facts
        procedure = procedure_from(tracker.get_slot("procedure"))
        case = case_from(tracker.get_slot("case"))
        group = age_group_from(tracker.get_slot("age_group"))
        known_age = slot_values.age(tracker.get_slot("child_age"))
        minor = None if group is None else group == "mineur"
        if known_age is not None and minor is not None and minor != (known_age < ADULT_AGE):
            known_age = None
        needed = {q.key for q in facts.case_questions(procedure, case, age=known_age, minor=minor, hosted=False)}
        slots = ["procedure", "case"]
        if "minor" in needed or tracker.get_slot("age_group") is not None:
            slots.append("age_group")
        # The child's age decides a minor's passport stamp; while "minor?" is open it may already be said.
        child_age_open = "child_age" in needed or ("minor" in needed and procedure != "cni")
        if "child_age" in (domain.get("slots") or {}) and (child_age_open or tracker.get_slot("child_age") is not None):
            slots.append("child_age")
        return slots

    async def next_requested_slot(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                  domain: DomainDict) -> EventType | None:
        """Always says which slot comes next (None ends the form), even when the list matches the domain's."""
        required = await self.required_slots(self.domain_slots(domain), dispatcher, tracker, domain)
        return SlotSet(REQUESTED_SLOT, next((slot for slot in required if tracker.get_slot(slot) is None), None))

    # --- free-text answers to the question being asked -----------------------------------------------------------
    @staticmethod
    def _answer_to(tracker: Tracker, slot: str) -> str | None:
        """The text of the latest message when it answers ``slot`` and DIET found no entity for it."""
        if tracker.get_slot(REQUESTED_SLOT) != slot or latest_intent(tracker) not in _ANSWER_INTENTS:
            return None
        if entity_values(tracker, slot) or slot in tracker.slots_to_validate():
            return None
        return latest_text(tracker)

    @staticmethod
    def _understood(tracker: Tracker, slot: str, value: Any) -> dict[str, Any]:
        if value is not None:
            return {slot: value}
        if set(tracker.slots_to_validate()) - {slot}:
            return {}  # « pour moi, je suis majeur » to "quelle situation ?": it answered another question; ask again
        # Not understood: an "inform" answer gets an explanation (validate_*), anything else goes to the rules.
        return {slot: None} if latest_intent(tracker) == "inform" else {}

    async def extract_procedure(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                domain: DomainDict) -> dict[str, Any]:
        text = self._answer_to(tracker, "procedure")
        return {} if text is None else self._understood(tracker, "procedure", procedure_from(text))

    async def extract_case(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                           domain: DomainDict) -> dict[str, Any]:
        text = self._answer_to(tracker, "case")
        return {} if text is None else self._understood(tracker, "case", case_from(text))

    async def extract_age_group(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                domain: DomainDict) -> dict[str, Any]:
        text = self._answer_to(tracker, "age_group")
        return {} if text is None else self._understood(tracker, "age_group", age_group_from(text))

    async def extract_child_age(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                domain: DomainDict) -> dict[str, Any]:
        if tracker.get_slot("child_age") is not None and "child_age" not in tracker.slots_to_validate():
            return {}
        text = self._answer_to(tracker, "child_age")
        if text is not None:
            return self._understood(tracker, "child_age", number_from(text))
        said = latest_text(tracker)
        age = age_from(said)
        group = age_group_from(tracker.get_slot("age_group")) or age_group_from(said)
        return {"child_age": age} if age is not None and age < ADULT_AGE and group == "mineur" else {}

    # --- validation ------------------------------------------------------------------------------------------
    async def validate_procedure(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                 domain: DomainDict) -> dict[str, Any]:
        procedure = procedure_from(value)
        if procedure is not None:
            return {"procedure": procedure}
        name = deps().facts.procedure("both").name
        text = f"Je ne peux vous renseigner que sur {name}."
        say(dispatcher, tracker, text if value is None else f"« {_shown(value)} » : {text[:1].lower()}{text[1:]}")
        return {"procedure": None}

    async def validate_case(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                            domain: DomainDict) -> dict[str, Any]:
        case = case_from(value)
        if case is not None:
            return {"case": case}
        if age_group_from(value) == "mineur" or value == "mineur":
            return {"case": None, "age_group": "mineur"}  # "c'est pour mon fils": a situation, not a reason
        say(dispatcher, tracker, f"Je n'ai pas reconnu votre situation. Les choix possibles : {_reasons()}.")
        return {"case": None}

    async def validate_age_group(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                 domain: DomainDict) -> dict[str, Any]:
        group = age_group_from(value)
        if group is not None:
            return {"age_group": group}
        say(dispatcher, tracker, f"Je n'ai pas compris pour qui est la demande : {_options('minor')} ?")
        return {"age_group": None}

    async def validate_child_age(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                 domain: DomainDict) -> dict[str, Any]:
        age = value if isinstance(value, int | float) and not isinstance(value, bool) else number_from(str(value or ""))
        if age is not None and 0 <= age < ADULT_AGE:
            return {"child_age": int(age)}
        if age is not None and age >= ADULT_AGE:
            return {"child_age": None, "age_group": "adulte"}
        say(dispatcher, tracker, "Je n'ai pas compris l'âge de l'enfant. Dites-le en années, par exemple : 8 ans.")
        return {"child_age": None}


def _shown(value: Any) -> str:
    return (" ".join(str(v) for v in value) if isinstance(value, list) else str(value))[:40]


class ActionAnswerDocuments(Action):
    """The documents for the case the form established: a list in chat, a short summary on the phone."""

    def name(self) -> str:
        return "action_answer_documents"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        request = request_from(tracker)
        log.info("[%s] documents for %s / %s / minor=%s", tracker.sender_id, request.procedure, request.case,
                 request.minor)
        reply = documents_reply(deps().facts, deps().town, request)
        say(dispatcher, tracker, reply.text, reply.voice)
        return []  # the slots stay: the booking that may follow uses them

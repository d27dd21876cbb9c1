"""``action_validate_slot_mappings``: after every message, every detail it carries fills its slot ("une seule fois").

Rasa runs this action after each user message, whatever form is active (or none), right after its own slot
mappings. It reads the whole message with :mod:`actions.details` and sets each slot the message speaks of, so the
forms never ask what was already said: in the opening sentence, inside another form, at the recap, in a digression.

In a question (« combien coûte un passeport pour un enfant de 8 ans ? ») a detail only fills an empty slot: a
question about another title must not change the booking under way. The forms' own ``validate_*`` methods still
check each value (they run on every slot set since the message).
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import ValidationAction
from rasa_sdk.types import DomainDict

from actions.booking_request import asks_a_question
from actions.common import latest_intent, latest_text
from actions.details import Details, read

log = logging.getLogger(__name__)

QUESTION_INTENTS = frozenset({"ask_opening_hours", "ask_fees", "ask_delay", "ask_status", "ask_procedure",
                              "ask_contact", "ask_documents", "out_of_scope"})
# A yes/no or a greeting carries no detail, but "non" answers "avez-vous fait la pré-demande ?" (read by details).
_NO_DETAILS = frozenset({"greet", "goodbye", "thank"})
# A new title or number of people changes the length of the appointment: the slots proposed for the old one go.
_RESHAPES = ("procedure", "people")


def slot_events(tracker: Tracker, details: Details, intent: str, *, asked: bool = True) -> dict[str, Any]:
    """The slots to set for ``details``, given what the conversation already holds (pure: tested alone).

    A question (a question intent, ``asked``: said as a question) fills only what is still unknown; the same words
    said without a question (« ah non, passeport et carte d'identité ») change what was known."""
    found = details.slots()
    if not found or intent in _NO_DETAILS:
        return {}
    if intent in QUESTION_INTENTS and asked:
        found = {k: v for k, v in found.items() if tracker.get_slot(k) in (None, [], "")}
    changes = {k: v for k, v in found.items() if tracker.get_slot(k) != v}
    ids = changes.get("predemande_ids") or []
    if len(ids) > 1 and tracker.get_slot("people") is None and "people" not in changes:
        changes["people"] = len(ids)  # one number per person: three numbers, three people
    if any(k in changes and tracker.get_slot(k) is not None for k in _RESHAPES) and tracker.get_slot("chosen_slot"):
        changes.update({"chosen_slot": None, "proposals": None, "booking_confirmed": None})
    return changes


class ActionValidateSlotMappings(ValidationAction):
    """Fills, after every message, the slots of every detail it carries."""

    def name(self) -> str:
        return "action_validate_slot_mappings"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        requested = tracker.get_slot("requested_slot") if tracker.active_loop_name else None
        text = latest_text(tracker)
        details = read(text, requested)
        changes = slot_events(tracker, details, latest_intent(tracker), asked=asks_a_question(text))
        if changes:
            log.info("[%s] details said at once: %s", tracker.sender_id, ", ".join(sorted(changes)))
        return [SlotSet(name, value) for name, value in changes.items()]

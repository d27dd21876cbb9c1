"""Questions several forms ask the same way: the phone number, and the day + slot choice (booking, moving).

Mixed into a FormValidationAction (before it in the bases), they give it the `extract_`/`validate_` methods rasa-sdk
looks up by slot name; the plain functions serve forms that add their own step (the lookup checks the backend).
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import caller_number, entity_values, latest_intent, latest_text, say
from actions.extract import phone_from_text
from actions.slot_choice import choose, offers_from_json, wants_more
from actions.when import check_when


def extract_choice(tracker: Tracker) -> dict[str, Any]:
    if tracker.get_slot("requested_slot") != "chosen_slot":
        return {}
    offers = offers_from_json((tracker.get_slot("proposals") or {}).get("items") if isinstance(
        tracker.get_slot("proposals"), dict) else None)
    text = latest_text(tracker)
    ordinals = entity_values(tracker, "ordinal")
    times = [v for v in entity_values(tracker, "time") if isinstance(v, dict)]
    picked = choose(offers, text, str(ordinals[0]) if ordinals else None, times[0] if times else None)
    if picked is not None:
        return {"chosen_slot": {"id": picked.id, "start": picked.start.isoformat(), "end": picked.end.isoformat()}}
    if wants_more(text) and offers:
        return {"proposals": {"items": [], "after": offers[-1].start.isoformat()}}
    return {}


def extract_phone(tracker: Tracker) -> dict[str, Any]:
    if tracker.get_slot("requested_slot") != "phone":
        return {}
    caller = caller_number(tracker)
    if caller and latest_intent(tracker) == "affirm":
        return {"phone": caller}
    if entity_values(tracker, "phone"):
        return {}
    number = phone_from_text(latest_text(tracker))
    return {"phone": number} if number else {}


def check_phone(value: Any, dispatcher: CollectingDispatcher, tracker: Tracker) -> dict[str, Any]:
    number = phone_from_text(str(value or ""))
    if number:
        return {"phone": number}
    say(dispatcher, tracker, "Ce numéro ne semble pas valide. Donnez un numéro à 10 chiffres, "
        "par exemple 06 12 34 56 78.", "Ce numéro ne semble pas valide. Pouvez-vous le redonner, chiffre par chiffre ?")
    return {"phone": None}


class PhoneQuestion:
    """`phone`: typed, said, or the caller's number accepted with "oui" on the phone line."""

    async def extract_phone(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                            domain: DomainDict) -> dict[str, Any]:
        return extract_phone(tracker)

    async def validate_phone(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: DomainDict) -> dict[str, Any]:
        return check_phone(value, dispatcher, tracker)


class SlotChoiceQuestions:
    """`when` (resolved by nlu.dates) and `chosen_slot` (a pick among the proposals)."""

    async def extract_chosen_slot(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                  domain: DomainDict) -> dict[str, Any]:
        return extract_choice(tracker)

    async def validate_when(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                            domain: DomainDict) -> dict[str, Any]:
        return check_when(value, dispatcher, tracker)

    async def validate_chosen_slot(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                   domain: DomainDict) -> dict[str, Any]:
        return {"chosen_slot": value} if isinstance(value, dict) and value.get("id") else {"chosen_slot": None}

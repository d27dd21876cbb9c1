"""The booking form: procedure → people → pré-demande → day → slot → name → phone → confirmation.

Values said before the question are kept (the form never asks twice); a new day ("non, plutôt jeudi") only drops the
slot choice that depended on it.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions import slots as slot_values
from actions.booking_client import BookingUnavailable
from actions.common import entity_values, is_voice, latest_intent, latest_text, say
from actions.deps import deps
from actions.extract import count_people, name_from_text
from actions.form_parts import PhoneQuestion, SlotChoiceQuestions
from guichet.french import display_phone, join_and, say_moment

log = logging.getLogger(__name__)
_QUESTIONS = {"ask_opening_hours", "ask_fees", "ask_delay", "ask_status", "ask_procedure", "ask_contact",
              "ask_documents", "request_human", "out_of_scope", "greet", "goodbye", "thank"}


class ValidateBookingForm(SlotChoiceQuestions, PhoneQuestion, FormValidationAction):
    def name(self) -> str:
        return "validate_booking_form"

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: DomainDict) -> list[str]:
        slots = list(domain_slots)
        if tracker.get_slot("has_predemande") is False and "predemande_ids" in slots:
            slots.remove("predemande_ids")
        if "predemande_checked" in slots and not (is_voice(tracker) and slot_values.strings(
                tracker.get_slot("predemande_ids"))):
            slots.remove("predemande_checked")  # read back on the phone only: in chat the citizen sees what they typed
        return slots

    # --- extraction from free text: the people, pré-demande answer and numbers said anywhere are read by
    # actions/once_only.py after every message; only the whole-answer name is read here, for its question. -----
    async def extract_person_name(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                  domain: DomainDict) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "person_name" or latest_intent(tracker) in _QUESTIONS:
            return {}
        name = name_from_text(latest_text(tracker))
        found = [str(v) for v in entity_values(tracker, "person_name")]
        if found and not (name and any(f.lower() in name.lower() and len(f) < len(name) for f in found)):
            return {}  # DIET's name stands unless it is a truncated piece of the whole answer ("Olivier Boulanger")
        return {"person_name": name} if name else {}

    # --- validation --------------------------------------------------------------------------------------
    async def validate_procedure(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                 domain: DomainDict) -> dict[str, Any]:
        values = set(slot_values.strings(value))
        if {"passport", "cni"} <= values or "both" in values:  # "mon passeport et ma carte d'identité"
            return {"procedure": "both"}
        if len(values) == 1 and values <= {"passport", "cni"}:
            return {"procedure": values.pop()}
        say(dispatcher, tracker, "Je n'ai pas compris : passeport, carte d'identité, ou les deux ?")
        return {"procedure": None}

    async def validate_people(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                              domain: DomainDict) -> dict[str, Any]:
        most = deps().town.meeting_points[0].schedule.max_people
        count = value if isinstance(value, int) else count_people(str(value))
        if count and 1 <= count <= most:
            return {"people": int(count)}
        say(dispatcher, tracker, f"Je peux réserver pour 1 à {most} personnes par rendez-vous. Combien de personnes ?")
        return {"people": None}

    async def validate_predemande_ids(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                      domain: DomainDict) -> dict[str, Any]:
        facts = deps().facts
        raw = value if isinstance(value, list) else [value]
        ids = list(dict.fromkeys(n for v in raw if (n := facts.normalize_predemande(str(v)))))
        if not ids or len(ids) != len(raw):
            say(dispatcher, tracker, "Un numéro de pré-demande a 10 caractères, lettres et chiffres, "
                "par exemple 2KF8ABC123. Pouvez-vous le redonner ?",
                "Un numéro de pré-demande a dix caractères. Pouvez-vous le redonner, lentement ?")
            return {"predemande_ids": None}
        people = tracker.get_slot("people")
        if isinstance(people, int) and len(ids) > people:
            say(dispatcher, tracker, f"Vous m'avez donné {len(ids)} numéros pour {people} personne(s) : "
                "un seul numéro par personne. Pouvez-vous les redonner ?")
            return {"predemande_ids": None}
        try:
            checks = await deps().booking.check_applications(ids)
        except BookingUnavailable:
            return {"predemande_ids": ids, "has_predemande": True, "predemande_checked": None}  # checked when booking
        refused = [c for c in checks if not c.ok]
        if refused:
            say(dispatcher, tracker, " ".join(f"{c.id} : {c.message}" for c in refused)
                + " Donnez un autre numéro, ou dites « je n'en ai pas ».")
            return {"predemande_ids": None}
        for check in checks:
            if check.message:
                say(dispatcher, tracker, f"Attention : {check.message}")
        return {"predemande_ids": ids, "has_predemande": True, "predemande_checked": None}  # a new number: read back

    async def validate_predemande_checked(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                          domain: DomainDict) -> dict[str, Any]:
        """The caller's answer to the read-back: a misheard number is asked again, slower; twice, and it is left
        for the counter rather than booked wrong."""
        if value is True:
            return {"predemande_checked": True}
        if value is not False or "predemande_ids" in tracker.slots_to_validate():
            return {"predemande_checked": None}  # « non, c'est AB12… »: the new number is read back in turn
        if misheard_readbacks(tracker) >= MAX_READBACKS:
            say(dispatcher, tracker, "Je n'arrive pas à bien l'entendre, excusez-moi. Apportez le numéro de "
                "pré-demande au rendez-vous : l'agent le saisira. Continuons.")
            return {"predemande_ids": [], "predemande_checked": None}
        say(dispatcher, tracker, "Pardon, je l'ai mal noté. Prenez votre temps : une petite pause après chaque "
            "lettre ou chiffre.")
        return {"predemande_ids": None, "predemande_checked": None}

    async def validate_person_name(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                   domain: DomainDict) -> dict[str, Any]:
        name = " ".join(str(value or "").split())
        if 2 <= len(name) <= 120 and any(c.isalpha() for c in name):
            return {"person_name": name}
        say(dispatcher, tracker, "Je n'ai pas noté de nom. Quel est votre nom et prénom ?")
        return {"person_name": None}

    async def validate_booking_confirmed(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                         domain: DomainDict) -> dict[str, Any]:
        if value is True:
            return {"booking_confirmed": True}
        say(dispatcher, tracker, "D'accord, je ne réserve rien pour l'instant. Choisissons un autre créneau, "
            "ou dites-moi ce qui change (par exemple « plutôt jeudi »).")
        return {"booking_confirmed": None, "chosen_slot": None, "proposals": None}


MAX_READBACKS = 2  # numbers read back and said wrong before the bot stops asking


def misheard_readbacks(tracker: Tracker) -> int:
    """How many read-backs of the pré-demande numbers the caller said were wrong, since the last booking (once per
    message: Rasa sends the slot's value again with the form's validation)."""
    turn, wrong = 0, set[int]()
    for event in tracker.events:
        if event.get("event") == "user":
            turn += 1
        elif event.get("event") != "slot":
            continue
        elif event.get("name") == "reference" and event.get("value"):
            wrong.clear()
        elif event.get("name") == "predemande_checked" and event.get("value") is False:
            wrong.add(turn)
    return len(wrong)


def recap(tracker: Tracker) -> str:
    """One sentence of everything that will be booked."""
    procedure = {"passport": "passeport", "cni": "carte d'identité", "both": "passeport et carte d'identité"}.get(
        slot_values.text(tracker, "procedure") or "", "titre d'identité")
    people = slot_values.people(tracker)
    start = slot_values.moment(slot_values.record(tracker, "chosen_slot").get("start"))
    when = say_moment(start) if start else "?"
    parts = [f"{procedure} pour {people} personne{'s' if people > 1 else ''}", when,
             f"au nom de {tracker.get_slot('person_name')}",
             f"téléphone {display_phone(str(tracker.get_slot('phone') or ''))}"]
    ids = slot_values.strings(tracker.get_slot("predemande_ids"))
    if ids:
        parts.append(f"pré-demande {join_and(ids)}")
    return "Je récapitule : " + ", ".join(parts) + "."


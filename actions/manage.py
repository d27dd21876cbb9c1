"""An existing appointment: find it with reference + phone, then show, cancel or move it."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions import metrics as action_metrics
from actions import slots
from actions.booking_actions import documents_summary, to_handoff
from actions.booking_client import (
    AppointmentNotFound,
    Booked,
    BookingRejected,
    BookingUnavailable,
    SlotTaken,
    TooManyAttempts,
)
from actions.common import latest_intent, latest_text, now, say
from actions.deps import deps
from actions.form_parts import PhoneQuestion, SlotChoiceQuestions, check_phone
from guichet.french import say_moment
from guichet.references import display_reference, normalize_reference

PURPOSES = {"check_appointment": "check", "cancel_appointment": "cancel", "reschedule_appointment": "reschedule"}
_UNAVAILABLE = ("Le service des rendez-vous ne répond pas pour le moment, excusez-moi. Un agent va vous rappeler.",
                "Le service des rendez-vous ne répond pas, excusez-moi. Un agent va vous rappeler.")


def appointment_json(booked: Booked) -> dict[str, Any]:
    return {"reference": booked.reference, "start": booked.start.isoformat(), "procedure": booked.procedure,
            "people": booked.people, "status": booked.status, "address": booked.address}


class ActionRememberPurpose(Action):
    def name(self) -> str:
        return "action_remember_purpose"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        return [SlotSet("purpose", PURPOSES.get(latest_intent(tracker), "check")), SlotSet("appointment", None)]


class ValidateLookupForm(PhoneQuestion, FormValidationAction):
    def name(self) -> str:
        return "validate_lookup_form"

    async def extract_reference(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                domain: DomainDict) -> dict[str, Any]:
        if tracker.get_slot("requested_slot") != "reference":
            return {}
        compact = "".join(c for c in latest_text(tracker).upper() if c.isalnum())
        return {"reference": compact} if len(compact) == 8 else {}

    async def validate_reference(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                 domain: DomainDict) -> dict[str, Any]:
        reference = normalize_reference(str(value or ""))
        if reference is None:
            say(dispatcher, tracker, "Une référence a 8 caractères, par exemple K7M4-QX9B. Pouvez-vous la redonner ?",
                "La référence a huit caractères. Pouvez-vous la redonner, lentement ?")
            return {"reference": None}
        return {"reference": reference}

    async def validate_phone(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: DomainDict) -> dict[str, Any]:
        checked = check_phone(value, dispatcher, tracker)
        reference = tracker.get_slot("reference")
        if not checked.get("phone") or not reference:
            return checked
        try:
            booked = await deps().booking.find(reference, checked["phone"], client=tracker.sender_id)
        except TooManyAttempts as exc:
            say(dispatcher, tracker, f"{exc.message} Si vous avez besoin d'aide, demandez un agent.")
            return {"reference": None, "phone": None}
        except AppointmentNotFound:
            say(dispatcher, tracker, "Je ne trouve pas de rendez-vous avec cette référence et ce numéro. "
                "Vérifions : quelle est la référence ?")
            return {"reference": None, "phone": None}
        except BookingUnavailable:
            return {**checked, "appointment": {"unavailable": True}}
        return {**checked, "appointment": appointment_json(booked)}


class ActionAfterLookup(Action):
    def name(self) -> str:
        return "action_after_lookup"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        appointment = slots.record(tracker, "appointment")
        start = slots.moment(appointment.get("start"))
        if appointment.get("unavailable") or start is None:
            return to_handoff(dispatcher, tracker, "booking_unavailable", *_UNAVAILABLE)
        when = say_moment(start, today=now().date())
        if appointment.get("status") != "booked":
            say(dispatcher, tracker, f"Ce rendez-vous ({when}) n'est plus actif : il a été annulé ou a déjà eu lieu.")
            return [SlotSet("purpose", None)]
        purpose = tracker.get_slot("purpose")
        if purpose == "cancel":
            return [FollowupAction("cancel_form")]
        if purpose == "reschedule":
            say(dispatcher, tracker, f"Votre rendez-vous est {when}.")
            return [SlotSet("when", None), SlotSet("chosen_slot", None), SlotSet("proposals", None),
                    SlotSet("procedure", appointment.get("procedure")), SlotSet("people", appointment.get("people")),
                    FollowupAction("reschedule_form")]
        say(dispatcher, tracker, f"Votre rendez-vous est {when}, {appointment.get('address', '')}. "
            f"Référence {display_reference(appointment['reference'])}.", f"Votre rendez-vous est {when}.")
        documents_summary(dispatcher, tracker, appointment.get("procedure", "passport"), tracker.get_slot("case"),
                          tracker.get_slot("age_group"))
        return [SlotSet("purpose", None)]


class ActionAskCancelConfirmed(Action):
    def name(self) -> str:
        return "action_ask_cancel_confirmed"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        start = slots.moment(slots.record(tracker, "appointment").get("start"))
        when = f" {say_moment(start, today=now().date())}" if start else ""
        say(dispatcher, tracker, f"Voulez-vous vraiment annuler votre rendez-vous{when} ?",
            f"Voulez-vous vraiment annuler votre rendez-vous{when} ? Dites oui, ou tapez 1 pour oui, 2 pour non.",
            buttons=[{"title": "Oui, annuler", "payload": "/affirm"}, {"title": "Non, le garder", "payload": "/deny"}])
        return []


class ValidateCancelForm(FormValidationAction):
    def name(self) -> str:
        return "validate_cancel_form"


class ActionCancelAppointment(Action):
    def name(self) -> str:
        return "action_cancel_appointment"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        reset: list[EventType] = [SlotSet("cancel_confirmed", None), SlotSet("purpose", None)]
        if tracker.get_slot("cancel_confirmed") is not True:
            say(dispatcher, tracker, "D'accord, je ne change rien : votre rendez-vous est maintenu.")
            return reset
        try:
            await deps().booking.cancel(str(tracker.get_slot("reference")), str(tracker.get_slot("phone")),
                                        client=tracker.sender_id)
        except BookingUnavailable:
            return reset + to_handoff(dispatcher, tracker, "booking_unavailable", *_UNAVAILABLE)
        except (AppointmentNotFound, BookingRejected) as exc:
            say(dispatcher, tracker, f"Je n'ai pas pu annuler : {exc.message}")
            return reset
        action_metrics.cancelled(tracker)
        say(dispatcher, tracker, "C'est annulé. Le créneau est libéré pour quelqu'un d'autre : merci de nous avoir "
            "prévenus.", "C'est annulé. Merci de nous avoir prévenus.")
        return [*reset, SlotSet("appointment", None)]


class ValidateRescheduleForm(SlotChoiceQuestions, FormValidationAction):
    def name(self) -> str:
        return "validate_reschedule_form"

    async def validate_move_confirmed(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                      domain: DomainDict) -> dict[str, Any]:
        if value is True:
            return {"move_confirmed": True}
        say(dispatcher, tracker, "D'accord. Choisissons un autre créneau, ou dites-moi un autre jour.")
        return {"move_confirmed": None, "chosen_slot": None, "proposals": None}


class ActionAskMoveConfirmed(Action):
    def name(self) -> str:
        return "action_ask_move_confirmed"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        start = slots.moment(slots.record(tracker, "chosen_slot").get("start"))
        when = f" {say_moment(start, today=now().date())}" if start else " sur ce créneau"
        say(dispatcher, tracker, f"Je déplace votre rendez-vous{when} ?",
            f"Je déplace votre rendez-vous{when} ? Dites oui, ou tapez 1.",
            buttons=[{"title": "Oui", "payload": "/affirm"}, {"title": "Non", "payload": "/deny"}])
        return []


class ActionRescheduleAppointment(Action):
    def name(self) -> str:
        return "action_reschedule_appointment"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        chosen = tracker.get_slot("chosen_slot") or {}
        reset: list[EventType] = [SlotSet("move_confirmed", None), SlotSet("chosen_slot", None),
                                  SlotSet("proposals", None), SlotSet("when", None), SlotSet("purpose", None)]
        if tracker.get_slot("move_confirmed") is not True or not chosen.get("id"):
            return reset
        try:
            booked = await deps().booking.reschedule(str(tracker.get_slot("reference")),
                                                     str(tracker.get_slot("phone")), chosen["id"],
                                                     client=tracker.sender_id)
        except BookingUnavailable:
            return reset + to_handoff(dispatcher, tracker, "booking_unavailable", *_UNAVAILABLE)
        except SlotTaken:
            say(dispatcher, tracker, "Ce créneau vient d'être pris, désolé. Je vous en propose d'autres.")
            return [SlotSet("move_confirmed", None), SlotSet("chosen_slot", None), SlotSet("proposals", None),
                    FollowupAction("reschedule_form")]
        except (AppointmentNotFound, BookingRejected) as exc:
            say(dispatcher, tracker, f"Je n'ai pas pu déplacer le rendez-vous : {exc.message}")
            return reset
        when = say_moment(booked.start, today=now().date())
        say(dispatcher, tracker, f"C'est fait : votre rendez-vous est maintenant {when}. Votre référence ne change "
            f"pas : {display_reference(booked.reference)}.", f"C'est fait : votre rendez-vous est maintenant {when}.")
        return [*reset, SlotSet("appointment", appointment_json(booked))]

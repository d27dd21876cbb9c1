"""Actions of the booking flow that talk to the backend: propose slots, recap, book."""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import metrics as action_metrics
from actions import slots
from actions.booking_client import BookingRejected, BookingUnavailable, SlotOffer, SlotTaken
from actions.common import caller_number, is_voice, now, say
from actions.deps import deps
from actions.handoff import before_asking_the_number
from actions.hours import staff_closures
from actions.slot_choice import Wish, describe, offers_json, pick_matching
from guichet.french import display_phone, join_and, say_moment
from guichet.references import display_reference

log = logging.getLogger(__name__)
ORDINAL_WORDS = ["premier", "deuxième", "troisième"]


def to_handoff(dispatcher: CollectingDispatcher, tracker: Tracker, reason: str, text: str,
               voice: str) -> list[EventType]:
    """Leave the current form for the callback flow, keeping every slot already given."""
    say(dispatcher, tracker, text, voice)
    return [ActiveLoop(None), SlotSet("requested_slot", None), SlotSet("handoff_reason", reason),
            FollowupAction("handoff_form")]


async def find_offers(tracker: Tracker, procedure: str, people: int) -> tuple[list[SlotOffer], bool]:
    """Up to three free slots matching `when` (True), or else the first ones after it (False)."""
    schedule = deps().town.meeting_points[0].schedule
    current = now()
    after = slots.moment(slots.record(tracker, "proposals").get("after"))
    wish = Wish.from_slot(slots.resolution(tracker.get_slot("when")), current, schedule.horizon_days)
    last = min(wish.last_day, (current + timedelta(days=schedule.horizon_days)).date())
    first = max(wish.first_day, current.date())
    free = await deps().booking.list_slots(procedure, people, first, max(first, last), limit=500)
    matching = pick_matching(free, wish, after=after)
    if matching:
        return matching, True
    later = await deps().booking.list_slots(procedure, people, max(first, current.date()),
                                            (current + timedelta(days=schedule.horizon_days)).date(), limit=50)
    later = [s for s in later if s.start >= min(start for start, _ in wish.windows) and (after is None
                                                                                        or s.start > after)]
    return later[:3], False


class ActionAskChosenSlot(Action):
    """Proposes up to three real free slots (asked by booking_form and reschedule_form)."""

    def name(self) -> str:
        return "action_ask_chosen_slot"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        appointment = slots.record(tracker, "appointment")
        procedure = slots.text(tracker, "procedure") or appointment.get("procedure") or "passport"
        people = slots.people(tracker, appointment.get("people"))
        try:
            offers, matching = await find_offers(tracker, procedure, people)
        except BookingUnavailable:
            action_metrics.failed("booking_unavailable")
            return to_handoff(dispatcher, tracker, "booking_unavailable",
                              "Le service de réservation ne répond pas pour le moment, je vous prie de m'en excuser. "
                              "Je transmets votre demande à un agent, qui vous rappellera pour fixer le rendez-vous.",
                              "Le service de réservation ne répond pas, excusez-moi. Un agent va vous rappeler "
                              "pour fixer le rendez-vous.")
        if not offers:
            say(dispatcher, tracker, "Je n'ai plus de créneau libre sur cette période. Voulez-vous essayer un autre "
                "jour, ou le plus tôt possible ?")
            return [SlotSet("when", None), SlotSet("proposals", None), SlotSet("requested_slot", "when")]
        today = now().date()
        said = describe(offers, today)
        intro = "Voici les créneaux libres" if matching else \
            "Rien de libre à ce moment-là. Les prochains créneaux libres"
        if is_voice(tracker):
            listed = "; ".join(f"{ORDINAL_WORDS[i]}, {s}" for i, s in enumerate(said))
            dispatcher.utter_message(text=f"{intro} : {listed}. Lequel vous convient ? Vous pouvez aussi taper "
                                     f"{join_and([str(i + 1) for i in range(len(said))], 'ou')}.")
        else:
            buttons = [{"title": s[:1].upper() + s[1:], "payload": f'/inform{{"ordinal": "{i + 1}"}}'}
                       for i, s in enumerate(said)]
            buttons.append({"title": "D'autres créneaux", "payload": "d'autres créneaux"})
            dispatcher.utter_message(text=f"{intro} : lequel vous convient ?", buttons=buttons)
        return [SlotSet("proposals", {"items": offers_json(offers), "after": None})]


class ActionAskPhone(Action):
    """Asks for a phone number; on the phone line, offers the number the call comes from."""

    def name(self) -> str:
        return "action_ask_phone"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        caller = caller_number(tracker)
        if tracker.active_loop_name == "handoff_form":
            chat, voice = before_asking_the_number(tracker, await staff_closures())
            say(dispatcher, tracker, chat + " À quel numéro de téléphone peut-il vous joindre ?",
                voice + (f" Puis-je noter le numéro qui s'affiche, qui se termine par {caller[-2:]} ?" if caller
                         else " À quel numéro ? Vous pouvez le taper sur le clavier."))
            return []
        if caller:
            dispatcher.utter_message(text=f"Puis-je noter le numéro qui s'affiche, qui se termine par "
                                     f"{caller[-2:]} ? Sinon, dites-moi le bon numéro.")
        else:
            dispatcher.utter_message(response="utter_ask_phone")
        return []


class ActionAskBookingConfirmed(Action):
    def name(self) -> str:
        return "action_ask_booking_confirmed"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        from actions.booking_form import recap

        said = recap(tracker)
        say(dispatcher, tracker, said + " Je confirme le rendez-vous ?", said + " Je confirme ? Dites oui, ou tapez 1.",
            buttons=[{"title": "Oui, je confirme", "payload": "/affirm"},
                     {"title": "Non", "payload": "/deny"}])
        return []


class ActionAskPredemandeChecked(Action):
    """On the phone, the pré-demande numbers heard are read back before anything is booked with them."""

    def name(self) -> str:
        return "action_ask_predemande_checked"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        ids = slots.strings(tracker.get_slot("predemande_ids"))
        heard = ids[0] if len(ids) == 1 else f"{len(ids)} numéros : " + ", puis ".join(ids)
        say(dispatcher, tracker, f"J'ai noté : {heard}. Est-ce exact ?",
            f"J'ai noté : {heard}. Est-ce exact ? Dites oui, ou tapez 1. Sinon, tapez 2.",
            buttons=[{"title": "Oui", "payload": "/affirm"}, {"title": "Non", "payload": "/deny"}])
        return []


def idempotency_key(tracker: Tracker, slot_id: str) -> str:
    """The same conversation confirming the same booking twice books once."""
    parts = [tracker.sender_id, slot_id, str(tracker.get_slot("person_name")), str(tracker.get_slot("phone"))]
    return "bot-" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:40]


class ActionBookAppointment(Action):
    def name(self) -> str:
        return "action_book_appointment"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        chosen = slots.record(tracker, "chosen_slot")
        if tracker.get_slot("booking_confirmed") is not True or not isinstance(chosen.get("id"), str):
            return []
        procedure = slots.text(tracker, "procedure") or "passport"
        try:
            booked = await deps().booking.book(
                chosen["id"], procedure=procedure, people=slots.people(tracker),
                name=str(tracker.get_slot("person_name")), phone=str(tracker.get_slot("phone")),
                application_ids=slots.strings(tracker.get_slot("predemande_ids")),
                channel="voice" if is_voice(tracker) else "chat",
                idempotency_key=idempotency_key(tracker, chosen["id"]))
        except SlotTaken:
            say(dispatcher, tracker, "Ce créneau vient d'être pris par quelqu'un d'autre, désolé. "
                "Je vous en propose d'autres.")
            return [SlotSet("chosen_slot", None), SlotSet("proposals", None), SlotSet("booking_confirmed", None),
                    FollowupAction("booking_form")]
        except BookingRejected as exc:
            say(dispatcher, tracker, f"La réservation est refusée : {exc.message}")
            return [SlotSet("predemande_ids", None), SlotSet("has_predemande", None),
                    SlotSet("predemande_checked", None), SlotSet("booking_confirmed", None),
                    FollowupAction("booking_form")]
        except BookingUnavailable:
            action_metrics.failed("booking_unavailable")
            return to_handoff(dispatcher, tracker, "booking_unavailable",
                              "Le service de réservation ne répond pas, je vous prie de m'en excuser : rien n'a été "
                              "réservé. Un agent va vous rappeler avec tout ce que vous m'avez dit.",
                              "Le service de réservation ne répond pas, excusez-moi. Rien n'a été réservé. "
                              "Un agent va vous rappeler.")
        action_metrics.booked(tracker)
        reference = display_reference(booked.reference)
        when = say_moment(booked.start, today=now().date())
        spelled = " ".join(booked.reference)
        say(dispatcher, tracker,
            f"C'est réservé : {when}, {booked.address}. Votre référence : {reference}. Notez-la : "
            f"elle vous servira, avec votre numéro {display_phone(booked.phone)}, pour modifier ou annuler"
            + (f", ici ou sur la page de votre rendez-vous : {booked.management_url}" if booked.management_url
               else "") + ".",
            f"C'est réservé, {when}. Votre référence est : {spelled}. Je répète : {spelled}.")
        for warning in booked.warnings:
            say(dispatcher, tracker, warning)
        documents_summary(dispatcher, tracker, procedure, tracker.get_slot("case"), tracker.get_slot("age_group"))
        return [SlotSet("reference", booked.reference), SlotSet("booking_confirmed", None),
                SlotSet("chosen_slot", None), SlotSet("proposals", None), SlotSet("when", None)]


def documents_summary(dispatcher: CollectingDispatcher, tracker: Tracker, procedure: str, case: str | None,
                      age_group: str | None) -> None:
    """The documents to bring, for the case if known (else a first request), in a few lines."""
    facts = deps().facts
    minor = None if age_group is None else age_group == "mineur"
    documents = facts.documents(procedure, case or "renouvellement", minor=minor)
    if is_voice(tracker):
        dispatcher.utter_message(text=f"Pensez à apporter {len(documents)} documents, dont "
                                 f"{join_and([d.voice or d.text for d in documents[:2]])}. "
                                 "La liste complète est sur le site de la mairie.")
    else:
        lines = "\n".join(f"- {d.text}" for d in documents)
        intro = "À apporter" + ("" if case else " (pour un renouvellement ; dites-moi si votre situation est "
                                             "différente)")
        dispatcher.utter_message(text=f"{intro} :\n{lines}")

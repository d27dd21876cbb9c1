"""Hand-off to a human: a desk case with the transcript and everything the bot collected.

In the site's chat (socket.io channel), when an agent is at the console, the agent answers live in the same window:
the conversation is paused until the agent hands it back. Otherwise (phone, REST, nobody at the console) it is a
callback case; when the desk cannot be reached the case waits in the outbox (actions/tickets.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions import metrics as action_metrics
from actions import slots as slot_values
from actions.common import VOICE, now, say
from actions.deps import deps
from actions.form_parts import PhoneQuestion
from actions.hours import staff_closures
from clients.tickets import Ticket
from guichet.french import display_phone, say_moment
from guichet.text import storable
from knowledge.calendar import Calendar
from knowledge.town import WEEKDAYS, Closure

log = logging.getLogger(__name__)
COLLECTED = ("procedure", "people", "predemande_ids", "when", "chosen_slot", "person_name", "phone", "reference",
             "case", "age_group", "purpose", "appointment")


class ValidateHandoffForm(PhoneQuestion, FormValidationAction):
    def name(self) -> str:
        return "validate_handoff_form"


def desk_channel(tracker: Tracker) -> str:
    """The desk's name for the channel of the latest message: socketio (site chat), voice, or rest."""
    channel = tracker.get_latest_input_channel()
    return str(channel) if channel in ("socketio", VOICE) else "rest"


def transcript(tracker: Tracker) -> list[dict[str, str]]:
    lines = []
    for event in tracker.events:
        if event.get("event") == "user" and event.get("text"):
            lines.append({"from": "citoyen", "text": storable(str(event["text"]))})
        elif event.get("event") == "bot" and event.get("text"):
            lines.append({"from": "assistant", "text": storable(str(event["text"]))})
    return lines


def next_opening(current: datetime, closures: Sequence[Closure] = ()) -> datetime | None:
    """When the identity-documents service next opens (skipping closures, staff's ``closures`` too, and holidays)."""
    town = deps().town
    meeting_point = town.meeting_points[0]
    calendar = Calendar(meeting_point, closures)
    for offset in range(0, 30):
        day = current.date() + timedelta(days=offset)
        if not calendar.day_status(day).open:
            continue
        for interval in meeting_point.schedule.weekly_hours[WEEKDAYS[day.weekday()]]:
            start = datetime.combine(day, interval.start, tzinfo=calendar.tz)
            end = datetime.combine(day, interval.end, tzinfo=calendar.tz)
            if end > current:
                return max(start, current)
    return None


def callback_time(current: datetime, closures: Sequence[Closure] = ()) -> str:
    """« dès l'ouverture du service, lundi 7 décembre à 9 h » or « dans les meilleurs délais… » when open now."""
    opening = next_opening(current, closures)
    if opening and opening > current + timedelta(minutes=5):
        return f"dès l'ouverture du service, {say_moment(opening, today=current.date())}"
    return "dans les meilleurs délais, pendant les heures d'ouverture"


def _agent_already_announced(tracker: Tracker) -> bool:
    """Whether a message of this turn already said an agent will call back (the fallback, the booking outage)."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "bot" and "agent" in str(event.get("text") or ""):
            return True
    return False


def before_asking_the_number(tracker: Tracker, closures: Sequence[Closure] = ()) -> tuple[str, str]:
    """What happens next, said before the number is asked (chat text, phone text): nobody gives a number blind."""
    when = callback_time(now(), closures)
    if _agent_already_announced(tracker):
        return f"L'agent vous rappellera {when}.", f"Il vous rappellera {when}."
    if desk_channel(tracker) == "socketio":
        chat = ("Je transmets votre demande à un agent de la mairie, avec tout ce que vous m'avez dit. Si un agent est "
                f"disponible, il vous répondra ici même ; sinon, il vous rappellera {when}.")
    else:
        chat = (f"Je transmets votre demande à un agent de la mairie, qui vous rappellera {when}, avec tout ce que "
                "vous m'avez dit.")
    return chat, f"Je vais demander à un agent de la mairie de vous rappeler {when}."


# The reasons the actions set (metric labels stay a closed set whatever a message puts in the slot).
REASONS = frozenset({"asked", "not_understood", "booking_unavailable", "technical"})


class ActionHandoff(Action):
    def name(self) -> str:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        phone = tracker.get_slot("phone")
        reason = slot_values.text(tracker, "handoff_reason") or "asked"
        collected = {k: tracker.get_slot(k) for k in COLLECTED if tracker.get_slot(k) not in (None, [], "")}
        channel = desk_channel(tracker)
        ticket = Ticket(conversation_id=tracker.sender_id, channel=channel, reason=reason, created_at=now(),
                        phone=phone, collected=collected, transcript=transcript(tracker))
        try:
            receipt = await deps().desk.create_case(ticket, callback_only=channel != "socketio")
        except Exception:
            log.exception("hand-off could not be stored for %s", tracker.sender_id)
            say(dispatcher, tracker, f"Je n'arrive pas à transmettre votre demande. Appelez la mairie au "
                f"{deps().town.town.phone} aux heures d'ouverture, excusez-moi.")
            return [SlotSet("handoff_reason", None)]
        action_metrics.escalated(tracker, reason if reason in REASONS else "other")
        log.info("hand-off case %s (%s, live=%s, queued=%s) for %s", receipt.id, reason, receipt.live, receipt.queued,
                 tracker.sender_id)
        if receipt.live:
            say(dispatcher, tracker, f"Je vous passe un agent de la mairie (demande n° {receipt.id}) : il va vous "
                "répondre ici même, dans cette fenêtre, et il voit déjà tout ce que vous m'avez dit.")
            # Rasa's socket.io channel emits ``json_message["data"]`` as the bot_uttered payload (its other keys
            # become emit() arguments), so the widget receives {"guichet": {"handoff": {...}}}.
            dispatcher.utter_message(json_message={"data": {"guichet": {"handoff": {"case_id": receipt.id,
                                                                                    "live": True}}}})
            return [SlotSet("handoff_reason", None), ConversationPaused()]
        when = callback_time(now(), await staff_closures())
        say(dispatcher, tracker, f"C'est noté (demande n° {receipt.id}). Un agent de la mairie vous rappellera au "
            f"{display_phone(str(phone))} {when}, avec tout ce que vous m'avez dit : vous n'aurez pas à répéter.",
            f"C'est noté. Un agent vous rappellera au {display_phone(str(phone))} {when}. "
            "Vous n'aurez pas à répéter.")
        return [SlotSet("handoff_reason", None)]

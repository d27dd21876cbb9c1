"""``action_answer_question``: answers a question by its intent, from the knowledge base and the town file only.

Hours, fees, delays, follow-up, procedure, contact, and documents asked in the middle of another form. Each answer
has a chat form (links allowed) and a phone form (no link, no long list).
"""

from __future__ import annotations

import logging
import re
from datetime import date, timedelta

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.answer_dossier import Reply, contact_reply, documents_reply, fee_reply
from actions.answer_values import fold, request_from
from actions.common import latest_intent, latest_text, now, say, time_resolution
from actions.deps import deps
from actions.french import join_and, say_date
from actions.hours import CLOSURE_NOTICE_DAYS, Hours, asked_days

log = logging.getLogger(__name__)

# ask_procedure: which ready answer, by the words of the question (first match wins; default "where").
_PROCEDURE_TOPICS: tuple[tuple[str, str], ...] = (
    ("predemande", r"\bpre ?demande|\bformulaire en ligne|\bants\b"),
    ("collection", r"\brecup|\bretrait|\bretir|\bchercher|\bprendre mon (passe ?port|titre|carte)"),
    ("minor", r"\bmineure?s?\b|\benfants?\b|\bfils\b|\bfilles?\b|\bbebe|\bados?\b|\bparents?\b"),
    ("photo", r"\bphotos?\b"),
    ("stamp", r"\btimbres?\b"),
    ("validity", r"\bvalid|\bvalable|\bexpir"),
    ("emergency", r"\burgen"),
    ("proof_of_address", r"\bjustificatif de domicile|\bheberg"),
)
_PERIOD_MAX_DAYS = 92  # closures listed for a period up to this long ("en décembre"), not for "n'importe quand"


def procedure_topic(text: str) -> str:
    """The ready answer for an "how does it work" question: ``predemande``, ``collection``, ``minor``… or ``where``."""
    folded = fold(text)
    return next((topic for topic, pattern in _PROCEDURE_TOPICS if re.search(pattern, folded)), "where")


def _closures_notice(hours: Hours, first: date, last: date) -> str:
    closed = hours.exceptional_closures(first, last)
    if not closed:
        return ""
    days = join_and([f"le {say_date(day)} ({reason})" for day, reason in closed])
    return f"Attention, le service sera fermé {days}."


def hours_reply(tracker: Tracker) -> Reply:
    """The weekly hours, or the asked days' hours when the message names a day ("ouvert samedi ?")."""
    hours = Hours(deps().town.meeting_points[0])
    today = now().date()
    days, period = asked_days(time_resolution(tracker))
    if days:
        text = " ".join(hours.day(day, today) for day in days)
        return Reply(text, text)
    closed = hours.closed_weekdays()
    parts = [f"Pour les passeports et les cartes d'identité, le service reçoit sur rendez-vous {hours.week()}.",
             f"Il est fermé {closed} et les jours fériés." if closed else "Il est fermé les jours fériés."]
    if period is not None and (period[1] - period[0]).days <= _PERIOD_MAX_DAYS:
        parts.append(_closures_notice(hours, max(period[0], today), period[1]))
    elif period is None:
        parts.append(_closures_notice(hours, today, today + timedelta(days=CLOSURE_NOTICE_DAYS)))
    text = " ".join(p for p in parts if p)
    return Reply(text, text)


def documents_in_form_reply(tracker: Tracker) -> Reply:
    """The documents for what is known so far, without asking; the full list comes at the end of the booking."""
    facts, town = deps().facts, deps().town
    return documents_reply(facts, town, request_from(tracker), in_booking=bool(tracker.active_loop_name))


def answer(intent: str, tracker: Tracker) -> Reply:
    """The reply to a question intent (see ``core.yml``); the contact details for anything else."""
    facts = deps().facts
    if intent == "ask_opening_hours":
        return hours_reply(tracker)
    if intent == "ask_fees":
        return fee_reply(facts, request_from(tracker))
    if intent in ("ask_delay", "ask_status", "ask_procedure"):
        topic = {"ask_delay": "delay", "ask_status": "status"}.get(intent) or procedure_topic(latest_text(tracker))
        ready = facts.answer(topic)
        return Reply(ready.text, ready.voice)
    if intent == "ask_documents":
        return documents_in_form_reply(tracker)
    contact = contact_reply(deps().town)
    if intent == "ask_contact":
        return contact
    intro = "Pour cette question, contactez la mairie. "
    return Reply(intro + contact.text, intro + contact.voice)


class ActionAnswerQuestion(Action):
    """Answers the latest question without changing the conversation's state."""

    def name(self) -> str:
        return "action_answer_question"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        intent = latest_intent(tracker)
        log.info("[%s] answering %s", tracker.sender_id, intent or "?")
        reply = answer(intent, tracker)
        say(dispatcher, tracker, reply.text, reply.voice)
        return []


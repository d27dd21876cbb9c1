"""``action_answer_question``: answers a question by its intent, from the knowledge base and the town file only.

Hours, fees, delays, follow-up, procedure, contact, and documents asked in the middle of another form. Each answer
has a chat form (links allowed) and a phone form (no link, no long list).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import date, timedelta

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.answer_dossier import Reply, contact_reply, documents_reply, fee_reply
from actions.answer_values import fold, request_from
from actions.booking_request import asks_a_question, is_booking_request
from actions.common import entity_values, is_voice, latest_intent, latest_text, now, say, time_resolution
from actions.deps import deps
from actions.details import read
from actions.hours import CLOSURE_NOTICE_DAYS, Hours, asked_days, staff_closures
from guichet.french import join_and, say_date
from knowledge.faq_schema import FaqEntry
from knowledge.town import Closure

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
    ("where", r"\bou (?:faire|deposer|demander|aller)|\bquelle mairie|\bn importe quelle mairie|\bmairie equipee"),
)
# A fee question about something else than the amount (buying or refunding the stamp) goes to the questions' answers.
_NOT_AN_AMOUNT = r"\bachet|\bou (?:trouver|prendre|payer)|\brembours|\bvalable|\bvalidite|\ben ligne|\btabac|\bpaye"
DONT_KNOW = Reply("Je ne connais pas la réponse à cette question, et je préfère ne pas vous répondre au hasard : "
                  "un agent de la mairie peut vous renseigner. Voulez-vous qu'il vous recontacte ?",
                  "Je ne connais pas la réponse à cette question. Un agent de la mairie peut vous renseigner : "
                  "dites « un agent » pour qu'il vous rappelle.")
_PERIOD_MAX_DAYS = 92  # closures listed for a period up to this long ("en décembre"), not for "n'importe quand"


def procedure_topic(text: str) -> str | None:
    """The ready answer for an "how does it work" question: ``predemande``, ``collection``, ``where``… or None."""
    folded = fold(text)
    return next((topic for topic, pattern in _PROCEDURE_TOPICS if re.search(pattern, folded)), None)


# When the intent already names the topic of a ready answer (delays, follow-up), a question's own answer replaces it
# only when clearly closer: « c'est long ? » is the general delay answer, « avant l'été c'est plus long ? » is not.
SURER = 0.6


def entry_reply(entry: FaqEntry) -> Reply:
    """An entry's own answer, or the ready answer of facts.yaml it points at."""
    if entry.answer is not None:
        ready = deps().facts.answer(entry.answer)
        return Reply(ready.text, ready.voice)
    return Reply(str(entry.text), str(entry.voice))


def faq_reply(text: str, at_least: float = 0.0) -> Reply | None:
    """The answer of the citizens' questions (knowledge/faq/) closest to ``text``, None when none is close enough."""
    match = deps().faq.best(text)
    if match is None or match.score < at_least:
        return None
    log.info("question answered by %s (score %.2f)", match.entry.id, match.score)
    return entry_reply(match.entry)


def chosen_entry(tracker: Tracker) -> FaqEntry | None:
    """The question the citizen picked among the ones offered (a button's ``faq`` entity)."""
    return next((entry for value in entity_values(tracker, "faq") if isinstance(value, str)
                 and (entry := deps().faq.get(value)) is not None), None)


def offer_choices(dispatcher: CollectingDispatcher, tracker: Tracker, text: str) -> bool:
    """In the chat, when no answer is sure, the closest questions as buttons (True if offered); never on the phone."""
    if is_voice(tracker):
        return False
    close = deps().faq.suggestions(text)
    if not close:
        return False
    buttons = [{"title": e.questions[0][:80], "payload": f'/ask_procedure{{"faq": "{e.id}"}}'} for e in close]
    buttons.append({"title": "Parler à un agent", "payload": "/request_human"})
    dispatcher.utter_message(text="Je ne suis pas sûr d'avoir compris votre question. Est-ce l'une de celles-ci ?",
                             buttons=buttons)
    return True


def booking_instead(tracker: Tracker) -> list[EventType] | None:
    """When a message read as a question asks for an appointment, or gives details inside the booking form, the
    events that book instead (None otherwise).

    Outside a form the booking form starts (every detail of the message is already in its slots but the day, which
    the domain maps from questions' entities never: it is set here); inside the booking form nothing is answered and
    the form asks what it still needs.
    """
    loop, text = tracker.active_loop_name, latest_text(tracker)
    if loop not in (None, "booking_form") or chosen_entry(tracker) is not None or text.startswith("/"):
        return None
    details = read(text)
    # In the form, details said without a question (« ah non, passeport et carte d'identité » at the recap) change
    # the booking: the form takes them, nothing is answered.
    changes = loop is not None and bool(details.slots()) and not asks_a_question(text)
    if not changes and not is_booking_request(text, details):
        return None
    log.info("[%s] a booking request read as %s: booking", tracker.sender_id, latest_intent(tracker) or "?")
    events: list[EventType] = [SlotSet("when", value) for value in entity_values(tracker, "time")[-1:]]
    return events if loop else [*events, FollowupAction("booking_form")]


def _closures_notice(hours: Hours, first: date, last: date) -> str:
    closed = hours.exceptional_closures(first, last)
    if not closed:
        return ""
    days = join_and([f"le {say_date(day)} ({reason})" for day, reason in closed])
    return f"Attention, le service sera fermé {days}."


def hours_reply(tracker: Tracker, closures: Sequence[Closure] = ()) -> Reply:
    """The weekly hours, or the asked days' hours when the message names a day ("ouvert samedi ?"); ``closures``:
    those staff added (:func:`~actions.hours.staff_closures`)."""
    hours = Hours(deps().town.meeting_points[0], closures)
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


def answer(intent: str, tracker: Tracker, closures: Sequence[Closure] = ()) -> Reply:
    """The reply to a question intent (see ``core.yml``); the contact details for anything else."""
    facts, text = deps().facts, latest_text(tracker)
    picked = chosen_entry(tracker)
    if picked is not None:
        return entry_reply(picked)
    if intent == "ask_opening_hours":
        return hours_reply(tracker, closures)
    if intent == "ask_fees":
        if re.search(_NOT_AN_AMOUNT, fold(text)):
            return faq_reply(text) or fee_reply(facts, request_from(tracker))
        return fee_reply(facts, request_from(tracker))
    if intent == "ask_documents":
        return documents_in_form_reply(tracker)
    if intent == "ask_contact":
        return contact_reply(deps().town)
    ready = {"ask_delay": "delay", "ask_status": "status"}.get(intent)
    found = faq_reply(text, SURER if ready else 0.0)
    if found is not None:
        return found
    topic = ready or procedure_topic(text)
    if topic is None:
        return DONT_KNOW
    fact = facts.answer(topic)
    return Reply(fact.text, fact.voice)


class ActionAnswerQuestion(Action):
    """Answers the latest question without changing the conversation's state."""

    def name(self) -> str:
        return "action_answer_question"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> list[EventType]:
        intent = latest_intent(tracker)
        log.info("[%s] answering %s", tracker.sender_id, intent or "?")
        booking = booking_instead(tracker)
        if booking is not None:
            return booking
        closures = await staff_closures() if intent == "ask_opening_hours" else []
        reply = answer(intent, tracker, closures)
        if reply is DONT_KNOW and offer_choices(dispatcher, tracker, latest_text(tracker)):
            return []
        buttons = [{"title": "Parler à un agent", "payload": "/request_human"}] if reply is DONT_KNOW else None
        say(dispatcher, tracker, reply.text, reply.voice, buttons=buttons)
        return []


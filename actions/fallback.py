"""Misunderstandings: a helpful re-prompt the first time, a human after two in a row.

Gibberish is often classified out_of_scope rather than nlu_fallback; both count as a misunderstanding here
(an off-topic question gets its own answer first).
"""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import metrics as action_metrics
from actions.answers import booking_instead, faq_reply, offer_choices
from actions.common import latest_intent, latest_text, say
from actions.deps import deps

IN_A_ROW = 2
DETAIL_SLOTS = frozenset({"procedure", "people", "case", "age_group", "child_age", "has_predemande", "predemande_ids",
                          "phone", "person_name", "when", "chosen_slot", "reference"})
MISUNDERSTOOD = ("nlu_fallback", "out_of_scope")


def _answerable(event: dict[str, object]) -> bool:
    """A message NLU could not place but the citizens' questions answer (it was understood after all)."""
    text = event.get("text")
    return isinstance(text, str) and deps().faq.best(text) is not None


def misunderstood_in_a_row(tracker: Tracker) -> int:
    """How many of the latest user messages in a row were not understood, this one included.

    A message counts when NLU could not read it (nlu_fallback, out_of_scope) or when the dialogue had no next step
    for it (Rasa's core fallback ran ``action_fallback``, e.g. markup read as ``inform``).
    """
    count, fell_back, current = 0, False, True
    for event in reversed(tracker.events):
        if event.get("event") == "action" and event.get("name") == "action_fallback":
            fell_back = True
        if event.get("event") != "user":
            continue
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if not (current or fell_back or intent in MISUNDERSTOOD) or (not current and _answerable(event)):
            break
        count += 1
        current, fell_back = False, False
    return count


class ActionFallback(Action):
    def name(self) -> str:
        return "action_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        if tracker.active_loop_name and set(tracker.slots_to_validate()) & DETAIL_SLOTS:
            return []  # the words were not an intent, but they answered (« ma femme et moi »): the form goes on
        booking = None if tracker.active_loop_name else booking_instead(tracker)
        if booking is not None:  # « rendez-vous passeport pour deux jeudi » read as nothing known: it is a booking
            return booking
        answered = faq_reply(latest_text(tracker))
        if answered is not None:  # NLU did not place it, but it is one of the citizens' questions
            say(dispatcher, tracker, answered.text, answered.voice)
            return [UserUtteranceReverted()]
        if offer_choices(dispatcher, tracker, latest_text(tracker)):
            return [UserUtteranceReverted()]
        action_metrics.misunderstood(tracker)
        if misunderstood_in_a_row(tracker) < IN_A_ROW:
            off_topic = latest_intent(tracker) == "out_of_scope"
            dispatcher.utter_message(response="utter_out_of_scope" if off_topic else "utter_please_rephrase")
            # Like Rasa's default fallback: the message is taken back, so the dialogue waits for the next one
            # (returning nothing made Rasa predict this action again, ten times, and the conversation never recovered).
            return [UserUtteranceReverted()]
        say(dispatcher, tracker, "Je n'arrive pas à vous comprendre, excusez-moi. Je vais demander à un agent de la "
            "mairie de vous recontacter.", "Je n'arrive pas à vous comprendre, excusez-moi. Un agent va vous rappeler.")
        return [ActiveLoop(None), SlotSet("requested_slot", None), SlotSet("handoff_reason", "not_understood"),
                FollowupAction("handoff_form")]

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
from actions.common import latest_intent, say

IN_A_ROW = 2
MISUNDERSTOOD = ("nlu_fallback", "out_of_scope")


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
        if not (current or fell_back or intent in MISUNDERSTOOD):
            break
        count += 1
        current, fell_back = False, False
    return count


class ActionFallback(Action):
    def name(self) -> str:
        return "action_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
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

"""Small helpers every action uses: channel-aware utterances, the latest message's entities, the resolved time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.deps import deps
from guichet.text import storable
from nlu.dates import resolve

VOICE = "voice"


def is_voice(tracker: Tracker) -> bool:
    return bool(tracker.get_latest_input_channel() == VOICE)


def say(dispatcher: CollectingDispatcher, tracker: Tracker, text: str, voice: str | None = None, *,
        buttons: list[dict[str, str]] | None = None) -> None:
    """Utter `text` in chat (with buttons) or `voice` on the phone (no buttons, no links)."""
    if is_voice(tracker):
        dispatcher.utter_message(text=voice or text)
    else:
        dispatcher.utter_message(text=text, buttons=buttons or [])


def latest_intent(tracker: Tracker) -> str:
    return str((tracker.latest_message.get("intent") or {}).get("name") or "")


def latest_text(tracker: Tracker) -> str:
    return storable(str(tracker.latest_message.get("text") or ""))


def entity_values(tracker: Tracker, entity: str) -> list[Any]:
    return [e.get("value") for e in tracker.latest_message.get("entities") or [] if e.get("entity") == entity]


def now() -> datetime:
    return deps().clock.now()


def time_resolution(tracker: Tracker) -> dict[str, Any] | None:
    """The resolved `time` entity of the latest message (see nlu/dates); re-resolved here if it came as words."""
    for value in entity_values(tracker, "time"):
        if isinstance(value, dict) and "windows" in value:
            return value
        if isinstance(value, str) and value:
            result = resolve(value, now())
            if result.understood:
                return result.to_json()
    return None


def caller_number(tracker: Tracker) -> str | None:
    """The caller's number the voice channel passes as metadata (None in chat or when withheld)."""
    metadata = tracker.latest_message.get("metadata") or {}
    number = metadata.get("caller") or metadata.get("caller_number")
    return str(number) if number else None

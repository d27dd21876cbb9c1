"""Checking the `when` slot (a resolution from nlu.dates): past, ambiguous, too far, or fine."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import slots as slot_values
from actions.common import now, say
from actions.deps import deps
from guichet.french import say_date
from nlu.dates import resolve


def check_when(value: Any, dispatcher: CollectingDispatcher, tracker: Tracker) -> dict[str, Any]:
    """Accept a usable wish (and forget the slot picked for the previous one), or say why not and ask again."""
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, dict)), value[0] if value else None)
    if isinstance(value, str):
        value = resolve(value[:1000], now()).to_json()
    if isinstance(value, dict) and value.get("problem") in ("past", "invalid"):
        value = {**value, "windows": []}  # said why below
    value = slot_values.resolution(value)
    if value is None:
        return {"when": None}
    if value.get("problem") == "past":
        say(dispatcher, tracker, "Cette date est déjà passée. Quel jour à venir vous arrangerait ?")
        return {"when": None}
    if value.get("problem") == "invalid":
        say(dispatcher, tracker, "Cette date n'existe pas. Quel jour vous arrangerait ?")
        return {"when": None}
    if not value.get("windows"):
        return {"when": None}
    if value.get("ambiguous") and value.get("readings"):
        days = [datetime.fromisoformat(r[0]["start"]).date() for r in value["readings"] if r]
        choices = [say_date(d) for d in days]
        say(dispatcher, tracker, f"Voulez-vous dire {' ou '.join(choices)} ?",
            buttons=[{"title": c, "payload": c} for c in choices])
        return {"when": None}
    schedule = deps().town.meeting_points[0].schedule
    last = (now() + timedelta(days=schedule.horizon_days)).date()
    first = min(datetime.fromisoformat(w["start"]) for w in value["windows"]).date()
    if first > last:
        say(dispatcher, tracker, f"Les rendez-vous sont ouverts jusqu'au {say_date(last)}. "
            "Quel jour avant cette date vous arrangerait ?")
        return {"when": None}
    return {"when": value, "chosen_slot": None, "proposals": None}

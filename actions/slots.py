"""Typed readings of slot values that may hold anything.

Slots are filled by the action server, but also by Rasa's slot mappings from whatever a message carries (Rasa's
``/intent{"slot": …}`` syntax puts arbitrary JSON there). Actions read structured slots through these functions,
which return a usable value or nothing, never raise.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

from rasa_sdk import Tracker

MAX_AGE = 130
_HHMM = re.compile(r"^([01]?\d|2[0-4]):([0-5]\d)$")


def record(tracker: Tracker, name: str) -> dict[str, Any]:
    """A slot meant to hold an object (an appointment, a chosen slot); ``{}`` when it holds anything else."""
    value = tracker.get_slot(name)
    return value if isinstance(value, dict) else {}


def text(tracker: Tracker, name: str) -> str | None:
    value = tracker.get_slot(name)
    return value if isinstance(value, str) and value.strip() else None


def moment(value: Any) -> datetime | None:
    """An ISO 8601 date-time with its offset, else ``None``."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def whole_number(value: Any, low: int, high: int) -> int | None:
    """An integer within [low, high] from an int, a whole float or digits; ``None`` otherwise (booleans too)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            return None
        value = int(value)
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 4:
        value = int(value.strip())
    return value if isinstance(value, int) and low <= value <= high else None


def people(tracker: Tracker, fallback: Any = None) -> int:
    """How many people the booking is for (1 when the slot holds nothing usable)."""
    return whole_number(tracker.get_slot("people"), 1, 6) or whole_number(fallback, 1, 6) or 1


def age(value: Any) -> int | None:
    return whole_number(value, 0, MAX_AGE)


def strings(value: Any) -> list[str]:
    """A list slot's string items (a lone string counts as a list of one)."""
    items = value if isinstance(value, list) else [value]
    return [item for item in items if isinstance(item, str) and item]


def _hhmm(value: Any) -> bool:
    return isinstance(value, str) and bool(_HHMM.match(value))


def _window(value: Any) -> bool:
    return isinstance(value, dict) and moment(value.get("start")) is not None \
        and moment(value.get("end")) is not None


def resolution(value: Any) -> dict[str, Any] | None:
    """A ``time`` resolution (the JSON of ``nlu.dates``) if it has that shape, else ``None``."""
    if not isinstance(value, dict) or not isinstance(value.get("windows"), list):
        return None
    if not all(_window(w) for w in value["windows"]):
        return None
    readings = value.get("readings", [])
    if not isinstance(readings, list) or not all(isinstance(r, list) and all(_window(w) for w in r)
                                                  for r in readings):
        return None
    daily = value.get("daily", [])
    if not isinstance(daily, list) or not all(isinstance(d, dict) and _hhmm(d.get("start")) and _hhmm(d.get("end"))
                                              for d in daily):
        return None
    excluded = value.get("excluded_weekdays", [])
    if not isinstance(excluded, list) or not all(whole_number(d, 0, 6) is not None for d in excluded):
        return None
    return value

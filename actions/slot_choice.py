"""Finding free slots that match what the citizen said, proposing three, and understanding their pick.

Pure functions over the resolution of nlu.dates (the `when` slot) and the backend's slots; the actions do the I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from actions.booking_client import SlotOffer
from actions.extract import fold
from guichet.french import say_moment

PROPOSE = 3
_ORDINALS = {"premier": 0, "premiere": 0, "1er": 0, "1ere": 0, "un": 0, "1": 0, "deuxieme": 1, "second": 1,
             "seconde": 1, "2e": 1, "2eme": 1, "deux": 1, "2": 1, "troisieme": 2, "3e": 2, "3eme": 2, "trois": 2,
             "3": 2, "dernier": -1, "derniere": -1}
_MORE = re.compile(r"\b(autres?|rien d autre|autre chose|plus tard|suivants?|d autres|pas ceux la|aucun)\b")


@dataclass(frozen=True)
class Wish:
    """The `when` slot as a search: windows, daily ranges, excluded weekdays, a preferred start."""

    windows: tuple[tuple[datetime, datetime], ...]
    daily: tuple[tuple[int, int], ...]
    excluded: frozenset[int]
    preferred: datetime | None

    @classmethod
    def from_slot(cls, when: dict[str, Any] | None, now: datetime, horizon_days: int) -> Wish:
        if not when or not when.get("windows"):
            return cls(((now, now + timedelta(days=horizon_days)),), (), frozenset(), None)
        windows = tuple((datetime.fromisoformat(w["start"]), datetime.fromisoformat(w["end"]))
                        for w in when["windows"])
        daily = tuple((_minutes(d["start"]), _minutes(d["end"])) for d in when.get("daily") or ())
        point = [w for w in when["windows"] if w.get("grain") in ("hour", "minute")]
        preferred = datetime.fromisoformat(point[0]["start"]) if point and len(point) == 1 else None
        if preferred is None and len(daily) == 1 and daily[0][1] - daily[0][0] <= 60:
            preferred = None  # a time without a day: matched by the daily range
        return cls(windows, daily, frozenset(when.get("excluded_weekdays") or ()), preferred)

    @property
    def first_day(self) -> date:
        return min(start for start, _ in self.windows).date()

    @property
    def last_day(self) -> date:
        return max(end - timedelta(microseconds=1) for _, end in self.windows).date()

    def accepts(self, slot: SlotOffer) -> bool:
        start = slot.start
        if start.weekday() in self.excluded:
            return False
        if not any(ws <= start < we for ws, we in self.windows):
            return False
        minute = start.hour * 60 + start.minute
        return not self.daily or any(a <= minute < b for a, b in self.daily)


def _minutes(text: str) -> int:
    hours, _, minutes = text.partition(":")
    return int(hours) * 60 + int(minutes or 0)


def pick_matching(slots: list[SlotOffer], wish: Wish, *, after: datetime | None = None) -> list[SlotOffer]:
    """Up to three slots inside the wish, the preferred time first, then in time order."""
    fitting = [s for s in slots if wish.accepts(s) and (after is None or s.start > after)]
    if wish.preferred is not None:
        preferred = wish.preferred
        fitting.sort(key=lambda s: (abs((s.start - preferred).total_seconds()), s.start))
    return fitting[:PROPOSE]


def offers_json(slots: list[SlotOffer]) -> list[dict[str, str]]:
    return [{"id": s.id, "start": s.start.isoformat(), "end": s.end.isoformat()} for s in slots]


def offers_from_json(items: Any) -> list[SlotOffer]:
    if not isinstance(items, list):
        return []
    return [SlotOffer(i["id"], datetime.fromisoformat(i["start"]), datetime.fromisoformat(i["end"]))
            for i in items if isinstance(i, dict) and {"id", "start", "end"} <= i.keys()]


def describe(slots: list[SlotOffer], today: date) -> list[str]:
    return [say_moment(s.start, today=today) for s in slots]


def wants_more(text: str) -> bool:
    """"rien d'autre ?", "d'autres créneaux", "plus tard": the citizen wants other proposals."""
    return bool(_MORE.search(fold(text)))


def choose(offers: list[SlotOffer], text: str, ordinal: str | None, when: dict[str, Any] | None) -> SlotOffer | None:
    """Which proposal the citizen picked: "le deuxième", "2", "celui de 10 h", "jeudi" (if only one is on Thursday)."""
    if not offers:
        return None
    if ordinal is not None:
        index = _ORDINALS.get(fold(str(ordinal)))
        if index is None and str(ordinal).isdigit():
            index = int(str(ordinal)) - 1
        if index is not None and -len(offers) <= index < len(offers):
            return offers[index]
    words = fold(text).split()
    if len(words) <= 4:
        for word in words:
            if (word in _ORDINALS and word not in ("un", "deux", "trois")) or (word.isdigit() and len(words) <= 2):
                index = _ORDINALS.get(word, int(word) - 1 if word.isdigit() else None)
                if index is not None and -len(offers) <= index < len(offers):
                    return offers[index]
    if when and when.get("windows"):
        matching = [o for o in offers if _inside(o, when)]
        if len(matching) == 1:
            return matching[0]
    return None


def _inside(offer: SlotOffer, when: dict[str, Any]) -> bool:
    minute = offer.start.hour * 60 + offer.start.minute
    daily = [(_minutes(d["start"]), _minutes(d["end"])) for d in when.get("daily") or ()]
    if when.get("day_given"):
        in_window = any(datetime.fromisoformat(w["start"]) <= offer.start < datetime.fromisoformat(w["end"])
                        for w in when["windows"])
        return in_window and (not daily or any(a <= minute < b for a, b in daily))
    return bool(daily) and any(a <= minute < b for a, b in daily)

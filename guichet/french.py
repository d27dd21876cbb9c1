"""Dates, times, lists and phone numbers written the French way (the bot's answers, the citizen's page): "mardi 1er
décembre à 10 h 30"."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time

from babel.dates import format_date


def say_date(day: date, *, with_year: bool = False) -> str:
    """``mardi 1er décembre`` (``… 2027`` with the year)."""
    text = format_date(day, "EEEE d MMMM y" if with_year else "EEEE d MMMM", locale="fr_FR")
    if day.day == 1:
        text = text.replace(" 1 ", " 1er ", 1)
    return text


def say_time(moment: time | datetime) -> str:
    """``10 h 30``, ``9 h``, ``midi``."""
    if moment.hour == 12 and moment.minute == 0:
        return "midi"
    return f"{moment.hour} h {moment.minute:02d}" if moment.minute else f"{moment.hour} h"


def say_moment(moment: datetime, *, today: date | None = None, with_year: bool = False) -> str:
    """``mardi 1er décembre à 10 h 30``; ``aujourd'hui à 15 h`` / ``demain à 9 h`` relative to ``today``."""
    day = moment.date()
    if today is not None and day == today:
        said = "aujourd'hui"
    elif today is not None and (day - today).days == 1:
        said = f"demain, {say_date(day)},"
    else:
        said = say_date(day, with_year=with_year)
    return f"{said} à {say_time(moment)}"


def join_and(items: Sequence[str], word: str = "et") -> str:
    """``a, b et c``."""
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {word} {items[-1]}"


def display_phone(phone: str) -> str:
    """``0612345678`` or ``+33612345678`` → ``06 12 34 56 78``; other formats unchanged."""
    digits = phone.replace(" ", "")
    if digits.startswith("+33") and len(digits) == 12:
        digits = "0" + digits[3:]
    if len(digits) == 10 and digits.isdigit():
        return " ".join(digits[i:i + 2] for i in range(0, 10, 2))
    return phone

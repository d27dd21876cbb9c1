"""Reading a value out of a free-text answer when DIET found no entity (pure functions, tested alone)."""

from __future__ import annotations

import re
import unicodedata

import phonenumbers
from text_to_num import alpha2digit

from guichet.text import storable

_PEOPLE_WORDS = {"moi": 1, "seul": 1, "seule": 1, "juste moi": 1, "moi seul": 1, "moi seule": 1}
_COMPANIONS = re.compile(r"\b(?:mon|ma|mes|notre|nos|son|sa)\s+(fils|fille|enfant|enfants|femme|mari|epoux|epouse|"
                         r"conjoint|conjointe|frere|soeur|pere|mere|bebe|garcon|compagnon|compagne)\b")
_NAME_PREFIX = re.compile(r"^(?:(?:euh|ben|alors|oui|bonjour)\s+)*(?:je m appelle|je suis|mon nom est|mon nom c est|"
                          r"c est|au nom de|nom\s*:?|moi c est)\s+", re.IGNORECASE)
_NOT_A_NAME = {"oui", "non", "ok", "d accord", "merci", "bonjour", "je ne sais pas", "pourquoi", "quoi", "aucun"}


def digits(text: str) -> str:
    """Number words as digits ("six" → "6"); text the library cannot take (lone surrogates) is cleaned first."""
    if not text:
        return ""
    clean = storable(text)
    try:
        return str(alpha2digit(clean, "fr", threshold=0))
    except Exception:  # the library is compiled code: any input it refuses leaves the text as it was
        return clean


def fold(text: str) -> str:
    plain = "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^a-z0-9+]+", " ", plain).split())


def count_people(text: str) -> int | None:
    """"2", "deux personnes", "moi et ma fille" → 2, "pour moi" → 1; None when no count is said."""
    folded = fold(digits(text.lower()))
    me = bool(re.search(r"\bmoi\b|\bje\b", folded))
    group = re.search(r"\b(?:mes|nos|les|ses) (\d{1,2}) (?:enfants|filles|fils|garcons|petits enfants)\b", folded)
    if group:
        return int(group[1]) + (1 if me else 0)
    numbers = [int(n) for n in re.findall(r"\b(\d{1,2})\b(?! ans?\b| mois\b)", folded)]
    if numbers:
        return numbers[0]
    companions = _COMPANIONS.findall(folded)
    if companions:
        plural = sum(1 for c in companions if c.endswith("s") and c != "fils")
        return 1 + len(companions) + plural if me else len(companions)
    for phrase, count in sorted(_PEOPLE_WORDS.items(), key=lambda kv: -len(kv[0])):
        if re.search(rf"\b{phrase}\b", folded):
            return count
    return None


def name_from_text(text: str) -> str | None:
    """The whole answer as a name, without "je m'appelle": letters, spaces, hyphens and apostrophes only."""
    cleaned = " ".join(text.replace("’", "'").split()).strip(" .!,;")
    prefix = _NAME_PREFIX.match(cleaned.replace("'", " "))
    if prefix:
        cleaned = cleaned[prefix.end():].strip()
    if not 2 <= len(cleaned) <= 80 or fold(cleaned) in _NOT_A_NAME:
        return None
    if not re.fullmatch(r"[^\W\d_]+(?:[ '\-][^\W\d_]+){0,5}", cleaned):
        return None
    return " ".join("-".join(p[:1].upper() + p[1:] for p in w.split("-")) if w.islower() else w
                    for w in cleaned.split())


def phone_from_text(text: str) -> str | None:
    """A valid phone number said or typed ("06 12 34 56 78", "zéro six douze…", "+33 6…"), as 06 12 34 56 78."""
    digits_text = digits(text.lower())
    candidate = re.sub(r"[^\d+]", "", digits_text)
    if not 9 <= len(candidate.lstrip("+")) <= 15:
        return None
    try:
        parsed = phonenumbers.parse(candidate, "FR")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    if parsed.country_code == 33:
        national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
        return " ".join(national.split())
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)

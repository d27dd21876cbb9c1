"""Turning untrusted request data into domain values; every refusal is an ``InvalidRequest`` with a code."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import date
from typing import Any

import phonenumbers

from booking.domain import InvalidRequest, Procedure
from guichet.references import normalize_reference

APPLICATION_ID = re.compile(r"^[A-Z0-9]{10}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
CHANNELS = ("api", "chat", "voice", "operator", "ants")


def procedure(value: Any) -> Procedure:
    try:
        return Procedure(str(value).strip().lower())
    except ValueError:
        raise InvalidRequest("Démarche inconnue : choisissez « passport », « cni » ou « both ».",
                             code="invalid_procedure") from None


def people(value: Any, maximum: int) -> int:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        number = 0
    if not 1 <= number <= maximum or isinstance(value, bool):
        raise InvalidRequest(f"Le nombre de personnes doit être compris entre 1 et {maximum}.",
                             code="invalid_people")
    return number


def day(value: Any, field: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InvalidRequest(f"Date invalide pour « {field} » : utilisez le format AAAA-MM-JJ.",
                             code="invalid_date") from None


def phone(value: Any) -> str:
    """A reachable phone number in E.164; French numbers may be written the French way (06 12 34 56 78)."""
    text = str(value or "").strip()
    try:
        parsed = phonenumbers.parse(text, "FR")
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or not phonenumbers.is_valid_number(parsed) or len(text) > 30:
        raise InvalidRequest("Numéro de téléphone invalide : indiquez par exemple 06 12 34 56 78.",
                             code="invalid_phone")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def name(value: Any) -> str:
    text = " ".join(str(value or "").split())
    if not text or len(text) > 120 or any(unicodedata.category(c).startswith("C") for c in text) \
            or not any(c.isalpha() for c in text):
        raise InvalidRequest("Nom invalide : indiquez le nom et le prénom (120 caractères au plus).",
                             code="invalid_name")
    return text


def email(value: Any) -> str | None:
    if value in (None, ""):
        return None
    text = str(value).strip()
    if len(text) > 254 or not _EMAIL.match(text):
        raise InvalidRequest("Adresse e-mail invalide.", code="invalid_email")
    return text


def application_ids(value: Any, persons: int) -> tuple[str, ...]:
    """Pré-demande numbers: 10 letters or digits each, upper-cased, one per person, all different."""
    if value in (None, ""):
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidRequest("« application_ids » doit être une liste de numéros de pré-demande.",
                             code="invalid_application_id")
    ids = tuple(re.sub(r"[\s\-]", "", v).upper() for v in value)
    bad = [v for v in ids if not APPLICATION_ID.match(v)]
    if bad:
        raise InvalidRequest("Un numéro de pré-demande comporte 10 chiffres et lettres.",
                             code="invalid_application_id")
    if len(set(ids)) != len(ids):
        raise InvalidRequest("Chaque personne a son propre numéro de pré-demande : ils doivent être différents.",
                             code="duplicate_application_id")
    if len(ids) > persons:
        raise InvalidRequest("Il y a plus de numéros de pré-demande que de personnes.",
                             code="too_many_application_ids")
    return ids


def reference(value: Any) -> str:
    normalized = normalize_reference(str(value or ""))
    if normalized is None:
        raise InvalidRequest("Référence de rendez-vous invalide (8 caractères, par exemple K7M4-QX9B).",
                             code="invalid_reference")
    return normalized


def channel(value: Any) -> str:
    text = str(value or "api")
    if text not in CHANNELS:
        raise InvalidRequest(f"Canal inconnu : {', '.join(CHANNELS)}.", code="invalid_channel")
    return text


def text_field(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(f"Le champ « {key} » est obligatoire.", code="missing_field")
    return value.strip()

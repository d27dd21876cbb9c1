"""Appointment references: short, easy to read aloud and to type, unguessable."""

from __future__ import annotations

import re
import secrets

# No 0/O, 1/I/L, nor U/V (heard alike on the phone): 29 symbols, 8 characters ≈ 39 bits of randomness.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTWXYZ"
LENGTH = 8
_PATTERN = re.compile(f"^[{ALPHABET}]{{{LENGTH}}}$")


def new_reference() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalize_reference(text: str) -> str | None:
    """Upper-case, drop spaces and dashes; ``None`` when it cannot be one of our references."""
    cleaned = re.sub(r"[\s\-.]", "", text).upper()
    return cleaned if _PATTERN.match(cleaned) else None


def display_reference(reference: str) -> str:
    """``K7M4QX9B`` → ``K7M4-QX9B`` for people."""
    return f"{reference[:4]}-{reference[4:]}"

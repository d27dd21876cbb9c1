"""Masking of personal data (phone numbers, e-mails, pré-demande numbers, names) before it reaches a log."""

from __future__ import annotations

import logging
import re

# Phone numbers as people type them: 06 12 34 56 78, 0612345678, 06.12.34.56.78, +33 6 12 34 56 78, 0033612345678.
# Dates (2026-12-01) and times are not matched: a national number starts with 0, an international one with + or 00.
_PHONE = re.compile(r"(?<![\w+])(?:(?:\+|00)\d{1,3}[\s.\-]?\d(?:[\s.\-]?\d){7,11}|0\d(?:[\s.\-]?\d\d){4})(?!\w)")
_EMAIL = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
# A pré-demande number is 10 letters/digits with at least one digit and one letter (a plain word is not masked).
_APPLICATION_ID = re.compile(r"\b(?=[A-Za-z0-9]{10}\b)(?=[A-Za-z]*\d)(?=\d*[A-Za-z])[A-Za-z0-9]{10}\b")


def mask_phone(phone: str) -> str:
    """Keep only the last two digits: ``+33612345678`` → ``+33•••••••78``."""
    digits = [i for i, c in enumerate(phone) if c.isdigit()]
    keep = set(digits[-2:]) | ({0} if phone.startswith("+") else set())
    return "".join(c if (i in keep or not c.isdigit()) else "•" for i, c in enumerate(phone))


def mask_name(name: str) -> str:
    """Initials only: ``Marie Dupont`` → ``M. D.``."""
    return " ".join(f"{part[0]}." for part in name.split() if part) or "•"


def mask_text(text: str) -> str:
    """Mask every phone number, e-mail address and pré-demande number found in free text."""
    text = _EMAIL.sub(lambda m: m.group(0)[0] + "•••@•••", text)
    text = _APPLICATION_ID.sub(lambda m: m.group(0)[:2] + "••••••••", text)
    return _PHONE.sub(lambda m: mask_phone(m.group(0)), text)


class MaskingFilter(logging.Filter):
    """A logging filter that rewrites each record's message, and its traceback, with personal data masked
    (a library's exception can carry a whole request body: Rasa's does, with the conversation in it)."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        return True


def masking_filter(capture_warnings: bool = False) -> MaskingFilter:
    """Factory for logging configuration files (``(): guichet.privacy.masking_filter``).

    ``capture_warnings`` sends Python warnings through logging, hence through the mask: Rasa warns about a
    message it cannot parse by quoting it whole.
    """
    if capture_warnings:
        logging.captureWarnings(True)
    return MaskingFilter()

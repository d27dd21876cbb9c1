"""Personal data never reaches a log line unmasked."""

from __future__ import annotations

import logging

import pytest

from guichet.privacy import MaskingFilter, mask_name, mask_phone, mask_text


@pytest.mark.parametrize("phone", ["+33612345678", "06 12 34 56 78", "0612345678", "06.12.34.56.78",
                                   "0033 6 12 34 56 78"])
def test_phone_numbers_are_masked_in_text(phone: str) -> None:
    masked = mask_text(f"rappeler le {phone} demain")
    assert "12 34" not in masked and "123456" not in masked and "34.56" not in masked
    assert masked.startswith("rappeler le ") and masked.endswith(" demain")


def test_emails_and_pre_demande_numbers_are_masked() -> None:
    masked = mask_text("mail marie.dupont@example.fr, pré-demande ABCDE12345, référence K7M4-QX9B")
    assert "dupont" not in masked and "ABCDE12345" not in masked
    assert "référence K7M4-QX9B" in masked  # references are not personal data


def test_plain_words_and_dates_are_kept() -> None:
    assert mask_text("rendez-vous le 2026-12-01 à 09:30 pour 2 personnes") == \
        "rendez-vous le 2026-12-01 à 09:30 pour 2 personnes"
    assert mask_text("PASSEPORTS") == "PASSEPORTS"


def test_helpers() -> None:
    assert mask_phone("+33612345678") == "+•••••••••78"
    assert mask_name("Marie Dupont") == "M. D."


def test_filter_rewrites_records(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.privacy")
    handler_filter = MaskingFilter()
    record = logger.makeRecord("test.privacy", logging.INFO, __file__, 1, "call from %s", ("06 12 34 56 78",), None)
    assert handler_filter.filter(record)
    assert "12 34 56" not in record.getMessage()

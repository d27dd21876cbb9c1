"""Input validation and references: pure functions."""

from __future__ import annotations

import pytest

from booking import validation as v
from booking.domain import InvalidRequest
from guichet.references import ALPHABET, display_reference, new_reference, normalize_reference


@pytest.mark.parametrize("text", ["06 12 34 56 78", "0612345678", "+33 6 12 34 56 78", "0033612345678",
                                  "06.12.34.56.78", "06-12-34-56-78"])
def test_french_phone_numbers_normalize_to_e164(text: str) -> None:
    assert v.phone(text) == "+33612345678"


@pytest.mark.parametrize("text", ["", "12", "06 12 34", "abcdefghij", "+1 555", None, "0" * 40])
def test_bad_phone_numbers(text: str | None) -> None:
    with pytest.raises(InvalidRequest) as error:
        v.phone(text)
    assert error.value.code == "invalid_phone"


def test_application_ids_are_upper_cased_and_checked() -> None:
    assert v.application_ids(["abcde 12345"], 1) == ("ABCDE12345",)
    for bad, code in ((["ABCDE1234"], "invalid_application_id"), (["ABCDE12345", "abcde12345"],
                      "duplicate_application_id"), (["ABCDE1234É"], "invalid_application_id")):
        with pytest.raises(InvalidRequest) as error:
            v.application_ids(bad, 2)
        assert error.value.code == code


def test_names_are_tidied() -> None:
    assert v.name("  Marie   Dupont ") == "Marie Dupont"
    for bad in ("", "   ", "12345", "a\u200bb" * 80, "Jean\nDupont\x07"):
        with pytest.raises(InvalidRequest):
            v.name(bad)


def test_references_are_short_unambiguous_and_random() -> None:
    references = {new_reference() for _ in range(2000)}
    assert len(references) == 2000
    assert all(len(r) == 8 and set(r) <= set(ALPHABET) for r in references)
    assert not set(ALPHABET) & set("01OIL")
    reference = next(iter(references))
    assert normalize_reference(display_reference(reference).lower()) == reference
    assert normalize_reference(" k7m4-qx9b ") == "K7M4QX9B"
    assert normalize_reference("K7M4QX9O") is None

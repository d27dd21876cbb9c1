"""What the recognizer heard, read for the question the bot asked; keys read as the offered choices."""

from __future__ import annotations

import pytest

from voice.heard import checked, join_number_pieces, join_spelled
from voice.keypad import keys_as_words


@pytest.mark.parametrize(("heard", "slot", "read"), [
    ("Judi", "when", "jeudi"),
    ("Judi !", "when", "jeudi !"),
    ("mardi matin", "when", "mardi matin"),
    ("Prémit", "chosen_slot", "premier"),
    ("0, 6, 12, 34, 56, 78.", "phone", "0 6 12 34 56 78 ."),
    ("M A R T I N", "person_name", "Martin"),
    ("Jeanne Martin", "person_name", "Jeanne Martin"),
    ("Judi", None, "Judi"),  # an open question: nothing changes
    ("je voudrais vendredi", "when", "je voudrais vendredi"),
    ("Oui.", "booking_confirmed", "Oui ."),
])
def test_heard_words_are_read_for_the_question(heard: str, slot: str | None, read: str) -> None:
    assert checked(heard, slot) == read


@pytest.mark.parametrize(("heard", "read"), [
    ("20 et 1 décembre", "21 décembre"),
    ("0, 6, 60, 11, 80, 12", "0 6 71 92"),
    ("06 71 20 5", "06 71 25"),
    ("30 14", "30 14"),  # « trente quatorze » is not a number
    ("à 10 h 30", "à 10 h 30"),
])
def test_numbers_said_in_pieces_are_joined_the_french_way(heard: str, read: str) -> None:
    assert join_number_pieces(heard) == read


def test_only_a_spelled_word_is_joined() -> None:
    assert join_spelled("M. A. R. T. I. N.") == "Martin"
    assert join_spelled("A B") == "A B"  # too short to be a spelled name
    assert join_spelled("du, p, o, n, t") == "Dupont" and join_spelled("M-A-R-T-I-N") == "Martin"
    assert join_spelled("je suis là") == "je suis là"


@pytest.mark.parametrize(("keys", "slot", "words"), [
    ("1", "greeting", "je voudrais prendre rendez-vous"),
    ("1", None, "1"),  # after another answer, a key is a key
    ("1", "procedure", "passeport"),
    ("3", "procedure", "passeport et carte d'identité"),
    ("1", "booking_confirmed", "oui"),
    ("2", "has_predemande", "non"),
    ("2", "chosen_slot", "2"),  # a rank goes through as it is
    ("0612345678", "phone", "0612345678"),
])
def test_keys_are_read_as_the_choice_offered(keys: str, slot: str | None, words: str) -> None:
    assert keys_as_words(keys, slot) == words

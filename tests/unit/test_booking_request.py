"""A request for an appointment is told from a question about appointments, whatever the classifier read."""

from __future__ import annotations

import pytest

from actions.booking_request import asks_a_question, is_booking_request
from actions.details import read


@pytest.mark.parametrize("text", [
    "faire passeport et carte d'identité en même temps pour ma femme et moi",
    "rendez-vous passeport pour une personne la semaine prochaine le matin sans pré-demande",
    "je voudrais un rdv pour une carte d'identité",
    "passeport pour mon fils jeudi matin",
    "euh bonjour je souhaite prendre rendez vous",
    "cni pr 2 personnes samedi",
])
def test_a_request_for_an_appointment(text: str) -> None:
    assert is_booking_request(text, read(text))


@pytest.mark.parametrize("text", [
    "Puis-je demander une carte d'identité et un passeport au même rendez-vous ?",
    "faut il prendre rendez vous pour un passeport",
    "combien coûte un passeport pour un enfant de 8 ans",
    "je voudrais savoir si on peut faire passeport et carte d'identité en même temps",
    "comment faire la pré-demande",
    "je veux annuler mon rendez-vous",
    "je veux parler à un humain",
    "où acheter le timbre fiscal",
    "passeport",
    "",
])
def test_not_a_request_for_an_appointment(text: str) -> None:
    assert not is_booking_request(text, read(text))


def test_a_question_is_told_by_its_mark_its_word_or_its_inverted_verb() -> None:
    assert asks_a_question("le passeport c'est pour quand ?")
    assert asks_a_question("est ce que je dois venir avec mon fils")
    assert asks_a_question("doit-il être présent")
    assert not asks_a_question("pour ma femme et moi jeudi")

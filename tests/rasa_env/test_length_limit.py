"""The first NLU component cuts hostile message lengths before DIET sees them."""

from __future__ import annotations

from rasa.shared.nlu.training_data.message import Message

from nlu.components.limits import MessageLengthLimit, bounded


def test_short_messages_are_untouched() -> None:
    text = "Bonjour, je voudrais un passeport pour moi et mes deux enfants, un mardi matin si possible."
    assert bounded(text, 1000, 150) == text


def test_long_messages_are_cut_by_words_then_characters() -> None:
    assert bounded("un deux trois quatre", 1000, 2) == "un deux"
    assert bounded("x" * 5000, 1000, 150) == "x" * 1000
    assert bounded("a " * 3000, 1000, 150).split() == ["a"] * 150


def test_the_component_cuts_message_text_in_place() -> None:
    component = MessageLengthLimit({"max_characters": 50, "max_words": 5})
    long, short = Message(data={"text": "mot " * 100}), Message(data={"text": "bonjour"})
    component.process([long, short])
    assert long.get("text") == "mot mot mot mot mot"
    assert short.get("text") == "bonjour"

"""The chat channels' policy (bot/channels/limits.py): origins, message pace, body shape, typed commands."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from bot.channels.limits import ChatPolicy, offered_payloads, read_as_words, rest_body_problem, slow_down


@dataclass
class Event:
    type_name: str
    data: dict[str, Any] = field(default_factory=dict)


MENU = Event("bot", {"buttons": [{"title": "Prendre rendez-vous", "payload": "/book_appointment"},
                                 {"title": "Passeport", "payload": '/inform{"procedure": "passport"}'}]})


def test_a_typed_command_is_read_as_words_unless_it_was_just_offered_as_a_button() -> None:
    offered = offered_payloads([Event("user"), MENU, Event("action")])
    assert offered == ["/book_appointment", '/inform{"procedure": "passport"}']
    assert read_as_words("/book_appointment", offered) == "/book_appointment"
    assert read_as_words('/inform{"procedure": "passport"}', offered) == '/inform{"procedure": "passport"}'
    assert read_as_words('/inform{"phone": "0612345678"}', offered) == 'inform{"phone": "0612345678"}'
    assert read_as_words("//restart", offered) == "restart"
    assert read_as_words("/", offered) == ""
    assert read_as_words("/greet", []) == "/greet"  # the widget's first message
    assert read_as_words("bonjour /book_appointment", []) == "bonjour /book_appointment"


def test_only_the_buttons_since_the_citizens_last_message_count() -> None:
    assert offered_payloads([MENU, Event("user"), Event("bot", {"text": "Bien noté."})]) == []
    assert offered_payloads([Event("bot", {"buttons": [{"payload": 5}, "x", {"title": "sans"}]})]) == []
    assert offered_payloads([]) == []


@pytest.mark.parametrize(("body", "problem"), [
    ({"sender": "abc", "message": "bonjour"}, None),
    ({"sender": "abc", "message": "", "metadata": {"k": 1}}, None),
    ([], "JSON attendu"),
    ("bonjour", "JSON attendu"),
    (None, "JSON attendu"),
    ({"message": "bonjour"}, "« sender »"),
    ({"sender": "", "message": "bonjour"}, "« sender »"),
    ({"sender": "x" * 129, "message": "bonjour"}, "« sender »"),
    ({"sender": 12, "message": "bonjour"}, "« sender »"),
    ({"sender": "abc"}, "« message »"),
    ({"sender": "abc", "message": ["a"]}, "« message »"),
    ({"sender": "abc", "message": "a", "metadata": "x"}, "« metadata »"),
])
def test_a_rest_body_must_name_the_conversation_and_carry_text(body: Any, problem: str | None) -> None:
    found = rest_body_problem(body)
    assert (found is None) if problem is None else (found is not None and problem in found)


def test_origins_default_to_the_desk_and_star_means_any() -> None:
    default = ChatPolicy.from_env({"GUICHET_DESK_PORT": "9000"})
    assert default.origin_allowed("http://127.0.0.1:9000") and default.origin_allowed("http://localhost:9000/")
    assert not default.origin_allowed("https://evil.example")
    assert default.origin_allowed(None) and default.origin_allowed("")  # no page, no browser to protect
    town = ChatPolicy.from_env({"GUICHET_ALLOWED_ORIGINS": "https://www.ville.fr https://ville.fr"})
    assert town.origin_allowed("https://ville.fr") and not town.origin_allowed("http://127.0.0.1:8085")
    assert ChatPolicy.from_env({"GUICHET_ALLOWED_ORIGINS": "*"}).origin_allowed("https://anything.example")


def test_an_unreadable_limit_is_refused_naming_the_setting() -> None:
    with pytest.raises(ValueError, match="GUICHET_CHAT_LIMIT_SENDER"):
        ChatPolicy.from_env({"GUICHET_CHAT_LIMIT_SENDER": "beaucoup"})


async def test_messages_are_limited_per_conversation_and_per_address_except_trusted_ones() -> None:
    limiter = ChatPolicy.from_env({"GUICHET_CHAT_LIMIT_SENDER": "3 per minute",
                                   "GUICHET_CHAT_LIMIT_CLIENT": "5 per minute",
                                   "GUICHET_TRUSTED_CLIENTS": "10.0.0.1"}).limiter()
    assert [await limiter.retry_after("a", "192.0.2.1") for _ in range(3)] == [None] * 3
    wait = await limiter.retry_after("a", "192.0.2.1")
    assert wait is not None and 1 <= wait <= 60
    assert await limiter.retry_after("b", "192.0.2.1") is None  # 5th from this address
    assert await limiter.retry_after("c", "192.0.2.1") is not None  # 6th: the address is over its limit
    assert await limiter.retry_after("d", "192.0.2.2") is None  # another address
    assert [await limiter.retry_after(f"t{n}", "10.0.0.1") for n in range(10)] == [None] * 10  # trusted


def test_the_slow_down_message_says_how_long_to_wait_in_whole_seconds() -> None:
    assert slow_down(41.6) == ("Vous envoyez beaucoup de messages en peu de temps. Patientez 42 secondes, "
                               "puis écrivez-moi à nouveau.")
    assert "Patientez 1 seconde," in slow_down(0.2)

"""Things break on purpose in the running stack; the citizen always gets an answer and nothing is lost."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.integration.stack import Stack, running_stack, stop

pytestmark = pytest.mark.rasa_env


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("faults")) as running:
        yield running


def _text(replies: list[dict[str, object]]) -> str:
    return " ".join(str(r.get("text", "")) for r in replies)


def test_action_server_down_gives_a_clear_message_not_silence(stack: Stack) -> None:
    sender = f"fault-{uuid.uuid4().hex[:8]}"
    assert "assistant" in _text(stack.say(sender, "bonjour")).lower()
    stop(stack.processes["actions"])
    for message in ("je voudrais un rendez-vous pour un passeport", "quels sont vos horaires ?"):
        reply = _text(stack.say(sender, message))
        assert "problème technique" in reply and "01 30 00 00 00" in reply, reply
    greeting = _text(stack.say(sender, "bonjour"))
    assert "problème technique" not in greeting, "replies that need no action server still come normally"

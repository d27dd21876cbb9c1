"""Things break on purpose in the running stack; the citizen always gets an answer and nothing is lost."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.integration.stack import ROOT, Stack, running_stack, stop

pytestmark = pytest.mark.rasa_env


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # Conversations kept in SQLite, as `make run` does, so that a restarted dialogue server finds them again.
    with running_stack(tmp_path_factory.mktemp("faults"), endpoints=ROOT / "deploy" / "endpoints.local.yml") as running:
        yield running


def _text(replies: list[dict[str, object]]) -> str:
    return " ".join(str(r.get("text", "")) for r in replies)


def test_a_restarted_dialogue_server_resumes_the_conversation_where_it_was(stack: Stack) -> None:
    sender = f"restart-{uuid.uuid4().hex[:8]}"
    assert "combien de personnes" in _text(stack.say(sender, "je voudrais prendre rendez-vous pour un passeport"))
    assert "pré-demande" in _text(stack.say(sender, "2"))
    stack.restart("rasa")
    assert "quel jour" in _text(stack.say(sender, "non")).lower(), "the booking form goes on after the restart"
    events = stack.tracker(sender)["events"]
    said = [e.get("text") for e in events if e.get("event") == "user"]
    assert said == ["je voudrais prendre rendez-vous pour un passeport", "2", "non"], said
    assert (stack.work / "data" / "rasa-tracker.db").exists()


def test_zz_action_server_down_gives_a_clear_message_not_silence(stack: Stack) -> None:
    """Runs last in this module: it stops the action server of the shared stack."""
    sender = f"fault-{uuid.uuid4().hex[:8]}"
    assert "assistant" in _text(stack.say(sender, "bonjour")).lower()
    stop(stack.processes["actions"])
    for message in ("je voudrais un rendez-vous pour un passeport", "quels sont vos horaires ?"):
        reply = _text(stack.say(sender, message))
        assert "problème technique" in reply and "01 30 00 00 00" in reply, reply
    greeting = _text(stack.say(sender, "bonjour"))
    assert "problème technique" not in greeting, "replies that need no action server still come normally"

"""A citizen's conversation through the real stack's REST (or voice) channel, and what the bot's replies must say."""

from __future__ import annotations

import uuid
from typing import Any

from tests.integration.stack import Stack


def _texts(replies: list[dict[str, Any]]) -> str:
    """The bot's texts, each followed by its buttons' titles in brackets."""
    return "\n".join(r.get("text", "") + "".join(f" [{b['title']}]" for b in r.get("buttons") or [])
                     for r in replies)


class Conversation:
    def __init__(self, stack: Stack, channel_metadata: dict[str, Any] | None = None, channel: str = "rest") -> None:
        self.stack = stack
        self.sender = f"test-{uuid.uuid4().hex[:12]}"
        self.metadata = channel_metadata or {}
        self.channel = channel
        self.turns: list[tuple[str, str]] = []

    def say(self, text: str) -> str:
        replies = _texts(self.stack.say(self.sender, text, self.metadata, channel=self.channel))
        self.turns.append((text, replies))
        return replies

    def transcript(self) -> str:
        return "\n".join(f"> {user}\n{bot}" for user, bot in self.turns)


def expect(conversation: Conversation, reply: str, *fragments: str) -> None:
    lowered = reply.lower()
    missing = [f for f in fragments if f.lower() not in lowered]
    assert not missing, f"missing {missing} in the reply.\n{conversation.transcript()}"

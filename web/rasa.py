"""A small client for the dialogue server's HTTP API (Rasa ``--enable-api --auth-token``): resume a paused
conversation when an agent hands it back, or append other events to its tracker."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import aiohttp

log = logging.getLogger(__name__)


RESUME = [{"event": "resume"}, {"event": "action", "name": "action_listen"}]


class DialogueUnavailable(Exception):
    """The dialogue server did not accept the events (down, slow, refused the token)."""


class RasaClient:
    def __init__(self, session: aiohttp.ClientSession, base_url: str, token: str, *, timeout_s: float = 5.0) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def append_events(self, conversation_id: str, events: list[dict[str, Any]]) -> None:
        url = f"{self.base_url}/conversations/{quote(conversation_id, safe='')}/tracker/events"
        try:
            async with self.session.post(url, json=events, params={"token": self.token},
                                         timeout=self.timeout) as response:
                status = response.status
                await response.read()
        except (TimeoutError, aiohttp.ClientError) as exc:
            log.warning("dialogue server unreachable: %s", exc.__class__.__name__)
            raise DialogueUnavailable(str(exc.__class__.__name__)) from exc
        if status >= 300:
            log.warning("dialogue server refused tracker events: HTTP %s", status)
            raise DialogueUnavailable(f"HTTP {status}")

    async def resume(self, conversation_id: str) -> None:
        """The bot answers this conversation again.

        The hand-off action paused the conversation, so Rasa never ran ``action_listen`` after it; without one, the
        policies would see the next message as part of the hand-off turn and only listen. Appending it makes the
        next message a fresh turn, which the bot answers."""
        await self.append_events(conversation_id, RESUME)

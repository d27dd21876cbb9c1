"""The voice gateway's client of the dialogue server's `voice` channel (bot/channels/voice.py), and its fake.

The wire contract (path, headers, endings) is :mod:`guichet.voice_channel`, shared with the channel. Every failure
is one domain exception,
:class:`BotUnavailable`, that the session turns into an apology.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import aiohttp

from guichet.voice_channel import ENDED_HEADER, ENDINGS, SLOT_HEADER, WEBHOOK_PATH
from voice.call import BotReply

log = logging.getLogger(__name__)



class BotUnavailable(Exception):
    """The dialogue server cannot answer (down, too slow, server error, unreadable answer)."""


@dataclass(frozen=True)
class BotTurn:
    """The bot's answer to one caller turn."""

    replies: list[BotReply] = field(default_factory=list)
    requested_slot: str | None = None  # the form's current question, for recognition hints
    ended: str | None = None  # "goodbye" or "handoff" when the conversation ended this turn


def parse_replies(payload: object) -> list[BotReply]:
    """The replies of the channel's JSON answer; raises :class:`BotUnavailable` for anything but a list of objects."""
    if not isinstance(payload, list) or not all(isinstance(item, dict) for item in payload):
        raise BotUnavailable("réponse du serveur de dialogue illisible (liste d'objets attendue)")
    replies: list[BotReply] = []
    for item in payload:
        text = item.get("text")
        custom = item.get("custom")
        custom_dict = {str(k): v for k, v in custom.items()} if isinstance(custom, dict) else {}
        if isinstance(text, str) and text.strip():
            replies.append(BotReply(text, custom_dict))
        elif custom_dict:
            replies.append(BotReply("", custom_dict))
    return replies


class HttpBotClient:
    """:class:`~voice.call.BotClient` over HTTP; one aiohttp session, created on first use, closed by :meth:`close`."""

    def __init__(self, base_url: str, *, timeout_s: float = 15.0, token: str | None = None) -> None:
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, not {timeout_s}")
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        # The dialogue server's token (its voice channel refuses anyone else); never in a repr or a log.
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s))
        return self._session

    async def send(self, sender_id: str, text: str, *, metadata: dict[str, object]) -> BotTurn:
        body = {"sender": sender_id, "message": text, "metadata": metadata}
        try:
            async with self._client().post(self.base_url + WEBHOOK_PATH, json=body, headers=self._headers) as response:
                if response.status >= 300:
                    raise BotUnavailable(f"le serveur de dialogue a répondu {response.status}")
                raw = await response.read()
                slot = response.headers.get(SLOT_HEADER) or None
                ended = response.headers.get(ENDED_HEADER) or None
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("dialogue server unreachable for call %s: %s", sender_id, type(exc).__name__)
            raise BotUnavailable(f"serveur de dialogue injoignable ({type(exc).__name__})") from exc
        try:
            payload = json.loads(raw)
        except ValueError as exc:
            raise BotUnavailable("réponse du serveur de dialogue qui n'est pas du JSON") from exc
        return BotTurn(parse_replies(payload), slot, ended if ended in ENDINGS else None)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


@dataclass(frozen=True)
class SentMessage:
    sender_id: str
    text: str
    metadata: dict[str, object]


class FakeBotClient:
    """A scripted dialogue server for unit tests: each `send` returns the next scripted turn (a :class:`BotTurn`,
    a list of texts, or an exception to raise) and is recorded in :attr:`sent`. When the script is exhausted, it
    answers ``default``."""

    def __init__(self, turns: Iterable[BotTurn | Sequence[str] | BaseException] = (), *,
                 default: BotTurn | None = None, delay_s: float = 0.0) -> None:
        self._turns = list(turns)
        self.default = default or BotTurn([BotReply("D'accord.")])
        self.delay_s = delay_s
        self.sent: list[SentMessage] = []

    def add(self, *turns: BotTurn | Sequence[str] | BaseException) -> None:
        self._turns.extend(turns)

    async def send(self, sender_id: str, text: str, *, metadata: dict[str, object]) -> BotTurn:
        self.sent.append(SentMessage(sender_id, text, dict(metadata)))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if not self._turns:
            return self.default
        turn = self._turns.pop(0)
        if isinstance(turn, BaseException):
            raise turn
        if isinstance(turn, BotTurn):
            return turn
        return BotTurn([BotReply(t) for t in turn])

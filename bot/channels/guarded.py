"""Chat channels that never leave a citizen without an answer.

Rasa's REST and socket.io channels reply nothing at all when a turn fails (the action server is down, a lock
times out): the citizen sees silence. These subclasses count what the bot sent during the turn and, when it sent
nothing and the conversation is not paused (an operator may be answering instead), send one clear message, set per
town in bot/credentials.yml (``fallback_text``). Names stay ``rest`` and ``socketio``: same URLs, same responses.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint, Sanic

log = logging.getLogger(__name__)

FALLBACK_TEXT = ("Excusez-moi, je rencontre un problème technique et ne peux pas vous répondre pour le moment. "
                 "Réessayez dans quelques minutes, ou contactez la mairie aux heures d'ouverture.")
Handler = Callable[[UserMessage], Awaitable[Any]]


class CountingOutput(OutputChannel):
    """Passes every message on to ``inner`` and counts them."""

    def __init__(self, inner: OutputChannel) -> None:
        self.inner = inner
        self.sent = 0

    def name(self) -> str:  # type: ignore[override]  # the inner channel's name selects response variants
        return str(self.inner.name())

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        self.sent += 1
        await self.inner.send_response(recipient_id, message)


class _Guard:
    """What both channels share: wrap the handler, know the app (to ask whether a conversation is paused)."""

    fallback_text: str = FALLBACK_TEXT
    _app: Sanic | None = None

    def _guard(self, on_new_message: Handler) -> Handler:
        async def handle(message: UserMessage) -> None:
            counting = CountingOutput(message.output_channel)
            message.output_channel = counting
            try:
                await on_new_message(message)
            finally:
                if counting.sent == 0 and not await self._paused(message.sender_id):
                    log.warning("no reply for conversation %s: the citizen gets the technical-problem message",
                                message.sender_id)
                    await counting.inner.send_text_message(message.sender_id, self.fallback_text)

        return handle

    def _remember_app(self, blueprint: Blueprint) -> Blueprint:
        @blueprint.listener("after_server_start")
        async def remember(app: Sanic, _: Any) -> None:
            self._app = app

        return blueprint

    async def _paused(self, sender_id: str) -> bool:
        agent = getattr(getattr(self._app, "ctx", None), "agent", None)
        if agent is None or agent.tracker_store is None:
            return False
        try:
            tracker = await agent.tracker_store.retrieve(sender_id)
        except Exception:
            log.exception("tracker store unavailable while checking conversation %s", sender_id)
            return False
        return bool(tracker is not None and tracker.is_paused())


class GuardedRestInput(_Guard, RestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> GuardedRestInput:
        channel = cls()
        channel.fallback_text = str((credentials or {}).get("fallback_text") or FALLBACK_TEXT)
        return channel

    def blueprint(self, on_new_message: Handler) -> Blueprint:
        return self._remember_app(super().blueprint(self._guard(on_new_message)))


class GuardedSocketIOInput(_Guard, SocketIOInput):
    @classmethod
    def name(cls) -> str:
        return "socketio"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> GuardedSocketIOInput:
        channel = super().from_credentials(credentials)
        assert isinstance(channel, GuardedSocketIOInput)
        channel.fallback_text = str((credentials or {}).get("fallback_text") or FALLBACK_TEXT)
        return channel

    def blueprint(self, on_new_message: Handler) -> Blueprint:
        return self._remember_app(super().blueprint(self._guard(on_new_message)))

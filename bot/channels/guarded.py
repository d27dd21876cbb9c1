"""Chat channels that never leave a citizen without an answer, and let through only what they should.

Rasa's REST and socket.io channels reply nothing at all when a turn fails (the action server is down, a lock
times out): the citizen sees silence. These subclasses count what the bot sent during the turn and, when it sent
nothing and the conversation is not paused (an operator may be answering instead), send one clear message, set per
town in bot/credentials.yml (``fallback_text``). Names stay ``rest`` and ``socketio``: same URLs, same responses.

They also apply bot/channels/limits.py: the socket.io origin check, message rates per conversation and per client,
the REST body's shape and size, and typed ``/commands`` read as words.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.limits import (
    MAX_BODY,
    ChatLimiter,
    ChatPolicy,
    offered_payloads,
    read_as_words,
    rest_body_problem,
    slow_down,
)

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
    """What both channels share: wrap the handler, know the app (to read a conversation's tracker)."""

    fallback_text: str = FALLBACK_TEXT
    _app: Sanic | None = None
    _policy: ChatPolicy | None = None
    _limiter: ChatLimiter | None = None

    @property
    def policy(self) -> ChatPolicy:
        if self._policy is None:
            self._policy = ChatPolicy.from_env()
        return self._policy

    @property
    def limiter(self) -> ChatLimiter:
        if self._limiter is None:
            self._limiter = self.policy.limiter()
        return self._limiter

    def _guard(self, on_new_message: Handler) -> Handler:
        async def handle(message: UserMessage) -> None:
            if message.text and message.text.lstrip().startswith("/"):
                message.text = read_as_words(message.text, await self._offered(message.sender_id))
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

    async def _tracker(self, sender_id: str) -> Any:
        agent = getattr(getattr(self._app, "ctx", None), "agent", None)
        if agent is None or agent.tracker_store is None:
            return None
        try:
            return await agent.tracker_store.retrieve(sender_id)
        except Exception:
            log.exception("tracker store unavailable while reading conversation %s", sender_id)
            return None

    async def _paused(self, sender_id: str) -> bool:
        tracker = await self._tracker(sender_id)
        return bool(tracker is not None and tracker.is_paused())

    async def _offered(self, sender_id: str) -> list[str]:
        tracker = await self._tracker(sender_id)
        return offered_payloads(tracker.events) if tracker is not None else []


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
        blueprint = self._remember_app(super().blueprint(self._guard(on_new_message)))

        @blueprint.middleware("request")
        async def admit(request: Request) -> HTTPResponse | None:
            return await self._admit(request) if request.method == "POST" else None

        return blueprint

    async def _admit(self, request: Request) -> HTTPResponse | None:
        """A response refusing the request (size, shape, pace), or ``None`` to let it through."""
        if len(request.body or b"") > MAX_BODY:
            return _refusal(413, "too_large", f"Requête trop grande (au plus {MAX_BODY} octets).")
        try:
            body = request.json
        except Exception:  # Sanic raises its own InvalidUsage on unreadable JSON
            body = None
        problem = rest_body_problem(body)
        if problem:
            return _refusal(400, "invalid_request", problem)
        wait = await self.limiter.retry_after(body["sender"], _client(request))
        if wait is not None:
            log.warning("chat: too many messages for conversation %s or its client", body["sender"])
            return response.json([{"recipient_id": body["sender"], "text": slow_down(wait)}], status=429,
                                 headers={"Retry-After": str(max(1, round(wait)))})
        return None


def _client(request: Request) -> str | None:
    """The client's address: from the proxy's headers when Sanic is told to trust them, else the peer's."""
    return str(request.remote_addr or request.ip or "") or None


def _refusal(status: int, code: str, message: str) -> HTTPResponse:
    return response.json({"error": {"code": code, "message": message}}, status=status)


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
        blueprint = self._remember_app(super().blueprint(self._guard(on_new_message)))
        self._wrap_handlers()
        return blueprint

    def _wrap_handlers(self) -> None:
        """Wraps the handlers Rasa registered on its socket.io server: origin at connection, pace and shape of each
        message, and a readable session id."""
        sio = self.sio
        assert sio is not None
        handlers = sio.handlers[self.namespace or "/"]
        connect, disconnect = handlers["connect"], handlers["disconnect"]
        session_request, user_message = handlers["session_request"], handlers[self.user_message_evt]
        clients: dict[str, str | None] = {}

        async def on_connect(sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
            origin = environ.get("HTTP_ORIGIN")
            if not self.policy.origin_allowed(origin):
                log.warning("socket.io: connection refused from another site (%s)", origin)
                return False
            request = environ.get("sanic.request")
            clients[sid] = _client(request) if request is not None else None
            return bool(await connect(sid, environ, auth))

        async def on_disconnect(sid: str) -> None:
            clients.pop(sid, None)
            await disconnect(sid)

        async def on_session_request(sid: str, data: Any) -> None:
            session_id = data.get("session_id") if isinstance(data, dict) else None
            readable = isinstance(session_id, str) and 0 < len(session_id) <= 128
            await session_request(sid, {"session_id": session_id} if readable else {})

        async def on_user_message(sid: str, data: Any) -> None:
            if not isinstance(data, dict) or not isinstance(data.get("message", ""), str) \
                    or not isinstance(data.get(self.metadata_key) or {}, dict):
                log.warning("socket.io: unreadable message from %s ignored", sid)
                return
            sender = data.get("session_id") if self.session_persistence else sid
            if not isinstance(sender, str) or not sender:
                return  # Rasa ignores it too (and says so in its log)
            wait = await self.limiter.retry_after(sender, clients.get(sid))
            if wait is not None:
                log.warning("socket.io: too many messages for conversation %s or its client", sender)
                await sio.emit(self.bot_message_evt, {"text": slow_down(wait)}, room=sid)
                return
            await user_message(sid, data)

        handlers.update({"connect": on_connect, "disconnect": on_disconnect, "session_request": on_session_request,
                         self.user_message_evt: on_user_message})

"""The public chat channels of a real dialogue server refuse what they should (bot/channels/limits.py).

Other sites' pages cannot open the socket.io channel, even over a WebSocket (which CORS does not cover);
messages are limited per conversation and per client address, with a French answer saying how long to wait;
malformed or oversized requests get a 4xx with a reason; a typed ``/command`` is read as words unless it is a
button the bot has just offered; the phone gateway's channel answers only the gateway (its token). Client
addresses other than 127.0.0.1 (trusted, as the services are) come from binding the client socket to 127.0.0.2…
(all of 127/8 is loopback).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from tests.integration.stack import Stack, running_stack

pytestmark = pytest.mark.rasa_env

TOWN = "https://www.ville.example"
SENDER_LIMIT = 6
CLIENT_LIMIT = 10


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("guards"), rasa_env={
            "GUICHET_ALLOWED_ORIGINS": TOWN, "GUICHET_CHAT_LIMIT_SENDER": f"{SENDER_LIMIT} per minute",
            "GUICHET_CHAT_LIMIT_CLIENT": f"{CLIENT_LIMIT} per minute", "GUICHET_TRUSTED_CLIENTS": "127.0.0.1",
            "SANIC_REQUEST_MAX_SIZE": "1048576"}) as running:
        yield running


def _session(address: str = "127.0.0.1") -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(address, 0)),
                                 timeout=aiohttp.ClientTimeout(total=60))


async def _post(session: aiohttp.ClientSession, stack: Stack, body: Any = None, *,
                data: bytes | None = None) -> tuple[int, Any, dict[str, str]]:
    url = f"{stack.rasa_url}/webhooks/rest/webhook"
    kwargs: dict[str, Any] = {"data": data, "headers": {"Content-Type": "application/json"}} if data is not None \
        else {"json": body}
    async with session.post(url, **kwargs) as response:
        text = await response.text()
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = text
        return response.status, parsed, dict(response.headers)


def test_rest_messages_are_limited_per_conversation_then_per_client_address(stack: Stack) -> None:
    async def run() -> None:
        async with _session("127.0.0.2") as session:
            statuses = [(await _post(session, stack, {"sender": "pace-a", "message": "bonjour"}))[0]
                        for _ in range(SENDER_LIMIT)]
            assert statuses == [200] * SENDER_LIMIT
            status, body, headers = await _post(session, stack, {"sender": "pace-a", "message": "bonjour"})
            assert status == 429 and 1 <= int(headers["Retry-After"]) <= 60
            assert body[0]["recipient_id"] == "pace-a"
            assert "Vous envoyez beaucoup de messages" in body[0]["text"] and "Patientez" in body[0]["text"]
            # Other conversations from the same address: refused once the address is over its own limit.
            others = [(await _post(session, stack, {"sender": f"pace-{n}", "message": "bonjour"}))[0]
                      for n in range(CLIENT_LIMIT)]
            assert 200 in others and others[-1] == 429, others
        async with _session("127.0.0.3") as elsewhere:  # another citizen is not slowed down
            assert (await _post(elsewhere, stack, {"sender": "pace-b", "message": "bonjour"}))[0] == 200
    asyncio.run(run())
    for _ in range(SENDER_LIMIT + 2):  # the services' own address (trusted) is only limited per conversation
        assert stack.say(f"trusted-{uuid.uuid4().hex[:8]}", "bonjour")


@pytest.mark.parametrize(("body", "raw", "status", "reason"), [
    ([{"sender": "x", "message": "y"}], None, 400, "JSON attendu"),
    ({"message": "bonjour"}, None, 400, "« sender »"),
    ({"sender": "x" * 500, "message": "bonjour"}, None, 400, "« sender »"),
    ({"sender": "bad-1", "message": {"text": "bonjour"}}, None, 400, "« message »"),
    ({"sender": "bad-2", "message": "bonjour", "metadata": [1]}, None, 400, "« metadata »"),
    (None, b"{\"sender\": \"bad-3\", \"message\": ", 400, "JSON attendu"),
    (None, b"{\"sender\": \"bad-4\", \"message\": \"" + b"a" * 20_000 + b"\"}", 413, "trop grande"),
])
def test_malformed_or_oversized_rest_requests_get_a_4xx_with_a_reason(stack: Stack, body: Any, raw: bytes | None,
                                                                      status: int, reason: str) -> None:
    async def run() -> tuple[int, Any, dict[str, str]]:
        async with _session() as session:
            return await _post(session, stack, body, data=raw)
    got, answer, _ = asyncio.run(run())
    assert got == status and reason in answer["error"]["message"], (got, answer)


def test_a_request_over_the_servers_size_limit_is_refused_before_it_is_read(stack: Stack) -> None:
    async def run() -> int:
        async with _session() as session:
            return (await _post(session, stack, data=b"{\"sender\": \"huge\", \"message\": \"" + b"a" * 2_000_000
                                + b"\"}"))[0]
    assert asyncio.run(run()) == 413
    assert stack.say(f"after-huge-{uuid.uuid4().hex[:6]}", "bonjour")  # and the server still answers


class SocketIO:
    """Just enough of the socket.io protocol (engine.io 4, WebSocket transport) to act as a browser would."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def packet(self) -> str:
        while True:
            message = await asyncio.wait_for(self.ws.receive(), 30)
            if message.type != aiohttp.WSMsgType.TEXT:
                raise AssertionError(f"socket closed: {message}")
            if message.data == "2":  # engine.io ping
                await self.ws.send_str("3")
                continue
            return str(message.data)

    async def emit(self, event: str, data: Any) -> None:
        await self.ws.send_str("42" + json.dumps([event, data]))

    async def event(self, name: str) -> Any:
        while True:
            packet = await self.packet()
            if packet.startswith("42"):
                event, *args = json.loads(packet[2:])
                if event == name:
                    return args[0] if args else None


async def _connect(session: aiohttp.ClientSession, stack: Stack, origin: str | None) -> tuple[SocketIO, str]:
    headers = {"Origin": origin} if origin else {}
    ws = await session.ws_connect(f"{stack.rasa_url}/socket.io/?EIO=4&transport=websocket", headers=headers)
    sio = SocketIO(ws)
    assert (await sio.packet()).startswith("0")  # engine.io open
    await ws.send_str("40")  # socket.io CONNECT to the default namespace
    return sio, await sio.packet()


def test_other_sites_pages_cannot_open_the_chat_socket_even_over_websocket(stack: Stack) -> None:
    async def run() -> dict[str, str]:
        answers = {}
        async with _session() as session:
            for origin in ("https://evil.example", TOWN, None):
                sio, answer = await _connect(session, stack, origin)
                answers[str(origin)] = answer[:2]
                await sio.ws.close()
        return answers
    assert asyncio.run(run()) == {"https://evil.example": "44", TOWN: "40", "None": "40"}


def test_socketio_messages_are_limited_too_and_the_widget_is_told_why(stack: Stack) -> None:
    async def run() -> list[str]:
        async with _session("127.0.0.4") as session:
            sio, answer = await _connect(session, stack, TOWN)
            assert answer.startswith("40")
            await sio.emit("session_request", {"session_id": "sio-pace"})
            assert await sio.event("session_confirm") == "sio-pace"
            texts = []
            for _ in range(SENDER_LIMIT + 1):
                await sio.emit("user_uttered", {"message": "bonjour", "session_id": "sio-pace"})
                texts.append(str((await sio.event("bot_uttered")).get("text", "")))
            await sio.emit("user_uttered", ["not", "an", "object"])  # ignored, the socket stays up
            await sio.emit("session_request", {"session_id": {"$ne": 1}})  # unreadable: a new id is given
            fresh = await sio.event("session_confirm")
            assert isinstance(fresh, str) and len(fresh) == 32
            await sio.ws.close()
            return texts
    texts = asyncio.run(run())
    assert not any("Vous envoyez beaucoup" in t for t in texts[:SENDER_LIMIT])
    assert "Vous envoyez beaucoup de messages" in texts[-1]


def test_a_typed_command_is_read_as_words_but_an_offered_button_works(stack: Stack) -> None:
    sender = f"typed-{uuid.uuid4().hex[:8]}"
    stack.say(sender, '/inform{"procedure": "passport", "people": "9"}')
    tracker = stack.tracker(sender)
    said = [e for e in tracker["events"] if e["event"] == "user"]
    assert [e["text"] for e in said] == ['inform{"procedure": "passport", "people": "9"}'], tracker["events"]
    assert tracker["slots"].get("people") != "9"
    replies = stack.say(sender, "/greet")  # the widget's opening message is always let through
    assert any(b["payload"] == "/book_appointment" for r in replies for b in r.get("buttons", []))
    stack.say(sender, "/book_appointment")  # the button just offered
    latest = stack.tracker(sender)["latest_message"]
    assert (latest["text"], latest["intent"]["name"]) == ("/book_appointment", "book_appointment")


def test_only_the_phone_gateway_may_use_the_voice_channel(stack: Stack) -> None:
    """Anyone else could pass for a caller (choose the caller's number) and send /commands."""
    url = f"{stack.rasa_url}/webhooks/voice/webhook"
    body = {"sender": f"call-{uuid.uuid4().hex[:8]}", "message": "/greet", "metadata": {"caller": "+33612345678"}}

    async def run() -> list[int]:
        statuses = []
        async with _session() as session:
            for headers in ({}, {"Authorization": "Bearer not-the-token"},
                            {"Authorization": f"Bearer {stack.rasa_token}"}):
                async with session.post(url, json=body, headers=headers) as response:
                    statuses.append(response.status)
                    if response.status == 401:
                        assert "Jeton" in (await response.json())["error"]
        return statuses
    assert asyncio.run(run()) == [401, 401, 200]

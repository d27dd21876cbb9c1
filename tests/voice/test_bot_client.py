"""HttpBotClient against a small aiohttp server on loopback playing the dialogue server's voice channel."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from voice.bot_client import BotTurn, BotUnavailable, FakeBotClient, HttpBotClient
from voice.call import BotReply

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FakeDialogue:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.authorizations: list[str | None] = []
        self.handler: Handler = self.replies

    async def replies(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(
            [{"recipient_id": "x", "text": "Pour combien de personnes ?"}, {"recipient_id": "x", "image": "y.png"},
             {"recipient_id": "x", "custom": {"dtmf": True}}],
            headers={"X-Guichet-Requested-Slot": "people"})

    async def route(self, request: web.Request) -> web.StreamResponse:
        self.received.append(await request.json())
        self.authorizations.append(request.headers.get("Authorization"))
        return await self.handler(request)


@pytest.fixture
async def dialogue() -> AsyncIterator[tuple[FakeDialogue, str]]:
    fake = FakeDialogue()
    app = web.Application()
    app.router.add_post("/webhooks/voice/webhook", fake.route)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield fake, f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_replies_and_headers_are_parsed(dialogue: tuple[FakeDialogue, str]) -> None:
    fake, url = dialogue
    client = HttpBotClient(url + "/", timeout_s=5)
    try:
        turn = await client.send("call-1", "je voudrais un rendez-vous", metadata={"caller": "+33612345678"})
        assert turn == BotTurn([BotReply("Pour combien de personnes ?"), BotReply("", {"dtmf": True})], "people", None)
        assert fake.received == [{"sender": "call-1", "message": "je voudrais un rendez-vous",
                                  "metadata": {"caller": "+33612345678"}}]

        async def goodbye(request: web.Request) -> web.StreamResponse:
            return web.json_response([{"text": "Au revoir."}],
                                     headers={"X-Guichet-Requested-Slot": "", "X-Guichet-Ended": "goodbye"})

        fake.handler = goodbye
        turn = await client.send("call-1", "merci", metadata={})
        assert turn == BotTurn([BotReply("Au revoir.")], None, "goodbye")
        first_session = client._session
        await client.send("call-1", "merci", metadata={})
        assert client._session is first_session  # one session for the client's life
    finally:
        await client.close()
    assert client._session is None


async def _server_error(request: web.Request) -> web.StreamResponse:
    return web.Response(status=500, text="boom")


async def _garbage(request: web.Request) -> web.StreamResponse:
    return web.Response(text="<html>proxy error</html>", content_type="text/html")


async def _not_a_list(request: web.Request) -> web.StreamResponse:
    return web.json_response({"error": "x"})


async def _slow(request: web.Request) -> web.StreamResponse:
    await asyncio.sleep(2)
    return web.json_response([])


@pytest.mark.parametrize("handler", [_server_error, _garbage, _not_a_list, _slow])
async def test_failures_are_bot_unavailable(dialogue: tuple[FakeDialogue, str], handler: Handler) -> None:
    fake, url = dialogue
    fake.handler = handler
    client = HttpBotClient(url, timeout_s=0.5)
    try:
        with pytest.raises(BotUnavailable):
            await client.send("call-1", "allô", metadata={})
    finally:
        await client.close()


async def test_a_server_that_is_not_there_is_bot_unavailable() -> None:
    from tests.integration.stack import free_port

    client = HttpBotClient(f"http://127.0.0.1:{free_port()}", timeout_s=2)
    try:
        with pytest.raises(BotUnavailable, match="injoignable"):
            await client.send("call-1", "allô", metadata={})
    finally:
        await client.close()


async def test_the_fake_records_and_replays_its_script() -> None:
    fake = FakeBotClient([["Bonjour."], BotUnavailable("down")], default=BotTurn([], ended="goodbye"))
    assert (await fake.send("c", "/greet", metadata={"caller": None})).replies == [BotReply("Bonjour.")]
    with pytest.raises(BotUnavailable):
        await fake.send("c", "oui", metadata={})
    assert (await fake.send("c", "non", metadata={})).ended == "goodbye"
    assert [(m.text, m.metadata) for m in fake.sent] == [("/greet", {"caller": None}), ("oui", {}), ("non", {})]


async def test_the_dialogue_token_is_presented_when_there_is_one(dialogue: tuple[FakeDialogue, str]) -> None:
    fake, url = dialogue
    for token in ("s3cret-token", None):
        client = HttpBotClient(url, timeout_s=5, token=token)
        try:
            await client.send("call-9", "bonjour", metadata={})
        finally:
            await client.close()
    assert fake.authorizations == ["Bearer s3cret-token", None]

"""Twilio gateway: the goodbye is played before the hang-up (marks), and transfers go through the REST API.

Twilio's side of the media stream is a websocket client in the test (it echoes marks when it "has played" them);
api.twilio.com is stood in for by a real aiohttp server on 127.0.0.1 that records what it receives.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.voice.test_twilio import TIMEOUT, msg_connected, msg_mark, msg_start, start_server, ulaw_tone, url
from voice.call import CallEvent, CallIO, Dtmf
from voice.gateways import twilio
from voice.gateways.twilio_rest import TwilioApiError, TwilioRestClient, dial_twiml

SID, TOKEN = "AC0123456789abcdef0123456789abcdef", "s3cr3t-token"


@dataclass
class FakeTwilioApi:
    """A stand-in for api.twilio.com: records each request; answers ``status``."""

    status: int = 200
    requests: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0

    async def update_call(self, request: web.Request) -> web.Response:
        form = await request.post()
        self.requests.append({"path": request.path, "auth": request.headers.get("Authorization"),
                              "form": {k: str(v) for k, v in form.items()}, "at": time.monotonic()})
        if self.status != 200:
            return web.json_response({"code": 20003, "message": "Authenticate"}, status=self.status)
        return web.json_response({"sid": request.match_info["call"], "status": "in-progress"})

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
async def api() -> AsyncIterator[FakeTwilioApi]:
    fake = FakeTwilioApi()
    app = web.Application()
    app.router.add_post("/2010-04-01/Accounts/{account}/Calls/{call}.json", fake.update_call)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.port = runner.addresses[0][1]
    yield fake
    await runner.cleanup()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def play_as_twilio(ws: aiohttp.ClientWebSocketResponse, *, echo_after: float | None) -> tuple[int, float, float]:
    """Receive until the server closes; echo each mark ``echo_after`` s after it came (never if None).

    Returns (media messages, when the last mark was echoed, when the socket closed) in monotonic seconds."""
    media, echoed = 0, 0.0
    pending: list[asyncio.Task[None]] = []

    async def echo(name: str) -> None:
        nonlocal echoed
        assert echo_after is not None
        await asyncio.sleep(echo_after)
        if not ws.closed:
            await ws.send_str(msg_mark("MZ1", name))
            echoed = time.monotonic()

    async with asyncio.timeout(TIMEOUT):
        async for msg in ws:
            body = json.loads(msg.data)
            if body["event"] == "media":
                media += 1
            elif body["event"] == "mark" and echo_after is not None:
                pending.append(asyncio.create_task(echo(body["mark"]["name"])))
    closed = time.monotonic()
    for task in pending:
        task.cancel()
    return media, echoed, closed


async def test_the_goodbye_is_played_before_the_stream_is_closed(session: aiohttp.ClientSession) -> None:
    async def goodbye(call: CallIO, events: list[CallEvent]) -> None:
        await call.play(ulaw_tone(3200))  # 0.4 s of "Au revoir."
        await call.hangup()

    _, server = await start_server(goodbye)
    try:
        async with session.ws_connect(url(server)) as ws:
            await ws.send_str(msg_connected())
            await ws.send_str(msg_start("CA1", "MZ1"))
            media, echoed, closed = await play_as_twilio(ws, echo_after=0.5)
    finally:
        await asyncio.wait_for(server.close(), TIMEOUT)
    assert media == 2
    assert echoed > 0 and closed >= echoed  # not closed before Twilio had played it all


async def test_the_hang_up_gives_up_waiting_when_marks_never_come(
    session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(twilio, "MARK_WAIT_SLACK", 0.3)

    async def goodbye(call: CallIO, events: list[CallEvent]) -> None:
        await call.play(ulaw_tone(800))  # 0.1 s
        started = time.monotonic()
        await call.hangup()
        events.append(Dtmf(str(round((time.monotonic() - started) * 10))))  # tenths of a second waited

    recorder, server = await start_server(goodbye)
    try:
        async with session.ws_connect(url(server)) as ws:
            await ws.send_str(msg_start("CA1", "MZ1"))
            await play_as_twilio(ws, echo_after=None)
        assert await recorder.wait("CA1") == [Dtmf("4")]  # 0.1 s of audio + 0.3 s of slack
    finally:
        await asyncio.wait_for(server.close(), TIMEOUT)


async def test_cleared_audio_is_not_waited_for(session: aiohttp.ClientSession) -> None:
    async def interrupted(call: CallIO, events: list[CallEvent]) -> None:
        await call.play(ulaw_tone(8000))  # 1 s, then the caller barges in
        await call.clear()
        started = time.monotonic()
        await call.hangup()
        events.append(Dtmf("0" if time.monotonic() - started < 0.1 else "9"))

    recorder, server = await start_server(interrupted)
    try:
        async with session.ws_connect(url(server)) as ws:
            await ws.send_str(msg_start("CA1", "MZ1"))
            await play_as_twilio(ws, echo_after=None)
        assert await recorder.wait("CA1") == [Dtmf("0")]
    finally:
        await asyncio.wait_for(server.close(), TIMEOUT)


async def test_transfer_redirects_the_call_once_the_last_words_are_played(
    session: aiohttp.ClientSession, api: FakeTwilioApi,
) -> None:
    control = TwilioRestClient(SID, TOKEN, base_url=api.base_url)
    outcome: list[bool] = []

    async def hand_off(call: CallIO, events: list[CallEvent]) -> None:
        await call.play(ulaw_tone(1600))  # "Je vous passe un agent."
        outcome.append(await call.transfer("+33130000000"))

    server = await twilio.serve("127.0.0.1", 0, twilio_recorder(hand_off), control=control)
    try:
        async with session.ws_connect(url(server)) as ws:
            await ws.send_str(msg_start("CA0123456789abcdef0123456789abcdef", "MZ1", "+33612345678"))
            _, echoed, closed = await play_as_twilio(ws, echo_after=0.3)
    finally:
        await asyncio.wait_for(server.close(), TIMEOUT)
        await control.close()
    assert outcome == [True]
    [request] = api.requests
    assert request["path"] == f"/2010-04-01/Accounts/{SID}/Calls/CA0123456789abcdef0123456789abcdef.json"
    assert request["auth"] == "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    assert request["form"] == {"Twiml": dial_twiml("+33130000000")}
    assert "<Dial><Number>+33130000000</Number></Dial>" in request["form"]["Twiml"]
    assert echoed > 0 and request["at"] >= echoed  # redirected only after the message was heard
    assert closed >= request["at"]


async def test_a_refused_transfer_returns_false(session: aiohttp.ClientSession, api: FakeTwilioApi) -> None:
    api.status = 401
    control = TwilioRestClient(SID, "wrong-token", base_url=api.base_url)
    outcome: list[bool] = []

    async def hand_off(call: CallIO, events: list[CallEvent]) -> None:
        outcome.append(await call.transfer("+33130000000"))

    server = await twilio.serve("127.0.0.1", 0, twilio_recorder(hand_off), control=control)
    try:
        async with session.ws_connect(url(server)) as ws:
            await ws.send_str(msg_start("CA1", "MZ1"))
            await play_as_twilio(ws, echo_after=0.0)
    finally:
        await asyncio.wait_for(server.close(), TIMEOUT)
        await control.close()
    assert outcome == [False] and len(api.requests) == 1


async def test_the_rest_client_reports_an_unreachable_api() -> None:
    client = TwilioRestClient(SID, TOKEN, base_url="http://127.0.0.1:9", timeout_s=2)  # discard port: refused
    try:
        with pytest.raises(TwilioApiError) as caught:
            await client.redirect("CA1", dial_twiml("+33130000000"))
    finally:
        await client.close()
    assert TOKEN not in str(caught.value) and TOKEN not in repr(client)


def test_dial_twiml_escapes_and_knows_sip() -> None:
    assert "<Sip>sip:agents@pbx.example</Sip>" in dial_twiml("sip:agents@pbx.example")
    assert "<Number>&lt;x&gt;</Number>" in dial_twiml("<x>")


def twilio_recorder(behaviour: Any) -> Any:
    from tests.voice.test_twilio import Recorder

    return Recorder(behaviour)

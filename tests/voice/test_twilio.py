"""Twilio Media Streams gateway: the JSON codec, and real websocket calls on 127.0.0.1 with a recording handler."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import numpy as np
import pytest

from voice.audio import SLIN8K, ULAW8K, convert
from voice.call import AudioIn, CallEvent, CallIO, Dtmf, Hangup
from voice.gateways import twilio
from voice.gateways.twilio import (
    Connected,
    DtmfEvent,
    Mark,
    Media,
    OutClear,
    OutMark,
    OutMedia,
    ProtocolError,
    Start,
    Stop,
    TwilioServer,
    encode,
    parse,
)

TIMEOUT = 5.0
Behaviour = Callable[[CallIO, list[CallEvent]], Awaitable[None]]


def ulaw_tone(n_bytes: int, hz: float = 440.0) -> bytes:
    t = np.arange(n_bytes) / 8000
    pcm = (8000 * np.sin(2 * math.pi * hz * t)).astype("<i2").tobytes()
    return convert(pcm, SLIN8K, ULAW8K)


def msg_connected() -> str:
    return json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})


def msg_start(call_sid: str, stream_sid: str, caller: str | None = None) -> str:
    params = {"caller": caller} if caller else {}
    return json.dumps(
        {
            "event": "start",
            "sequenceNumber": "1",
            "streamSid": stream_sid,
            "start": {
                "accountSid": "AC0",
                "streamSid": stream_sid,
                "callSid": call_sid,
                "tracks": ["inbound"],
                "customParameters": params,
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
        }
    )


def msg_media(stream_sid: str, payload: bytes, chunk: int = 1) -> str:
    body = {"track": "inbound", "chunk": str(chunk), "timestamp": str(20 * chunk), "payload": ""}
    body["payload"] = base64.b64encode(payload).decode()
    return json.dumps({"event": "media", "streamSid": stream_sid, "media": body})


def msg_dtmf(stream_sid: str, digit: str) -> str:
    return json.dumps({"event": "dtmf", "streamSid": stream_sid, "dtmf": {"track": "inbound_track", "digit": digit}})


def msg_mark(stream_sid: str, name: str) -> str:
    return json.dumps({"event": "mark", "streamSid": stream_sid, "mark": {"name": name}})


def msg_stop(call_sid: str, stream_sid: str) -> str:
    return json.dumps({"event": "stop", "streamSid": stream_sid, "stop": {"accountSid": "AC0", "callSid": call_sid}})


async def until(condition: Callable[[], bool]) -> None:
    """Wait (at most TIMEOUT) until `condition()` holds."""
    async with asyncio.timeout(TIMEOUT):
        for _ in iter(int, 1):  # until the timeout
            if condition():
                return
            await asyncio.sleep(0.005)


class Recorder:
    """A handler that records every event of every call (or runs `behaviour`, which records what it wants)."""

    def __init__(self, behaviour: Behaviour | None = None) -> None:
        self.calls: dict[str, list[CallEvent]] = {}
        self.io: dict[str, CallIO] = {}
        self.finished: dict[str, asyncio.Event] = {}
        self.behaviour = behaviour

    async def __call__(self, call: CallIO) -> None:
        events: list[CallEvent] = []
        self.calls[call.call_id], self.io[call.call_id] = events, call
        self.finished[call.call_id] = done = asyncio.Event()
        try:
            if self.behaviour is not None:
                await self.behaviour(call, events)
            else:
                async for event in call.events():
                    events.append(event)
        finally:
            done.set()

    async def wait(self, call_id: str) -> list[CallEvent]:
        await until(lambda: call_id in self.finished)
        await asyncio.wait_for(self.finished[call_id].wait(), TIMEOUT)
        return self.calls[call_id]


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def start_server(behaviour: Behaviour | None = None) -> tuple[Recorder, TwilioServer]:
    recorder = Recorder(behaviour)
    return recorder, await twilio.serve("127.0.0.1", 0, recorder)


def url(server: TwilioServer) -> str:
    return f"http://127.0.0.1:{server.port}/twilio/media"


async def receive_until_closed(ws: aiohttp.ClientWebSocketResponse) -> list[dict[str, Any]]:
    """Every JSON message the server sends until it closes the websocket."""
    out: list[dict[str, Any]] = []
    async with asyncio.timeout(TIMEOUT):
        async for msg in ws:
            assert msg.type is aiohttp.WSMsgType.TEXT
            out.append(json.loads(msg.data))
    assert ws.closed
    return out


# --- codec ---------------------------------------------------------------------------------------------------------


def test_parse_inbound_events() -> None:
    assert parse(msg_connected()) == Connected("Call")
    start = parse(msg_start("CA1", "MZ1", "+33139000000"))
    assert start == Start("MZ1", "CA1", "audio/x-mulaw", 8000, 1, {"caller": "+33139000000"})
    assert parse(msg_media("MZ1", b"\x01\xff")) == Media(b"\x01\xff", "inbound")
    assert parse(msg_dtmf("MZ1", "#")) == DtmfEvent("#")
    assert parse(msg_mark("MZ1", "play-3")) == Mark("play-3")
    assert parse(msg_stop("CA1", "MZ1")) == Stop()


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        "[1, 2]",
        '{"streamSid": "MZ1"}',  # no event
        '{"event": "start", "start": {"streamSid": "MZ1", "mediaFormat": {}}}',  # no callSid
        '{"event": "media", "media": {"payload": "***"}}',  # not base64
        '{"event": "media"}',
        '{"event": "dtmf", "dtmf": {"digit": "x"}}',
        '{"event": "hello"}',
    ],
)
def test_parse_rejects_garbage(text: str) -> None:
    with pytest.raises(ProtocolError):
        parse(text)


def test_encode_outbound_messages() -> None:
    assert json.loads(encode(OutMedia("MZ1", b"\x00\xff"))) == {
        "event": "media",
        "streamSid": "MZ1",
        "media": {"payload": "AP8="},
    }
    assert json.loads(encode(OutMark("MZ1", "m1"))) == {"event": "mark", "streamSid": "MZ1", "mark": {"name": "m1"}}
    assert json.loads(encode(OutClear("MZ1"))) == {"event": "clear", "streamSid": "MZ1"}


# --- calls over a websocket ----------------------------------------------------------------------------------------


async def test_health(session: aiohttp.ClientSession) -> None:
    _, server = await start_server()
    try:
        async with session.get(f"http://127.0.0.1:{server.port}/health") as response:
            assert response.status == 200
            assert (await response.json())["status"] == "ok"
    finally:
        await asyncio.wait_for(server.close(), TIMEOUT)


async def test_connected_start_media_dtmf_stop_flow(session: aiohttp.ClientSession) -> None:
    recorder, server = await start_server()
    a1, a2 = ulaw_tone(160), ulaw_tone(160, 880)
    try:
        async with session.ws_connect(url(server)) as ws:
            for text in (
                msg_connected(),
                msg_start("CA1", "MZ1", "+33612345678"),
                msg_media("MZ1", a1, 1),
                msg_dtmf("MZ1", "4"),
                msg_media("MZ1", a2, 2),
                msg_stop("CA1", "MZ1"),
            ):
                await ws.send_str(text)
            assert await recorder.wait("CA1") == [AudioIn(a1), Dtmf("4"), AudioIn(a2), Hangup("caller")]
            assert await receive_until_closed(ws) == []  # handler returned: the server closed the stream
        call = recorder.io["CA1"]
        assert (call.call_id, call.caller, call.format) == ("CA1", "+33612345678", ULAW8K)
        assert await call.transfer("operators") is False
    finally:
        await asyncio.wait_for(server.close(), TIMEOUT)


async def test_caller_is_none_without_the_parameter(session: aiohttp.ClientSession) -> None:
    recorder, server = await start_server()
    try:
        async with session.ws_connect(url(server)) as ws:
            await ws.send_str(msg_start("CA2", "MZ2"))
            await ws.send_str(msg_stop("CA2", "MZ2"))
            await recorder.wait("CA2")
        assert recorder.io["CA2"].caller is None
    finally:
        await asyncio.wait_for(server.close(), TIMEOUT)


async def test_outbound_media_mark_and_clear(session: aiohttp.ClientSession) -> None:
    played = ulaw_tone(4000)  # 0.5 s: several media messages

    async def speak(call: CallIO, events: list[CallEvent]) -> None:
        assert isinstance(call, twilio.TwilioCall)
        await call.play(played)
        unplayed_after_play = call.unplayed_marks
        await until(lambda: call.unplayed_marks == 0)  # the client echoes the mark once "played"
        events.append(Dtmf(str(unplayed_after_play)))  # record it through the event list
        await call.clear()

    recorder, server = await start_server(speak)
    try:
        async with session.ws_connect(url(server)) as ws:
            await ws.send_str(msg_connected())
            await ws.send_str(msg_start("CA3", "MZ3"))
            sent: list[dict[str, Any]] = []
            async with asyncio.timeout(TIMEOUT):
                while not sent or sent[-1]["event"] != "mark":
                    sent.append(json.loads((await ws.receive()).data))
            await ws.send_str(msg_mark("MZ3", sent[-1]["mark"]["name"]))
            rest = await receive_until_closed(ws)
        assert await recorder.wait("CA3") == [Dtmf("1")]
    finally:
        await asyncio.wait_for(server.close(), TIMEOUT)
    media = sent[:-1]
    assert all(m["event"] == "media" and m["streamSid"] == "MZ3" for m in media)
    assert len(media) == 3
    assert b"".join(base64.b64decode(m["media"]["payload"]) for m in media) == played
    assert sent[-1]["streamSid"] == "MZ3"
    assert rest == [{"event": "clear", "streamSid": "MZ3"}]


@pytest.mark.parametrize(
    ("garbage", "handler_called"),
    [
        ("{this is not json", True),
        (json.dumps({"event": "media", "streamSid": "MZ9"}), True),  # missing media object
        (msg_media("MZ9", b"\x00" * 160), False),  # media before start
        (json.dumps({"event": "start", "start": {"streamSid": "MZ9"}}), False),  # start without callSid
    ],
)
async def test_garbage_ends_only_that_call(session: aiohttp.ClientSession, garbage: str, handler_called: bool) -> None:
    recorder, server = await start_server()
    audio = ulaw_tone(160)
    try:
        async with session.ws_connect(url(server)) as good:
            await good.send_str(msg_start("CAgood", "MZgood"))
            async with session.ws_connect(url(server)) as bad:
                await bad.send_str(msg_connected())
                if handler_called:
                    await bad.send_str(msg_start("CAbad", "MZbad"))
                await bad.send_str(garbage)
                assert await receive_until_closed(bad) == []
            if handler_called:
                assert await recorder.wait("CAbad") == [Hangup("protocol error")]
            else:
                assert "CAbad" not in recorder.calls
            await good.send_str(msg_media("MZgood", audio))
            await good.send_str(msg_stop("CAgood", "MZgood"))
            assert await recorder.wait("CAgood") == [AudioIn(audio), Hangup("caller")]
    finally:
        await asyncio.wait_for(server.close(), TIMEOUT)


async def test_two_concurrent_calls_are_independent(session: aiohttp.ClientSession) -> None:
    async def echo(call: CallIO, events: list[CallEvent]) -> None:
        async for event in call.events():
            events.append(event)
            if isinstance(event, AudioIn):
                await call.play(event.pcm)

    recorder, server = await start_server(echo)
    a, b = ulaw_tone(160, 300), ulaw_tone(320, 1200)
    try:
        async with session.ws_connect(url(server)) as ws_a, session.ws_connect(url(server)) as ws_b:
            await ws_a.send_str(msg_start("CAa", "MZa", "+33100000001"))
            await ws_b.send_str(msg_start("CAb", "MZb", "+33100000002"))
            await ws_b.send_str(msg_media("MZb", b))
            await ws_a.send_str(msg_media("MZa", a))
            got_a = json.loads((await ws_a.receive(timeout=TIMEOUT)).data)
            got_b = json.loads((await ws_b.receive(timeout=TIMEOUT)).data)
            await ws_a.send_str(msg_stop("CAa", "MZa"))
            assert await recorder.wait("CAa") == [AudioIn(a), Hangup("caller")]
            assert not recorder.finished["CAb"].is_set()  # b is still going
            await ws_b.send_str(msg_dtmf("MZb", "0"))
            await ws_b.close()  # b just drops
            assert await recorder.wait("CAb") == [AudioIn(b), Dtmf("0"), Hangup("disconnected")]
    finally:
        await asyncio.wait_for(server.close(), TIMEOUT)
    assert (got_a["streamSid"], base64.b64decode(got_a["media"]["payload"])) == ("MZa", a)
    assert (got_b["streamSid"], base64.b64decode(got_b["media"]["payload"])) == ("MZb", b)
    assert recorder.io["CAa"].caller == "+33100000001"
    assert recorder.io["CAb"].caller == "+33100000002"


async def test_handler_failure_is_logged_and_the_server_keeps_serving(
    session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(call: CallIO, events: list[CallEvent]) -> None:
        if call.call_id == "CAboom":
            raise RuntimeError("boom")
        async for event in call.events():
            events.append(event)

    recorder, server = await start_server(broken)
    try:
        with caplog.at_level(logging.ERROR, logger="voice.gateways"):
            async with session.ws_connect(url(server)) as ws:
                await ws.send_str(msg_start("CAboom", "MZboom", "+33612345678"))
                assert await receive_until_closed(ws) == []
        failures = [r for r in caplog.records if r.exc_info]
        assert failures and "CAboom" in failures[0].getMessage()
        assert not any("+33612345678" in r.getMessage() for r in caplog.records)  # no phone numbers in logs
        async with session.ws_connect(url(server)) as ws:
            await ws.send_str(msg_start("CAok", "MZok"))
            await ws.send_str(msg_dtmf("MZok", "9"))
            await ws.send_str(msg_stop("CAok", "MZok"))
            assert await recorder.wait("CAok") == [Dtmf("9"), Hangup("caller")]
    finally:
        await asyncio.wait_for(server.close(), TIMEOUT)


async def test_close_ends_calls_in_progress(session: aiohttp.ClientSession) -> None:
    recorder, server = await start_server()
    async with session.ws_connect(url(server)) as ws:
        await ws.send_str(msg_start("CAlong", "MZlong"))
        await until(lambda: "CAlong" in recorder.calls)
        assert server.active_calls == 1
        await asyncio.wait_for(server.close(), TIMEOUT)
        assert recorder.finished["CAlong"].is_set()
        assert recorder.calls["CAlong"][-1] == Hangup("disconnected")
        assert await receive_until_closed(ws) == []
    assert server.active_calls == 0

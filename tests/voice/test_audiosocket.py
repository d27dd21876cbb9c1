"""AudioSocket gateway: the frame codec, and real TCP calls on 127.0.0.1 with a recording handler."""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from voice.audio import SLIN8K
from voice.call import AudioIn, CallEvent, CallIO, Dtmf, Hangup
from voice.gateways import audiosocket
from voice.gateways.audiosocket import (
    AudioFrame,
    AudioSocketServer,
    Decoder,
    DtmfFrame,
    ErrorFrame,
    HangupFrame,
    ProtocolError,
    UuidFrame,
    caller_uuid,
    encode,
    split_call_uuid,
)

CALL_UUID = uuid.UUID("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")
TIMEOUT = 5.0


def frame(kind: int, payload: bytes = b"") -> bytes:
    """Build a frame by hand (independent of the module's encoder)."""
    return struct.pack(">BH", kind, len(payload)) + payload


def tone(n_bytes: int, seed: int) -> bytes:
    return bytes((seed + i * 7) % 256 for i in range(n_bytes))


async def until(condition: Callable[[], bool]) -> None:
    """Wait (at most TIMEOUT) until `condition()` holds."""
    async with asyncio.timeout(TIMEOUT):
        for _ in iter(int, 1):  # until the timeout
            if condition():
                return
            await asyncio.sleep(0.005)


class Recorder:
    """A handler that records every event of every call; optional extra behaviour per call."""

    def __init__(self, behaviour: Callable[[CallIO, list[CallEvent]], Awaitable[None]] | None = None) -> None:
        self.calls: dict[str, list[CallEvent]] = {}
        self.finished: dict[str, asyncio.Event] = {}
        self.io: dict[str, CallIO] = {}
        self.behaviour = behaviour
        self.started = asyncio.Event()

    async def __call__(self, call: CallIO) -> None:
        events: list[CallEvent] = []
        self.calls[call.call_id], self.io[call.call_id] = events, call
        self.finished[call.call_id] = done = asyncio.Event()
        self.started.set()
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


async def start(handler: Callable[[CallIO], Awaitable[None]]) -> AudioSocketServer:
    return await audiosocket.serve("127.0.0.1", 0, handler)


async def connect(server: AudioSocketServer) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return reader, writer


async def read_all_frames(reader: asyncio.StreamReader) -> list[tuple[int, bytes]]:
    """Every frame the server sends until it closes the connection (hand-written parser)."""
    frames: list[tuple[int, bytes]] = []
    async with asyncio.timeout(TIMEOUT):
        while True:
            try:
                header = await reader.readexactly(3)
            except asyncio.IncompleteReadError as exc:
                assert exc.partial == b"", "server sent a truncated frame"
                return frames
            kind, length = struct.unpack(">BH", header)
            frames.append((kind, await reader.readexactly(length)))


def pending_tasks() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]


@pytest.fixture
async def recorder_server() -> AsyncIterator[tuple[Recorder, AudioSocketServer]]:
    recorder = Recorder()
    server = await start(recorder)
    yield recorder, server
    await asyncio.wait_for(server.close(), TIMEOUT)


# --- codec ---------------------------------------------------------------------------------------------------------


def test_encode_matches_the_wire_format() -> None:
    assert encode(HangupFrame()) == b"\x00\x00\x00"
    assert encode(UuidFrame(CALL_UUID)) == b"\x01\x00\x10" + CALL_UUID.bytes
    assert encode(DtmfFrame("#")) == b"\x03\x00\x01#"
    assert encode(AudioFrame(b"\x01\x02" * 160)) == b"\x10\x01\x40" + b"\x01\x02" * 160
    assert encode(ErrorFrame(b"\x02")) == b"\xff\x00\x01\x02"


def test_decoder_byte_by_byte_equals_whole() -> None:
    frames: list[audiosocket.Frame] = [UuidFrame(CALL_UUID), AudioFrame(tone(320, 1)), DtmfFrame("7"),
                                       ErrorFrame(b""), HangupFrame()]
    wire = b"".join(encode(f) for f in frames)
    decoder = Decoder()
    out = []
    for i in range(len(wire)):
        out += decoder.feed(wire[i : i + 1])
    assert out == frames
    assert decoder.pending == 0
    assert Decoder().feed(wire) == frames


@pytest.mark.parametrize(
    "wire",
    [
        b"\x42\x00\x00",  # unknown kind
        b"\x10\xff\xff",  # audio frame far too large
        b"\x01\x00\x05abcde",  # UUID of the wrong size
        b"\x03\x00\x01x",  # not a DTMF key
        b"\x10\x00\x03abc",  # half a sample
        b"\x00\x00\x01x",  # hangup with a payload
    ],
)
def test_decoder_rejects_garbage_after_the_good_frames(wire: bytes) -> None:
    decoder = Decoder()
    assert decoder.feed(encode(DtmfFrame("1")) + wire + encode(DtmfFrame("2"))) == [DtmfFrame("1")]
    assert isinstance(decoder.error, ProtocolError)
    assert decoder.feed(encode(DtmfFrame("3"))) == []  # nothing is decoded after garbage


def test_decoder_rejects_a_bad_header_before_its_payload_arrives() -> None:
    decoder = Decoder()
    assert decoder.feed(b"\x10\xff\xff" + b"\x00" * 10) == []
    assert decoder.error is not None
    assert decoder.pending == 0


def test_decoder_waits_for_the_rest_of_a_frame() -> None:
    decoder = Decoder()
    assert decoder.feed(b"\x10\x01") == []
    assert decoder.feed(b"\x40" + b"\x00" * 319) == []
    assert decoder.pending == 322
    assert decoder.feed(b"\x00") == [AudioFrame(b"\x00" * 320)]
    assert decoder.error is None


# --- the caller number in the UUID (what deploy/asterisk/extensions.conf builds) --------------------------------


RANDOM = uuid.UUID("1b4e28ba-2fa1-4d2b-883f-0016d3cca427")


@pytest.mark.parametrize(("number", "wire", "caller"), [
    ("+33612345678", "1b4e28ba-2fa1-ca11-ffff-a33612345678", "+33612345678"),
    ("0612345678", "1b4e28ba-2fa1-ca11-ffff-ff0612345678", "0612345678"),
    ("06 12-34.56 78", "1b4e28ba-2fa1-ca11-ffff-ff0612345678", "0612345678"),  # FILTER(0-9+) in the dialplan
    ("+3361234567801234", "1b4e28ba-2fa1-ca11-3361-234567801234", "3361234567801234"),  # last 16 characters kept
    ("", "1b4e28ba-2fa1-ca11-ffff-ffffffffffff", None),  # withheld number
    ("anonymous", "1b4e28ba-2fa1-ca11-ffff-ffffffffffff", None),
])
def test_the_caller_number_rides_in_the_uuid(number: str, wire: str, caller: str | None) -> None:
    built = caller_uuid(number, RANDOM)
    assert str(built) == wire
    assert split_call_uuid(built) == ("1b4e28ba-2fa1-ca11-0000-000000000000", caller)


def test_a_plain_uuid_is_a_call_id_without_a_caller() -> None:
    assert split_call_uuid(RANDOM) == (str(RANDOM), None)
    assert split_call_uuid(CALL_UUID) == (str(CALL_UUID), None)


@pytest.mark.parametrize("tail", ["ffff-fffffffffab1", "ffff-ffffffffffa1", "abcd-ef0123456789"])
def test_garbage_after_the_marker_gives_no_caller(tail: str) -> None:
    call_id, caller = split_call_uuid(uuid.UUID(f"1b4e28ba-2fa1-ca11-{tail}"))
    assert caller is None and call_id == "1b4e28ba-2fa1-ca11-0000-000000000000"


# --- calls over TCP ------------------------------------------------------------------------------------------------


async def test_the_caller_number_reaches_the_call_and_never_the_logs(
    recorder_server: tuple[Recorder, AudioSocketServer], caplog: pytest.LogCaptureFixture,
) -> None:
    recorder, server = recorder_server
    caplog.set_level(logging.DEBUG)
    _reader, writer = await connect(server)
    writer.write(frame(1, caller_uuid("+33612345678", RANDOM).bytes) + frame(0x10, tone(320, 5)) + frame(0))
    await writer.drain()
    call_id = "1b4e28ba-2fa1-ca11-0000-000000000000"
    events = await recorder.wait(call_id)
    assert events == [AudioIn(tone(320, 5)), Hangup("caller")]
    assert recorder.io[call_id].caller == "+33612345678"
    await until(lambda: server.active_calls == 0)
    assert "33612345678" not in caplog.text and call_id in caplog.text
    writer.close()



async def test_uuid_audio_and_dtmf_reach_the_handler_in_order(
    recorder_server: tuple[Recorder, AudioSocketServer],
) -> None:
    recorder, server = recorder_server
    a1, a2, a3 = tone(320, 1), tone(320, 2), tone(160, 3)
    reader, writer = await connect(server)
    writer.write(frame(1, CALL_UUID.bytes) + frame(0x10, a1) + frame(0x10, a2) + frame(3, b"5") + frame(0x10, a3))
    writer.write(frame(0))
    await writer.drain()
    events = await recorder.wait(str(CALL_UUID))
    assert events == [AudioIn(a1), AudioIn(a2), Dtmf("5"), AudioIn(a3), Hangup("caller")]
    call = recorder.io[str(CALL_UUID)]
    assert call.format == SLIN8K
    assert call.caller is None
    assert await call.transfer("operators") is False
    # Asterisk hung up first: the server just closes, no hangup frame back.
    assert await read_all_frames(reader) == []
    writer.close()


async def test_fragmented_writes_decode_the_same(recorder_server: tuple[Recorder, AudioSocketServer]) -> None:
    recorder, server = recorder_server
    audio = tone(320, 9)
    wire = frame(1, CALL_UUID.bytes) + frame(0x10, audio) + frame(3, b"*") + frame(0x10, audio) + frame(0)
    _reader, writer = await connect(server)
    for i in range(len(wire)):
        writer.write(wire[i : i + 1])
        await writer.drain()
        if i % 8 == 0:
            await asyncio.sleep(0.001)  # let each piece go out as its own segment
    events = await recorder.wait(str(CALL_UUID))
    assert events == [AudioIn(audio), Dtmf("*"), AudioIn(audio), Hangup("caller")]
    writer.close()


async def test_play_sends_320_byte_frames_then_hangup_when_the_handler_returns() -> None:
    pcm = tone(800, 4)  # 2.5 frames: the last one is padded with silence

    async def speak(call: CallIO, events: list[CallEvent]) -> None:
        await call.play(pcm)

    server = await start(Recorder(speak))
    try:
        reader, writer = await connect(server)
        writer.write(frame(1, CALL_UUID.bytes))
        await writer.drain()
        frames = await read_all_frames(reader)
        writer.close()
    finally:
        await asyncio.wait_for(server.close(), TIMEOUT)
    assert [kind for kind, _ in frames] == [0x10, 0x10, 0x10, 0x00]
    assert all(len(payload) == 320 for _, payload in frames[:3])
    assert b"".join(p for _, p in frames[:3]) == pcm + b"\x00" * 160
    assert frames[3] == (0x00, b"")


async def test_outgoing_audio_is_paced_in_real_time() -> None:
    async def speak(call: CallIO, events: list[CallEvent]) -> None:
        await call.play(tone(320 * 25, 5))  # 500 ms
        await call.hangup()

    server = await start(Recorder(speak))
    try:
        reader, writer = await connect(server)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        writer.write(frame(1, CALL_UUID.bytes))
        await writer.drain()
        frames = await read_all_frames(reader)
        elapsed = loop.time() - t0
        writer.close()
    finally:
        await asyncio.wait_for(server.close(), TIMEOUT)
    assert [k for k, _ in frames].count(0x10) == 25
    assert frames[-1] == (0x00, b"")
    assert elapsed >= 0.4


async def test_clear_drops_queued_audio() -> None:
    async def barge_in(call: CallIO, events: list[CallEvent]) -> None:
        await call.play(tone(320 * 100, 6))  # 2 s queued
        await asyncio.sleep(0.05)
        await call.clear()
        await call.hangup()

    server = await start(Recorder(barge_in))
    try:
        reader, writer = await connect(server)
        writer.write(frame(1, CALL_UUID.bytes))
        await writer.drain()
        frames = await read_all_frames(reader)
        writer.close()
    finally:
        await asyncio.wait_for(server.close(), TIMEOUT)
    assert frames[-1] == (0x00, b"")
    assert 1 <= [k for k, _ in frames].count(0x10) < 15


@pytest.mark.parametrize(
    ("garbage", "handler_sees"),
    [
        (frame(1, CALL_UUID.bytes) + b"\x42\x00\x00", Hangup("protocol error")),  # unknown kind
        (frame(1, CALL_UUID.bytes) + b"\x10\xff\xff" + b"\x00" * 100, Hangup("protocol error")),  # huge length
        (frame(0x10, tone(320, 1)), None),  # audio before the UUID: no call at all
        (b"\x01\x00", None),  # truncated header, then EOF
        (frame(1, CALL_UUID.bytes) + b"\x10\x01", Hangup("protocol error")),  # truncated header after the UUID
    ],
)
async def test_malformed_input_ends_only_that_call(
    recorder_server: tuple[Recorder, AudioSocketServer], garbage: bytes, handler_sees: Hangup | None
) -> None:
    recorder, server = recorder_server
    good_id = uuid.uuid4()
    _good_reader, good_writer = await connect(server)
    good_writer.write(frame(1, good_id.bytes))
    await good_writer.drain()
    await asyncio.wait_for(recorder.started.wait(), TIMEOUT)

    bad_reader, bad_writer = await connect(server)
    bad_writer.write(garbage)
    await bad_writer.drain()
    if garbage.endswith(b"\x01\x00") or garbage.endswith(b"\x10\x01"):
        bad_writer.write_eof()
    bad_frames = await read_all_frames(bad_reader)
    bad_writer.close()
    if handler_sees is None:
        assert list(recorder.calls) == [str(good_id)]
        assert bad_frames == [(0x00, b"")]
    else:
        assert (await recorder.wait(str(CALL_UUID)))[-1] == handler_sees
        # garbage: a hangup frame; a half-closed line (EOF mid-frame): nothing left to say
        assert bad_frames == ([] if garbage.endswith(b"\x10\x01") else [(0x00, b"")])

    audio = tone(320, 8)
    good_writer.write(frame(0x10, audio) + frame(3, b"1") + frame(0))
    await good_writer.drain()
    assert await recorder.wait(str(good_id)) == [AudioIn(audio), Dtmf("1"), Hangup("caller")]
    good_writer.close()


async def test_abrupt_disconnect_ends_the_handler_without_leaking_tasks() -> None:
    recorder = Recorder()
    server = await start(recorder)
    _reader, writer = await connect(server)
    writer.write(frame(1, CALL_UUID.bytes) + frame(0x10, tone(320, 2)))
    await writer.drain()
    await asyncio.wait_for(recorder.started.wait(), TIMEOUT)
    writer.transport.abort()
    events = await recorder.wait(str(CALL_UUID))
    assert events == [AudioIn(tone(320, 2)), Hangup("disconnected")]
    await until(lambda: server.active_calls == 0)
    await asyncio.wait_for(server.close(), TIMEOUT)
    assert pending_tasks() == []


async def test_close_ends_calls_in_progress() -> None:
    recorder = Recorder()
    server = await start(recorder)
    reader, writer = await connect(server)
    writer.write(frame(1, CALL_UUID.bytes))
    await writer.drain()
    await asyncio.wait_for(recorder.started.wait(), TIMEOUT)
    assert server.active_calls == 1
    await asyncio.wait_for(server.close(), TIMEOUT)
    assert recorder.finished[str(CALL_UUID)].is_set()
    assert server.active_calls == 0
    assert pending_tasks() == []
    assert await read_all_frames(reader) == [(0x00, b"")]  # Asterisk is told the call is over
    writer.close()


async def test_silent_caller_is_hung_up_by_the_handler_timeout() -> None:
    async def patient(call: CallIO, events: list[CallEvent]) -> None:
        try:
            async with asyncio.timeout(0.2):
                async for event in call.events():
                    events.append(event)
        except TimeoutError:
            await call.hangup()
            async for event in call.events():  # the iterator ends after our own hangup
                events.append(event)

    recorder = Recorder(patient)
    server = await start(recorder)
    try:
        reader, writer = await connect(server)
        writer.write(frame(1, CALL_UUID.bytes))
        await writer.drain()
        frames = await read_all_frames(reader)
        writer.close()
        assert frames == [(0x00, b"")]
        assert await recorder.wait(str(CALL_UUID)) == [Hangup("bot")]
    finally:
        await asyncio.wait_for(server.close(), TIMEOUT)


async def test_handler_failure_is_logged_and_the_server_keeps_serving(caplog: pytest.LogCaptureFixture) -> None:
    async def broken(call: CallIO, events: list[CallEvent]) -> None:
        if call.call_id == str(CALL_UUID):
            raise RuntimeError("boom")
        async for event in call.events():
            events.append(event)

    recorder = Recorder(broken)
    server = await start(recorder)
    try:
        with caplog.at_level(logging.ERROR, logger="voice.gateways"):
            reader, writer = await connect(server)
            writer.write(frame(1, CALL_UUID.bytes))
            await writer.drain()
            assert await read_all_frames(reader) == [(0x00, b"")]
            writer.close()
        assert any(str(CALL_UUID) in r.getMessage() and r.exc_info for r in caplog.records)

        other = uuid.uuid4()
        reader, writer = await connect(server)
        writer.write(frame(1, other.bytes) + frame(3, b"9") + frame(0))
        await writer.drain()
        assert await recorder.wait(str(other)) == [Dtmf("9"), Hangup("caller")]
        writer.close()
    finally:
        await asyncio.wait_for(server.close(), TIMEOUT)

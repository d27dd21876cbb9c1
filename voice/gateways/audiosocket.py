"""Asterisk AudioSocket gateway (the `AudioSocket()` dialplan application, TCP).

Wire format: every frame is 1 byte kind + 2 bytes big-endian payload length + payload. The first frame is the
call's UUID; audio is signed 16-bit little-endian, 8 kHz mono (320 bytes per 20 ms) in both directions.
The codec (`encode`, `Decoder`) is pure; `AudioSocketCall` and `serve` do the I/O.

Asterisk plays what it receives without a jitter buffer, so outgoing audio is queued and sent in real time
(a little ahead, `SEND_LEAD` seconds); `clear()` empties that queue. AudioSocket cannot transfer: `transfer()`
returns False (the dialplan does it, see deploy/asterisk/).

The caller number: AudioSocket carries nothing but the UUID, so the dialplan writes the number *into* the UUID
(deploy/asterisk/extensions.conf): a random UUID whose third group is the marker `ca11` and whose last 16 hex digits
are the number, `+` written `a`, left-padded with `f` (`caller_uuid` builds the same). `split_call_uuid` reads it
back; the call id is then the UUID's random part only (the number never reaches logs or the dialogue's sender id).
A UUID without the marker is a plain call id, caller unknown (None).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from enum import IntEnum

from voice.audio import SLIN8K, AudioFormat, Framer
from voice.call import AudioIn, CallEvent, Dtmf, Hangup
from voice.gateways import CallHandler, run_handler

log = logging.getLogger(__name__)

HEADER_SIZE = 3
MAX_AUDIO_PAYLOAD = 16000
"""Largest audio frame accepted (1 s); Asterisk sends 320 bytes. The 2-byte length field caps frames at 64 KiB."""
FIRST_FRAME_TIMEOUT = 5.0
"""Seconds a new connection has to send its UUID frame."""
SEND_LEAD = 0.06
"""How far ahead of real time outgoing audio may be sent (seconds)."""
_DTMF_DIGITS = frozenset("0123456789*#ABCD")


CALLER_MARK = "ca11"
"""Third group of a UUID that carries the caller number in its last 16 hex digits."""
_NUMBER_NIBBLES = 16


def caller_uuid(number: str | None, random_part: uuid.UUID | None = None) -> uuid.UUID:
    """What the example dialplan builds: a random UUID with `number` (digits and a leading `+`) in it.

    Other characters are dropped (like the dialplan's FILTER); an empty or missing number gives a UUID that says
    "caller unknown"; more than 16 characters keep the last 16 (the dialplan's ``${NUM:-16}``).
    """
    kept = "".join(c for c in (number or "") if c.isdigit() or c == "+").replace("+", "a")
    padded = ("f" * _NUMBER_NIBBLES + kept)[-_NUMBER_NIBBLES:]
    base = str(random_part or uuid.uuid4())
    return uuid.UUID(f"{base[:14]}{CALLER_MARK}-{padded[:4]}-{padded[4:]}")


def split_call_uuid(call_uuid: uuid.UUID) -> tuple[str, str | None]:
    """The call id and the caller number (None when the UUID does not carry one, or carries garbage)."""
    text = str(call_uuid)
    if text[14:18] != CALLER_MARK:
        return text, None
    call_id = f"{text[:18]}-0000-000000000000"
    digits = (text[19:23] + text[24:]).lstrip("f")
    number = "+" + digits[1:] if digits.startswith("a") else digits
    national = number.removeprefix("+")
    if not national.isdigit() or len(national) < 3:
        return call_id, None
    return call_id, number


class Kind(IntEnum):
    HANGUP = 0x00
    UUID = 0x01
    DTMF = 0x03
    AUDIO = 0x10
    ERROR = 0xFF


class ProtocolError(ValueError):
    """The peer sent something that is not AudioSocket; the call is hung up."""


@dataclass(frozen=True)
class HangupFrame:
    """Either side ends the call."""


@dataclass(frozen=True)
class UuidFrame:
    """First frame from Asterisk: the call id given to `AudioSocket(uuid, host:port)`."""

    call_id: uuid.UUID


@dataclass(frozen=True)
class DtmfFrame:
    digit: str


@dataclass(frozen=True)
class AudioFrame:
    """slin16 LE, 8 kHz mono."""

    pcm: bytes


@dataclass(frozen=True)
class ErrorFrame:
    """Asterisk reports an error (payload: an application-specific code, may be empty)."""

    code: bytes = b""


Frame = HangupFrame | UuidFrame | DtmfFrame | AudioFrame | ErrorFrame


def encode(frame: Frame) -> bytes:
    """The bytes of one frame on the wire."""
    kind: Kind
    payload: bytes
    match frame:
        case HangupFrame():
            kind, payload = Kind.HANGUP, b""
        case UuidFrame(call_id):
            kind, payload = Kind.UUID, call_id.bytes
        case DtmfFrame(digit):
            kind, payload = Kind.DTMF, digit.encode("ascii")
        case AudioFrame(pcm):
            kind, payload = Kind.AUDIO, pcm
        case ErrorFrame(code):
            kind, payload = Kind.ERROR, code
    if len(payload) > 0xFFFF:
        raise ValueError(f"payload of {len(payload)} bytes does not fit an AudioSocket frame")
    return bytes([kind]) + len(payload).to_bytes(2, "big") + payload


def _check_header(kind_byte: int, length: int) -> Kind:
    try:
        kind = Kind(kind_byte)
    except ValueError:
        raise ProtocolError(f"unknown frame kind 0x{kind_byte:02x}") from None
    limits = {Kind.HANGUP: 0, Kind.UUID: 16, Kind.DTMF: 1, Kind.AUDIO: MAX_AUDIO_PAYLOAD, Kind.ERROR: 256}
    if length > limits[kind] or (kind in (Kind.UUID, Kind.DTMF) and length != limits[kind]):
        raise ProtocolError(f"bad length {length} for a {kind.name} frame")
    if kind is Kind.AUDIO and length % 2:
        raise ProtocolError("audio frame with half a sample")
    return kind


def _decode_payload(kind: Kind, payload: bytes) -> Frame:
    match kind:
        case Kind.HANGUP:
            return HangupFrame()
        case Kind.UUID:
            return UuidFrame(uuid.UUID(bytes=payload))
        case Kind.DTMF:
            digit = payload.decode("latin-1")
            if digit not in _DTMF_DIGITS:
                raise ProtocolError("invalid DTMF digit")
            return DtmfFrame(digit)
        case Kind.AUDIO:
            return AudioFrame(payload)
        case Kind.ERROR:
            return ErrorFrame(payload)


class Decoder:
    """Incremental decoder: feed bytes as they arrive (any fragmentation), get whole frames back.

    Garbage (unknown kind, impossible length) is detected as soon as a header's 3 bytes are in, without waiting for
    its payload: `feed` returns the good frames before it and sets `error`; nothing is decoded after that.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.error: ProtocolError | None = None

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Frame]:
        frames: list[Frame] = []
        if self.error is not None:
            return frames
        self._buffer += data
        try:
            while len(self._buffer) >= HEADER_SIZE:
                length = int.from_bytes(self._buffer[1:3], "big")
                kind = _check_header(self._buffer[0], length)
                if len(self._buffer) < HEADER_SIZE + length:
                    break
                payload = bytes(self._buffer[HEADER_SIZE : HEADER_SIZE + length])
                frames.append(_decode_payload(kind, payload))
                del self._buffer[: HEADER_SIZE + length]
        except ProtocolError as exc:
            self.error = exc
            self._buffer.clear()
        return frames


class AudioSocketCall:
    """One AudioSocket connection as a `CallIO` (format SLIN8K; caller from the UUID, see `split_call_uuid`)."""

    format: AudioFormat = SLIN8K

    def __init__(self, call_id: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *,
                 caller: str | None = None) -> None:
        self.call_id = call_id
        self.caller: str | None = caller
        self._reader, self._writer = reader, writer
        self._events: asyncio.Queue[CallEvent] = asyncio.Queue()
        self._decoder = Decoder()
        self._framer = Framer(SLIN8K)
        self._out: collections.deque[bytes] = collections.deque()
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._ended = False  # a Hangup was queued: no more events
        self._hung_up = False  # our hangup frame was sent (or the line is gone)
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, first_frames: list[Frame], decoder: Decoder) -> None:
        """Deliver frames that came with the UUID, then read and send in background tasks."""
        self._decoder = decoder
        try:
            for frame in first_frames:
                self._on_frame(frame)
            if decoder.error is not None:
                raise decoder.error
        except ProtocolError as exc:
            log.warning("call %s: %s", self.call_id, exc)
            self._end("protocol error")
        self._tasks = [asyncio.create_task(self._read_loop()), asyncio.create_task(self._send_loop())]

    def _end(self, reason: str) -> None:
        if not self._ended:
            self._ended = True
            self._events.put_nowait(Hangup(reason))

    def _on_frame(self, frame: Frame) -> None:
        if self._ended:
            return
        match frame:
            case AudioFrame(pcm):
                self._events.put_nowait(AudioIn(pcm))
            case DtmfFrame(digit):
                self._events.put_nowait(Dtmf(digit))
            case HangupFrame():
                self._hung_up = True  # Asterisk hung up: nothing more to send
                self._end("caller")
            case ErrorFrame():
                self._end("error")
            case UuidFrame():
                raise ProtocolError("second UUID frame")

    async def _read_loop(self) -> None:
        try:
            while not self._ended:
                data = await self._reader.read(4096)
                if not data:
                    self._hung_up = True
                    self._end("protocol error" if self._decoder.pending else "disconnected")
                    return
                for frame in self._decoder.feed(data):
                    self._on_frame(frame)
                if self._decoder.error is not None:
                    raise self._decoder.error
        except ProtocolError as exc:
            log.warning("call %s: %s", self.call_id, exc)
            self._end("protocol error")
        except (ConnectionError, OSError):
            self._hung_up = True
            self._end("disconnected")

    async def _send_loop(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time()
        while True:
            await self._wake.wait()
            while self._out and not self._hung_up:
                deadline = max(deadline, loop.time())
                if deadline - loop.time() > SEND_LEAD:
                    await asyncio.sleep(deadline - loop.time() - SEND_LEAD)
                    continue  # clear() may have emptied the queue meanwhile
                self._writer.write(encode(AudioFrame(self._out.popleft())))
                deadline += 0.02
                try:
                    await self._writer.drain()
                except (ConnectionError, OSError):
                    self._hung_up = True
                    self._end("disconnected")
            self._out.clear()
            self._wake.clear()
            self._drained.set()

    async def events(self) -> AsyncIterator[CallEvent]:
        while True:
            event = await self._events.get()
            yield event
            if isinstance(event, Hangup):
                return

    async def play(self, pcm: bytes) -> None:
        if self._hung_up:
            return
        frames = self._framer.push(pcm)
        if frames:
            self._out.extend(frames)
            self._drained.clear()
            self._wake.set()

    async def clear(self) -> None:
        self._out.clear()
        self._framer = Framer(SLIN8K)

    async def hangup(self) -> None:
        """Send what is still queued (the goodbye), then the hangup frame; call `clear()` first to cut it short."""
        if self._hung_up:
            return
        frames = self._framer.flush()
        if frames:
            self._out.extend(frames)
            self._drained.clear()
            self._wake.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._drained.wait(), timeout=0.02 * len(self._out) + 1.0)
        self._hung_up = True
        self._end("bot")
        with contextlib.suppress(ConnectionError, OSError):
            self._writer.write(encode(HangupFrame()))
            await self._writer.drain()

    async def transfer(self, target: str) -> bool:
        """AudioSocket cannot transfer: hang up with a channel variable set instead, and let the dialplan do it."""
        return False

    async def close(self, *, flush: bool = True) -> None:
        """End the call (queued audio sent if `flush`, then the hangup frame unless already sent or gone)."""
        if not flush:
            await self.clear()
        await self.hangup()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self._writer.wait_closed()


async def _read_first_frames(reader: asyncio.StreamReader, decoder: Decoder) -> tuple[uuid.UUID, list[Frame]]:
    """Read until the UUID frame, which must come first; returns the UUID and the frames that followed it."""
    while True:
        data = await reader.read(4096)
        if not data:
            raise ProtocolError("connection closed before the UUID frame")
        frames = decoder.feed(data)
        if not frames and decoder.error is not None:
            raise decoder.error
        if frames:
            first, rest = frames[0], frames[1:]
            if not isinstance(first, UuidFrame):
                raise ProtocolError(f"first frame is {type(first).__name__}, not the UUID")
            return first.call_id, rest


class AudioSocketServer:
    """The listening TCP server; `close()` ends every call in progress and waits for their handlers."""

    def __init__(self, handler: CallHandler) -> None:
        self._handler = handler
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._closing = False

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def active_calls(self) -> int:
        """Connections being served (including ones still waiting for their UUID)."""
        return len(self._connections)

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._on_connection, host, port)

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._serve_connection(reader, writer)
        finally:
            self._connections.discard(task)

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        decoder = Decoder()
        try:
            call_uuid, rest = await asyncio.wait_for(_read_first_frames(reader, decoder), FIRST_FRAME_TIMEOUT)
        except (ProtocolError, TimeoutError, ConnectionError, OSError) as exc:
            log.warning("audiosocket connection refused: %s", exc or type(exc).__name__)
            with contextlib.suppress(ConnectionError, OSError):
                writer.write(encode(HangupFrame()))
                await writer.drain()
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
            return
        call_id, caller = split_call_uuid(call_uuid)
        call = AudioSocketCall(call_id, reader, writer, caller=caller)
        log.info("call %s: audiosocket connected (caller number %s)", call_id, "known" if caller else "unknown")
        try:
            call.start(rest, decoder)
            await run_handler(self._handler, call, log)
        finally:
            await call.close(flush=not self._closing)
            log.info("call %s: ended", call_id)

    async def close(self) -> None:
        self._closing = True
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()


async def serve(host: str, port: int, handler: CallHandler) -> AudioSocketServer:
    """Listen for AudioSocket connections on host:port (0 = any free port); one `handler(call)` task per call."""
    server = AudioSocketServer(handler)
    await server.start(host, port)
    return server

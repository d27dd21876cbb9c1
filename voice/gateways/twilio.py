"""Twilio Media Streams gateway (bidirectional `<Connect><Stream>`, WebSocket with JSON messages).

Inbound events: `connected`, `start` (streamSid, callSid, customParameters, mediaFormat), `media` (base64 µ-law,
8 kHz mono), `dtmf`, `mark` (Twilio echoes our marks when playback reaches them), `stop`. Outbound: `media`,
`mark` (one after each `play()` batch, so `unplayed_marks` tells what Twilio still buffers) and `clear` (barge-in).
The codec (`parse`, `encode`) is pure; `TwilioCall` and `serve` do the I/O (aiohttp, path `/twilio/media`,
plus `GET /health`).

The caller number is not part of Media Streams: the TwiML passes it as the stream parameter `caller`
(deploy/twilio/twiml.xml). Hanging up waits until Twilio has played what was sent (every mark echoed back, or a
timeout), so the goodbye is heard. `transfer()` does the same, then redirects the live call to TwiML with a `<Dial>`
through the REST API (`voice.gateways.twilio_rest`, given to `serve` as `control`); without it, it returns False.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from voice.audio import ULAW8K, AudioFormat
from voice.call import AudioIn, CallEvent, Dtmf, Hangup
from voice.gateways import CallHandler, run_handler
from voice.gateways.twilio_rest import CallControl, TwilioApiError, dial_twiml
from voice.metrics import VoiceMetrics

log = logging.getLogger(__name__)

MEDIA_PATH = "/twilio/media"
CHUNK_BYTES = 1600
"""Largest µ-law payload per outbound media message (200 ms)."""
START_TIMEOUT = 10.0
"""Seconds a new websocket has to send its `start` event."""
MARK_WAIT_SLACK = 2.0
"""Seconds allowed, beyond the duration of the audio still unplayed, for Twilio to echo the last mark."""
MARK_WAIT_MAX = 30.0
_DTMF_DIGITS = frozenset("0123456789*#ABCD")


class ProtocolError(ValueError):
    """Not a Media Streams message (bad JSON, missing field, unexpected event); the call is ended."""


# --- inbound messages ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Connected:
    protocol: str = "Call"


@dataclass(frozen=True)
class Start:
    stream_sid: str
    call_sid: str
    encoding: str = "audio/x-mulaw"
    sample_rate: int = 8000
    channels: int = 1
    custom_parameters: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Media:
    payload: bytes
    track: str = "inbound"


@dataclass(frozen=True)
class DtmfEvent:
    digit: str


@dataclass(frozen=True)
class Mark:
    name: str


@dataclass(frozen=True)
class Stop:
    pass


Inbound = Connected | Start | Media | DtmfEvent | Mark | Stop


# --- outbound messages ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutMedia:
    stream_sid: str
    payload: bytes


@dataclass(frozen=True)
class OutMark:
    stream_sid: str
    name: str


@dataclass(frozen=True)
class OutClear:
    stream_sid: str


Outbound = OutMedia | OutMark | OutClear


def _str(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise ProtocolError(f"missing or non-string field {key!r}")
    return value


def _obj(obj: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = obj.get(key)
    if not isinstance(value, dict):
        raise ProtocolError(f"missing or non-object field {key!r}")
    return value


def parse(text: str) -> Inbound:
    """Decode one inbound text message; `ProtocolError` on anything that is not a well-formed Media Streams event."""
    try:
        msg = json.loads(text)
    except ValueError:
        raise ProtocolError("not JSON") from None
    if not isinstance(msg, dict):
        raise ProtocolError("not a JSON object")
    event = _str(msg, "event")
    match event:
        case "connected":
            return Connected(str(msg.get("protocol", "Call")))
        case "start":
            start = _obj(msg, "start")
            fmt = _obj(start, "mediaFormat")
            params = start.get("customParameters") or {}
            if not isinstance(params, dict):
                raise ProtocolError("customParameters is not an object")
            try:
                rate, channels = int(fmt.get("sampleRate", 0)), int(fmt.get("channels", 1))
            except (TypeError, ValueError):
                raise ProtocolError("bad mediaFormat") from None
            return Start(
                stream_sid=_str(start, "streamSid") if "streamSid" in start else _str(msg, "streamSid"),
                call_sid=_str(start, "callSid"),
                encoding=_str(fmt, "encoding"),
                sample_rate=rate,
                channels=channels,
                custom_parameters={str(k): str(v) for k, v in params.items()},
            )
        case "media":
            media = _obj(msg, "media")
            try:
                payload = base64.b64decode(_str(media, "payload"), validate=True)
            except binascii.Error:
                raise ProtocolError("media payload is not base64") from None
            return Media(payload, str(media.get("track", "inbound")))
        case "dtmf":
            digit = _str(_obj(msg, "dtmf"), "digit")
            if digit not in _DTMF_DIGITS:
                raise ProtocolError("invalid DTMF digit")
            return DtmfEvent(digit)
        case "mark":
            return Mark(_str(_obj(msg, "mark"), "name"))
        case "stop":
            return Stop()
    raise ProtocolError(f"unknown event {event!r}")


def encode(message: Outbound) -> str:
    """The JSON text of one outbound message."""
    match message:
        case OutMedia(sid, payload):
            body: dict[str, Any] = {
                "event": "media",
                "streamSid": sid,
                "media": {"payload": base64.b64encode(payload).decode("ascii")},
            }
        case OutMark(sid, name):
            body = {"event": "mark", "streamSid": sid, "mark": {"name": name}}
        case OutClear(sid):
            body = {"event": "clear", "streamSid": sid}
    return json.dumps(body, separators=(",", ":"))


# --- I/O -----------------------------------------------------------------------------------------------------------


class TwilioCall:
    """One Media Streams websocket as a `CallIO` (format ULAW8K; call id = Twilio's CallSid)."""

    format: AudioFormat = ULAW8K

    def __init__(self, ws: web.WebSocketResponse, start: Start, *, control: CallControl | None = None) -> None:
        self.call_id = start.call_sid
        self.stream_sid = start.stream_sid
        self.caller: str | None = start.custom_parameters.get("caller") or None
        self._ws = ws
        self._control = control
        self._events: asyncio.Queue[CallEvent] = asyncio.Queue()
        self._ended = False
        self._peer_gone = False  # Twilio stopped the stream or the socket is gone: nothing more will be played
        self._marks_sent = 0
        self._unplayed: dict[str, int] = {}  # mark name → bytes of µ-law audio (8000 per second) sent before it
        self._all_played = asyncio.Event()
        self._all_played.set()

    @property
    def unplayed_marks(self) -> int:
        """Audio batches sent but not yet played by Twilio (their marks have not come back)."""
        return len(self._unplayed)

    def _end(self, reason: str) -> None:
        if not self._ended:
            self._ended = True
            self._events.put_nowait(Hangup(reason))

    def _gone(self, reason: str) -> None:
        self._peer_gone = True
        self._all_played.set()
        self._end(reason)

    def _forget_marks(self) -> None:
        self._unplayed.clear()
        self._all_played.set()

    async def wait_played(self) -> bool:
        """Wait until Twilio has played all the audio sent (its marks came back); False after a timeout."""
        if self._peer_gone or self._ws.closed or not self._unplayed:
            return True
        timeout = min(MARK_WAIT_MAX, sum(self._unplayed.values()) / 8000 + MARK_WAIT_SLACK)
        try:
            await asyncio.wait_for(self._all_played.wait(), timeout)
        except TimeoutError:
            log.warning("call %s: %d marks not echoed after %.1f s", self.call_id, len(self._unplayed), timeout)
            return False
        return True

    async def read_loop(self) -> None:
        """Turn websocket messages into call events until the stream stops, the socket closes, or garbage comes."""
        try:
            async for msg in self._ws:
                if msg.type is not WSMsgType.TEXT:
                    raise ProtocolError(f"unexpected {msg.type.name} message")
                match parse(msg.data):
                    case Media(payload, track):
                        if track == "inbound" and not self._ended:
                            self._events.put_nowait(AudioIn(payload))
                    case DtmfEvent(digit):
                        if not self._ended:
                            self._events.put_nowait(Dtmf(digit))
                    case Mark(name):
                        self._unplayed.pop(name, None)
                        if not self._unplayed:
                            self._all_played.set()
                    case Stop():
                        self._gone("caller")
                        return
                    case Connected() | Start():
                        raise ProtocolError("second connected/start event")
            self._gone("disconnected")
        except ProtocolError as exc:
            log.warning("call %s: %s", self.call_id, exc)
            self._gone("protocol error")

    async def events(self) -> AsyncIterator[CallEvent]:
        while True:
            event = await self._events.get()
            yield event
            if isinstance(event, Hangup):
                return

    async def _send(self, message: Outbound) -> None:
        if self._ws.closed:
            return
        try:
            await self._ws.send_str(encode(message))
        except (ConnectionError, OSError):  # closing under our feet: the read loop reports the hangup
            pass

    async def play(self, pcm: bytes) -> None:
        if self._ended or not pcm:
            return
        for i in range(0, len(pcm), CHUNK_BYTES):
            await self._send(OutMedia(self.stream_sid, pcm[i : i + CHUNK_BYTES]))
        self._marks_sent += 1
        name = f"play-{self._marks_sent}"
        self._unplayed[name] = len(pcm)
        self._all_played.clear()
        await self._send(OutMark(self.stream_sid, name))

    async def clear(self) -> None:
        if not self._ended:
            await self._send(OutClear(self.stream_sid))
        self._forget_marks()  # Twilio drops the buffered audio: nothing to wait for

    async def hangup(self) -> None:
        """Let Twilio play what it still buffers (the goodbye), then close the stream: Twilio runs the TwiML after
        `<Connect>` (hangs up in the example)."""
        await self.wait_played()
        self._end("bot")
        if not self._ws.closed:
            with contextlib.suppress(ConnectionError, OSError):
                await self._ws.close()

    async def transfer(self, target: str) -> bool:
        """Once the last words are played, redirect the call to a `<Dial>` of ``target`` (REST API); False when
        there is no REST client or Twilio refuses."""
        if self._control is None or self._peer_gone:
            return False
        await self.wait_played()
        try:
            await self._control.redirect(self.call_id, dial_twiml(target))
        except TwilioApiError as exc:
            log.warning("call %s: transfer failed: %s", self.call_id, exc)
            return False
        log.info("call %s: redirected to an operator", self.call_id)
        self._end("transfer")
        return True


_HANDLER: web.AppKey[CallHandler] = web.AppKey("handler")
_CONTROL: web.AppKey[CallControl | None] = web.AppKey("control")
_SOCKETS: web.AppKey[set[web.WebSocketResponse]] = web.AppKey("sockets")


async def _wait_start(ws: web.WebSocketResponse) -> Start:
    async for msg in ws:
        if msg.type is not WSMsgType.TEXT:
            raise ProtocolError(f"unexpected {msg.type.name} message")
        match parse(msg.data):
            case Connected():
                continue
            case Start() as start:
                if (start.encoding, start.sample_rate, start.channels) != ("audio/x-mulaw", 8000, 1):
                    raise ProtocolError(f"unsupported media format {start.encoding}/{start.sample_rate}")
                return start
            case other:
                raise ProtocolError(f"{type(other).__name__} before start")
    raise ProtocolError("closed before start")


async def _media_stream(request: web.Request) -> web.StreamResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    sockets = request.app[_SOCKETS]
    sockets.add(ws)
    try:
        try:
            start = await asyncio.wait_for(_wait_start(ws), START_TIMEOUT)
        except (ProtocolError, TimeoutError) as exc:
            log.warning("media stream refused: %s", exc or type(exc).__name__)
            return ws
        call = TwilioCall(ws, start, control=request.app[_CONTROL])
        log.info("call %s: media stream started", call.call_id)
        reader = asyncio.create_task(call.read_loop())
        try:
            await run_handler(request.app[_HANDLER], call, log)
        finally:
            await call.hangup()
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
            log.info("call %s: ended", call.call_id)
        return ws
    finally:
        sockets.discard(ws)
        await ws.close()


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "calls": len(request.app[_SOCKETS])})


async def _close_sockets(app: web.Application) -> None:
    sockets = app[_SOCKETS]
    for ws in list(sockets):
        await ws.close(code=1001, message=b"server shutdown")


def make_app(handler: CallHandler, *, control: CallControl | None = None,
             metrics: VoiceMetrics | None = None) -> web.Application:
    """The aiohttp application: `GET /twilio/media` (websocket), `GET /health`, and `GET /metrics` with ``metrics``;
    ``control`` (Twilio's REST API) makes transfers possible."""
    app = web.Application()
    app[_HANDLER] = handler
    app[_CONTROL] = control
    sockets: set[web.WebSocketResponse] = set()
    app[_SOCKETS] = sockets
    app.router.add_get(MEDIA_PATH, _media_stream)
    app.router.add_get("/health", _health)
    if metrics is not None:
        app.router.add_get("/metrics", metrics.handle)
    app.on_shutdown.append(_close_sockets)
    return app


class TwilioServer:
    """A running Media Streams endpoint; `close()` closes every stream and waits for the call handlers."""

    def __init__(self, runner: web.AppRunner, port: int) -> None:
        self._runner = runner
        self._port = port

    @property
    def port(self) -> int:
        return self._port

    @property
    def active_calls(self) -> int:
        app = self._runner.app
        return len(app[_SOCKETS]) if app is not None else 0

    async def close(self) -> None:
        await self._runner.cleanup()


async def serve(host: str, port: int, handler: CallHandler, *, control: CallControl | None = None,
                metrics: VoiceMetrics | None = None) -> TwilioServer:
    """Serve Media Streams on ws://host:port/twilio/media (port 0 = any free port); one `handler(call)` per call."""
    runner = web.AppRunner(make_app(handler, control=control, metrics=metrics), shutdown_timeout=5.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1]
    return TwilioServer(runner, int(bound))

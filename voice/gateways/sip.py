"""A direct SIP/RTP endpoint (UAS) on the standard library: softphones and SIP trunks call the bot without a PBX.

Signalling is SIP over UDP (RFC 3261 essentials), media is RTP with G.711 µ-law (PCMU/0) or A-law (PCMA/8) in 20 ms
packets, and keypad digits arrive as RFC 4733 telephone-events (or SIP INFO ``application/dtmf-relay``).

What is implemented:
- INVITE → 100 Trying, then 200 OK with an SDP answer (first of PCMU/PCMA in the offer's order, plus
  telephone-event when offered); INVITE without SDP (delayed offer) gets our offer and the answer is read from the ACK.
  A retransmitted INVITE gets the same response again; a re-INVITE gets the same SDP. The 200 OK is retransmitted
  until the ACK arrives (RFC 3261 timer G), the handler starts on the ACK.
- BYE (200 OK; the call's events end with ``Hangup("caller")``), CANCEL before the answer (200 OK, then 487 for the
  INVITE; only possible with ``answer_delay``), OPTIONS (200), INFO and NOTIFY in a dialog (200), anything else 501.
- The bot hangs up (``hangup()`` or the handler returning) with an in-dialog BYE, retransmitted until answered.
- Symmetric RTP: audio goes where the caller's RTP comes from (the SDP address until the first packet).
- No RTP for ``rtp_timeout`` seconds after the ACK ends the call: ``Hangup("rtp timeout")`` and a BYE.
- ``transfer(target)`` sends a REFER (``Refer-To: sip:target@caller-host`` unless ``target`` is a SIP URI) and returns
  True when the caller's side accepts it (2xx); the session then hangs up. Progress NOTIFYs are acknowledged, not
  followed.
- Malformed datagrams never stop the server: a request whose start line and Via can be read gets 400 Bad Request,
  anything else is dropped.

Limits: UDP and IPv4 only, no authentication, registration, TCP/TLS, SRTP, RTCP, ICE, session timers or PRACK; no
comfort noise or silence sent while the bot says nothing; requests are sent back to the transport address they came
from (fine directly or behind one NAT, not through a chain of proxies using other addresses).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import socket
import struct
import time
import urllib.parse
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from typing import cast

from voice.audio import ALAW8K, ULAW8K, AudioFormat
from voice.call import AudioIn, CallEvent, Dtmf, Hangup
from voice.gateways import CallHandler, run_handler

log = logging.getLogger(__name__)

Address = tuple[str, int]

ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, NOTIFY"
T1 = 0.5  # RFC 3261 round-trip estimate (s)
T2 = 4.0
TIMER_64T1 = 64 * T1
FRAME_BYTES = 160  # 20 ms of 8 kHz G.711
DTMF_KEYS = "0123456789*#ABCD"

# RFC 3261 §7.3.3 compact forms (and a few from later RFCs).
_COMPACT = {
    "i": "call-id",
    "f": "from",
    "t": "to",
    "v": "via",
    "m": "contact",
    "l": "content-length",
    "c": "content-type",
    "k": "supported",
    "s": "subject",
    "e": "content-encoding",
    "r": "refer-to",
    "o": "event",
    "u": "allow-events",
    "b": "referred-by",
}
_TOKEN = re.compile(r"^[A-Za-z0-9.!%*_+`'~-]+$")
_TAG = re.compile(r";\s*tag=([^;,\s]+)", re.IGNORECASE)


class SipParseError(ValueError):
    """A datagram that is not a SIP message."""


# --- SIP messages -------------------------------------------------------------------------------------------------


@dataclass
class SipMessage:
    """One SIP request (``method`` set) or response (``status`` set); header names are kept lower-case, unfolded."""

    method: str | None = None
    uri: str = ""
    status: int = 0
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    errors: list[str] = field(default_factory=list)  # what is wrong with a request that could still be parsed

    @property
    def is_request(self) -> bool:
        return self.method is not None

    def get(self, name: str) -> str | None:
        name = name.lower()
        return next((value for key, value in self.headers if key == name), None)

    def get_all(self, name: str) -> list[str]:
        name = name.lower()
        return [value for key, value in self.headers if key == name]

    @property
    def call_id(self) -> str:
        return self.get("call-id") or ""

    @property
    def cseq(self) -> tuple[int, str]:
        """(number, method); (-1, "") when missing or malformed."""
        parts = (self.get("cseq") or "").split()
        if len(parts) != 2 or not parts[0].isdigit():
            return -1, ""
        return int(parts[0]), parts[1].upper()


def parse_message(data: bytes) -> SipMessage:
    """Parse a datagram; raises SipParseError when even the start line is unreadable.

    Header-level problems in a request (bad header line, missing mandatory header, bad CSeq or Content-Length) are
    listed in ``errors`` so the caller can answer 400.
    """
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = data.partition(b"\n\n")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SipParseError("not UTF-8") from exc
    lines = text.replace("\r\n", "\n").split("\n")
    start = lines[0].strip()
    msg = SipMessage()
    if start.startswith("SIP/2.0 "):
        parts = start.split(" ", 2)
        if len(parts) < 2 or not parts[1].isdigit() or len(parts[1]) != 3:
            raise SipParseError(f"bad status line {start[:80]!r}")
        msg.status, msg.reason = int(parts[1]), parts[2] if len(parts) > 2 else ""
    else:
        parts = start.split(" ")
        if len(parts) != 3 or parts[2].upper() != "SIP/2.0" or not _TOKEN.match(parts[0]) or not parts[1]:
            raise SipParseError(f"bad request line {start[:80]!r}")
        msg.method, msg.uri = parts[0].upper(), parts[1]
    for line in lines[1:]:
        if not line.strip():
            continue
        if line[0] in " \t" and msg.headers:  # folded continuation line
            key, value = msg.headers[-1]
            msg.headers[-1] = (key, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        name = name.strip().lower()
        if not colon or not name or not _TOKEN.match(name):
            msg.errors.append(f"bad header line {line[:60]!r}")
            continue
        msg.headers.append((_COMPACT.get(name, name), value.strip()))
    length_text = msg.get("content-length")
    if length_text is None:
        msg.body = body
    elif not length_text.isdigit() or int(length_text) > len(body):
        msg.errors.append(f"bad Content-Length {length_text!r}")
        msg.body = body
    else:
        msg.body = body[: int(length_text)]
    if msg.is_request:
        for name in ("via", "from", "to", "call-id", "cseq"):
            if not msg.get(name):
                msg.errors.append(f"missing {name}")
        number, method = msg.cseq
        if msg.get("cseq") and (number < 0 or method != msg.method):
            msg.errors.append("bad CSeq")
    return msg


def header_tag(value: str | None) -> str | None:
    """The ``tag`` parameter of a From/To value (outside the <URI>)."""
    if not value:
        return None
    rest = value.rsplit(">", 1)[1] if "<" in value else value
    match = _TAG.search(rest)
    return match.group(1) if match else None


def header_uri(value: str | None) -> str:
    """The URI of a From/To/Contact value (``<uri>`` or the bare form up to the parameters)."""
    if not value:
        return ""
    match = re.search(r"<([^>]*)>", value)
    if match:
        return match.group(1).strip()
    return value.split(";", 1)[0].strip()


def uri_user(uri: str) -> str | None:
    """The user part of ``sip:user@host`` (percent-decoded), or None."""
    match = re.match(r"^sips?:([^@;?]+)@", uri, re.IGNORECASE)
    return urllib.parse.unquote(match.group(1)) if match else None


def _with_tag(value: str, tag: str) -> str:
    return value if header_tag(value) else f"{value};tag={tag}"


def build_response(
    request: SipMessage,
    status: int,
    reason: str,
    *,
    to_tag: str | None = None,
    extra: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    content_type: str = "application/sdp",
) -> bytes:
    """A response to ``request``: Via, From, To (with our tag), Call-ID and CSeq copied (RFC 3261 §8.2.6)."""
    lines = [f"SIP/2.0 {status} {reason}"]
    lines += [f"Via: {via}" for via in request.get_all("via")]
    if 200 <= status < 300 or status == 101:
        lines += [f"Record-Route: {rr}" for rr in request.get_all("record-route")]
    lines.append(f"From: {request.get('from') or ''}")
    to = request.get("to") or ""
    lines.append(f"To: {_with_tag(to, to_tag) if to_tag and status > 100 else to}")
    lines.append(f"Call-ID: {request.call_id}")
    lines.append(f"CSeq: {request.get('cseq') or ''}")
    lines += [f"{name}: {value}" for name, value in extra or []]
    lines.append("Server: guichet-sip")
    if body:
        lines.append(f"Content-Type: {content_type}")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


# --- SDP ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SdpMedia:
    """What we use of a session description: the first audio stream."""

    host: str
    port: int
    payload_types: list[int]
    rtpmap: dict[int, str]  # pt -> "pcmu/8000"
    all_media: list[str]  # every m= line, to answer the others with port 0


def parse_sdp(body: bytes) -> SdpMedia | None:
    """The first audio stream of an SDP body, or None when there is none."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    session_host = ""
    media_host = ""
    audio: tuple[int, list[int]] | None = None
    rtpmap: dict[int, str] = {}
    media: list[str] = []
    in_audio = False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("m="):
            media.append(line[2:])
            fields = line[2:].split()
            in_audio = audio is None and len(fields) >= 4 and fields[0] == "audio" and fields[1].split("/")[0].isdigit()
            if in_audio:
                audio = (int(fields[1].split("/")[0]), [int(pt) for pt in fields[3:] if pt.isdigit()])
        elif line.startswith("c="):
            fields = line[2:].split()
            host = fields[2].split("/")[0] if len(fields) >= 3 else ""
            if not media:
                session_host = host
            elif in_audio:
                media_host = host
        elif line.startswith("a=rtpmap:") and in_audio:
            pt_text, _, encoding = line[len("a=rtpmap:") :].partition(" ")
            if pt_text.isdigit():
                rtpmap[int(pt_text)] = encoding.strip().lower()
    if audio is None:
        return None
    return SdpMedia(media_host or session_host, audio[0], audio[1], rtpmap, media)


@dataclass(frozen=True)
class Codec:
    """The negotiated audio: G.711 payload type and format, and the telephone-event payload type (or None)."""

    pt: int
    format: AudioFormat
    dtmf_pt: int | None


def choose_codec(offer: SdpMedia) -> Codec | None:
    """First of PCMU/PCMA in the offer's order, telephone-event/8000 if offered; None when there is no G.711."""
    dtmf = next((pt for pt in offer.payload_types if offer.rtpmap.get(pt, "").startswith("telephone-event/8000")), None)
    for pt in offer.payload_types:
        name = offer.rtpmap.get(pt) or {0: "pcmu/8000", 8: "pcma/8000"}.get(pt, "")
        if name.startswith("pcmu/8000"):
            return Codec(pt, ULAW8K, dtmf)
        if name.startswith("pcma/8000"):
            return Codec(pt, ALAW8K, dtmf)
    return None


def build_sdp(
    host: str, port: int, codecs: list[Codec], session_id: int, other_media: list[str] | None = None
) -> bytes:
    """An SDP body for one audio stream with ``codecs`` (an answer has one; an offer may list PCMU and PCMA)."""
    pts = [c.pt for c in codecs]
    dtmf = next((c.dtmf_pt for c in codecs if c.dtmf_pt is not None), None)
    if dtmf is not None:
        pts.append(dtmf)
    lines = [
        "v=0",
        f"o=guichet {session_id} {session_id} IN IP4 {host}",
        "s=guichet",
        f"c=IN IP4 {host}",
        "t=0 0",
        f"m=audio {port} RTP/AVP {' '.join(map(str, pts))}",
    ]
    for codec in codecs:
        lines.append(f"a=rtpmap:{codec.pt} {'PCMU' if codec.format == ULAW8K else 'PCMA'}/8000")
    if dtmf is not None:
        lines += [f"a=rtpmap:{dtmf} telephone-event/8000", f"a=fmtp:{dtmf} 0-15"]
    lines += ["a=ptime:20", "a=sendrecv"]
    for m in other_media or []:  # decline the other streams of the offer, keeping the m= line count (RFC 3264 §6)
        fields = m.split()
        lines.append(f"m={fields[0]} 0 {' '.join(fields[2:])}")
    return ("\r\n".join(lines) + "\r\n").encode()


# --- RTP ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RtpPacket:
    payload_type: int
    marker: bool
    seq: int
    timestamp: int
    ssrc: int
    payload: bytes


def parse_rtp(data: bytes) -> RtpPacket | None:
    """An RTP packet (RFC 3550 §5.1: CSRCs, extension and padding skipped), or None when it is not one."""
    if len(data) < 12:
        return None
    b0, b1, seq, timestamp, ssrc = struct.unpack_from("!BBHII", data)
    if b0 >> 6 != 2:
        return None
    offset = 12 + 4 * (b0 & 0x0F)
    if b0 & 0x10:
        if len(data) < offset + 4:
            return None
        offset += 4 + 4 * struct.unpack_from("!H", data, offset + 2)[0]
    end = len(data) - (data[-1] if b0 & 0x20 else 0)
    if offset > end:
        return None
    return RtpPacket(b1 & 0x7F, bool(b1 & 0x80), seq, timestamp, ssrc, data[offset:end])


def build_rtp(pt: int, seq: int, timestamp: int, ssrc: int, payload: bytes, *, marker: bool = False) -> bytes:
    return (
        struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt, seq & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc) + payload
    )


class _RtpProtocol(asyncio.DatagramProtocol):
    def __init__(self, call: SipCall) -> None:
        self.call = call

    def datagram_received(self, data: bytes, addr: Address) -> None:
        try:
            self.call._on_rtp(data, addr)
        except Exception:  # never let one bad packet kill the socket
            log.exception("call %s: bad RTP packet", self.call.call_id)

    def error_received(self, exc: Exception) -> None:  # ICMP port unreachable on loopback: not fatal
        log.debug("call %s: RTP socket error %s", self.call.call_id, exc)


# --- one call -----------------------------------------------------------------------------------------------------


class SipCall:
    """One SIP dialog and its RTP stream, seen by the session as a `CallIO`."""

    def __init__(self, server: Server, invite: SipMessage, addr: Address, local_ip: str, rtp_sock: socket.socket):
        self.server = server
        self.invite = invite
        self.sip_addr = addr
        self.local_ip = local_ip
        self.call_id = invite.call_id
        user = uri_user(header_uri(invite.get("from")))
        self.caller = None if not user or user.lower() in ("anonymous", "unknown", "restricted") else user
        self.format: AudioFormat = ULAW8K
        self.codec: Codec | None = None
        self.state = "trying"  # trying → answered → confirmed → ended, or trying → cancelled
        self.local_tag = secrets.token_hex(6)
        self.remote_tag = header_tag(invite.get("from"))
        self.remote_target = header_uri(invite.get("contact")) or header_uri(invite.get("from"))
        self.route_set = invite.get_all("record-route")
        self.invite_cseq = invite.cseq[0]
        self.local_cseq = 0
        self.last_invite_response = b""
        self.sdp_answer = b""
        self.session_id = int(time.time())
        self.rtp_sock = rtp_sock
        self.rtp_port: int = rtp_sock.getsockname()[1]
        self.rtp: asyncio.DatagramTransport | None = None
        self.remote_rtp: Address | None = None
        self.acked = asyncio.Event()
        self._events: asyncio.Queue[CallEvent] = asyncio.Queue()
        self._ended = False
        self._drained = False  # the Hangup has been handed out: events() ends at once
        self._last_rx = 0.0
        self._last_dtmf: int | None = None
        self._seq = secrets.randbelow(0x10000)
        self._ts = secrets.randbelow(0x100000000)
        self._ssrc = secrets.randbelow(0x100000000)
        self._marker = True
        self._rest = b""
        self._last_tx = 0.0
        self._tasks: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"<SipCall {self.call_id} {self.state}>"

    # CallIO ---------------------------------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[CallEvent]:
        while not self._drained:
            event = await self._events.get()
            self._drained = isinstance(event, Hangup)
            yield event

    async def play(self, pcm: bytes) -> None:
        """Cut the chunk into 20 ms RTP packets and send them now (the session paces chunks in real time)."""
        if self._ended or self.rtp is None or self.codec is None:
            return
        target = self.remote_rtp
        if target is None:
            return
        now = time.monotonic()
        if self._last_tx and now - self._last_tx > 0.1:  # a pause: keep the timestamp on the wall clock
            gap = int((now - self._last_tx) * 8000) - len(self._rest)
            self._ts += max(0, gap - gap % FRAME_BYTES)
            self._marker = True
        self._last_tx = now
        data = self._rest + pcm
        cut = len(data) - len(data) % FRAME_BYTES
        self._rest = data[cut:]
        for i in range(0, cut, FRAME_BYTES):
            self._send_rtp(data[i : i + FRAME_BYTES], target)

    async def clear(self) -> None:
        """Drop the partial frame still held (whole frames are sent as soon as `play` gets them)."""
        self._rest = b""
        self._marker = True

    async def hangup(self) -> None:
        """Send BYE (after the ACK, as RFC 3261 wants) and end the events; waits for the BYE's answer (≤ 8 s)."""
        if self._ended:
            return
        if self.state == "answered":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.acked.wait(), 4)
        if self._ended:
            return
        answered = self.state != "trying"
        self._finish(Hangup("bot"))
        if not answered:  # not answered yet: decline instead
            self.server._send(
                build_response(self.invite, 480, "Temporarily Unavailable", to_tag=self.local_tag), self.sip_addr
            )
        else:
            await self._request("BYE")
        self._close_media()

    async def transfer(self, target: str) -> bool:
        """Blind transfer by REFER; True when the other side accepts it (2xx). NOTIFYs are only acknowledged."""
        if self._ended or self.state != "confirmed":
            return False
        if target.lower().startswith(("sip:", "sips:", "tel:")):
            refer_to = target
        else:
            refer_to = f"sip:{urllib.parse.quote(target, safe='+*#')}@{self.sip_addr[0]}"
        response = await self._request("REFER", [("Refer-To", f"<{refer_to}>"), ("Referred-By", self._local_uri())])
        return response is not None and 200 <= response.status < 300

    # signalling -----------------------------------------------------------------------------------------------

    def _local_uri(self) -> str:
        return f"<sip:bot@{self.local_ip}:{self.server.port}>"

    def _contact(self) -> list[tuple[str, str]]:
        return [("Contact", self._local_uri()), ("Allow", ALLOW)]

    async def _request(self, method: str, extra: list[tuple[str, str]] | None = None) -> SipMessage | None:
        """Send an in-dialog request, retransmitting (timer E) until a final response; None on timeout."""
        self.local_cseq += 1
        cseq = self.local_cseq
        branch = "z9hG4bK" + secrets.token_hex(8)
        lines = [
            f"{method} {self.remote_target} SIP/2.0",
            f"Via: SIP/2.0/UDP {self.local_ip}:{self.server.port};branch={branch};rport",
            "Max-Forwards: 70",
            *[f"Route: {route}" for route in self.route_set],
            f"From: {_with_tag(self.invite.get('to') or '', self.local_tag)}",
            f"To: {self.invite.get('from') or ''}",
            f"Call-ID: {self.call_id}",
            f"CSeq: {cseq} {method}",
            f"Contact: {self._local_uri()}",
            *[f"{name}: {value}" for name, value in extra or []],
            "User-Agent: guichet-sip",
            "Content-Length: 0",
        ]
        data = ("\r\n".join(lines) + "\r\n\r\n").encode()
        future: asyncio.Future[SipMessage] = asyncio.get_running_loop().create_future()
        key = (self.call_id, cseq, method)
        self.server._pending[key] = future
        try:
            interval, deadline = T1, time.monotonic() + TIMER_64T1 / 4  # 8 s: enough for a UDP peer that is there
            while time.monotonic() < deadline:
                self.server._send(data, self.sip_addr)
                try:
                    return await asyncio.wait_for(asyncio.shield(future), interval)
                except TimeoutError:
                    interval = min(interval * 2, T2)
            log.warning("call %s: no answer to %s", self.call_id, method)
            return None
        finally:
            self.server._pending.pop(key, None)

    # media ----------------------------------------------------------------------------------------------------

    def _send_rtp(self, payload: bytes, target: Address) -> None:
        assert self.rtp is not None and self.codec is not None
        self.rtp.sendto(build_rtp(self.codec.pt, self._seq, self._ts, self._ssrc, payload, marker=self._marker), target)
        self._marker = False
        self._seq = (self._seq + 1) & 0xFFFF
        self._ts = (self._ts + len(payload)) & 0xFFFFFFFF

    def _on_rtp(self, data: bytes, addr: Address) -> None:
        packet = parse_rtp(data)
        if packet is None or self._ended or self.codec is None:
            return
        self.remote_rtp = addr  # symmetric RTP
        self._last_rx = time.monotonic()
        if packet.payload_type == self.codec.pt:
            if packet.payload:
                self._events.put_nowait(AudioIn(packet.payload))
        elif packet.payload_type == self.codec.dtmf_pt and len(packet.payload) >= 4:
            # RFC 4733: every packet of one key press carries the same timestamp (end packets are sent 3 times).
            if packet.timestamp != self._last_dtmf and packet.payload[0] < len(DTMF_KEYS):
                self._last_dtmf = packet.timestamp
                self._events.put_nowait(Dtmf(DTMF_KEYS[packet.payload[0]]))

    def _on_info(self, msg: SipMessage) -> None:
        if "dtmf-relay" in (msg.get("content-type") or "").lower():
            match = re.search(rb"signal\s*=\s*([0-9*#A-Da-d])", msg.body, re.IGNORECASE)
            if match and not self._ended:
                self._events.put_nowait(Dtmf(match.group(1).decode().upper()))

    async def _watch_rtp(self, limit: float) -> None:
        self._last_rx = max(self._last_rx, time.monotonic())
        while not self._ended:
            await asyncio.sleep(min(1.0, limit / 4))
            if not self._ended and time.monotonic() - self._last_rx > limit:
                log.info("call %s: no RTP for %.1f s", self.call_id, limit)
                self._finish(Hangup("rtp timeout"))
                await self._request("BYE")
                self._close_media()

    # lifecycle ------------------------------------------------------------------------------------------------

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _finish(self, event: Hangup) -> None:
        if not self._ended:
            self._ended = True
            self.state = "ended" if self.state != "cancelled" else self.state
            self._events.put_nowait(event)
            self.server._forget_later(self.call_id)

    def _close_media(self) -> None:
        if self.rtp is not None:
            self.rtp.close()
        else:
            self.rtp_sock.close()


# --- the server ---------------------------------------------------------------------------------------------------


class Server(asyncio.DatagramProtocol):
    """The SIP endpoint: one UDP socket for signalling, one per call for RTP."""

    def __init__(self, handler: CallHandler, host: str, *, answer_delay: float, rtp_timeout: float) -> None:
        self.handler = handler
        self.host = host
        self.port = 0
        self.answer_delay = answer_delay
        self.rtp_timeout = rtp_timeout
        self.calls: dict[str, SipCall] = {}
        self._pending: dict[tuple[str, int, str], asyncio.Future[SipMessage]] = {}
        self._transport: asyncio.DatagramTransport | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._timers: dict[str, asyncio.TimerHandle] = {}

    # asyncio ---------------------------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)
        self.port = transport.get_extra_info("sockname")[1]

    def datagram_received(self, data: bytes, addr: Address) -> None:
        if not data.strip():  # CRLF keep-alives
            return
        try:
            msg = parse_message(data)
        except SipParseError as exc:
            log.debug("dropped datagram from %s: %s", addr, exc)
            return
        try:
            if msg.is_request:
                self._on_request(msg, addr)
            else:
                self._on_response(msg)
        except Exception:  # one bad message must not stop the server
            log.exception("error handling SIP message from %s", addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("SIP socket error %s", exc)

    async def close(self) -> None:
        """Hang up every call (BYE), stop the handlers and close the sockets."""
        calls = [call for call in self.calls.values() if not call._ended]
        await asyncio.gather(*(call.hangup() for call in calls), return_exceptions=True)
        for call in self.calls.values():
            call._finish(Hangup("server closed"))
            call._close_media()
            for task in list(call._tasks):
                task.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, *(t for c in self.calls.values() for t in c._tasks), return_exceptions=True)
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self.calls.clear()
        if self._transport is not None:
            self._transport.close()

    # plumbing --------------------------------------------------------------------------------------------------

    def _send(self, data: bytes, addr: Address) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.sendto(data, addr)

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _forget_later(self, call_id: str) -> None:
        """Keep an ended dialog for 32 s so retransmitted BYEs and ACKs still match it."""

        def forget() -> None:
            self.calls.pop(call_id, None)
            self._timers.pop(call_id, None)

        self._timers[call_id] = asyncio.get_running_loop().call_later(TIMER_64T1, forget)

    def _local_ip(self, peer: str) -> str:
        if self.host not in ("", "0.0.0.0"):
            return socket.gethostbyname(self.host)  # SDP and Contact want an address, not a name
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:  # the address the kernel routes from
            try:
                probe.connect((peer, 9))
                return str(probe.getsockname()[0])
            except OSError:
                return "127.0.0.1"

    def _reply(
        self,
        msg: SipMessage,
        addr: Address,
        status: int,
        reason: str,
        *,
        to_tag: str | None = None,
        extra: list[tuple[str, str]] | None = None,
        body: bytes = b"",
    ) -> bytes:
        data = build_response(msg, status, reason, to_tag=to_tag, extra=extra, body=body)
        self._send(data, addr)
        return data

    def _on_response(self, msg: SipMessage) -> None:
        number, method = msg.cseq
        future = self._pending.get((msg.call_id, number, method))
        if future is not None and msg.status >= 200 and not future.done():
            future.set_result(msg)

    # requests --------------------------------------------------------------------------------------------------

    def _on_request(self, msg: SipMessage, addr: Address) -> None:
        if msg.errors:
            log.info("bad request from %s: %s", addr, "; ".join(msg.errors))
            if msg.method != "ACK" and msg.get("via"):
                self._reply(msg, addr, 400, "Bad Request")
            return
        call = self.calls.get(msg.call_id)
        method = msg.method
        if method == "INVITE":
            self._on_invite(msg, addr, call)
        elif method == "ACK":
            if call is not None:
                self._on_ack(call, msg)
        elif method == "OPTIONS":
            self._reply(
                msg,
                addr,
                200,
                "OK",
                extra=[("Allow", ALLOW), ("Accept", "application/sdp")],
                to_tag=call.local_tag if call else secrets.token_hex(6),
            )
        elif method in ("BYE", "CANCEL", "INFO", "NOTIFY") and call is None:
            self._reply(msg, addr, 481, "Call/Transaction Does Not Exist")
        elif method == "BYE" and call is not None:
            self._reply(msg, addr, 200, "OK", to_tag=call.local_tag)
            if not call._ended:
                call._finish(Hangup("caller"))
                call._close_media()
        elif method == "CANCEL" and call is not None:
            self._reply(msg, addr, 200, "OK", to_tag=call.local_tag)
            if call.state == "trying" and msg.cseq[0] == call.invite_cseq:
                call.state = "cancelled"
                call.last_invite_response = self._reply(
                    call.invite, addr, 487, "Request Terminated", to_tag=call.local_tag
                )
                call._finish(Hangup("cancelled"))
                call._close_media()
        elif method == "INFO" and call is not None:
            call._on_info(msg)
            self._reply(msg, addr, 200, "OK", to_tag=call.local_tag)
        elif method == "NOTIFY" and call is not None:
            self._reply(msg, addr, 200, "OK", to_tag=call.local_tag)
        else:
            self._reply(msg, addr, 501, "Not Implemented", extra=[("Allow", ALLOW)])

    def _on_invite(self, msg: SipMessage, addr: Address, call: SipCall | None) -> None:
        if call is not None:
            if msg.cseq[0] == call.invite_cseq and not header_tag(msg.get("to")):  # retransmission
                if call.last_invite_response:
                    self._send(call.last_invite_response, addr)
                return
            if call._ended or call.state == "cancelled":
                self._reply(msg, addr, 481, "Call/Transaction Does Not Exist")
                return
            offer = parse_sdp(msg.body) if msg.body else None  # re-INVITE: follow a moved stream, same answer
            if offer is not None and offer.port:
                call.remote_rtp = (offer.host, offer.port) if offer.host not in ("", "0.0.0.0") else call.remote_rtp
            self._reply(msg, addr, 200, "OK", to_tag=call.local_tag, extra=call._contact(), body=call.sdp_answer)
            return
        if header_tag(msg.get("to")):
            self._reply(msg, addr, 481, "Call/Transaction Does Not Exist")
            return
        offer = parse_sdp(msg.body) if msg.body.strip() else None
        codec = choose_codec(offer) if offer is not None else None
        if msg.body.strip() and codec is None:
            self._reply(msg, addr, 488, "Not Acceptable Here", extra=[("Warning", '304 guichet "PCMU/PCMA only"')])
            return
        self._send(build_response(msg, 100, "Trying"), addr)
        local_ip = self._local_ip(addr[0])
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((local_ip, 0))
        except OSError:
            sock.close()
            self._reply(msg, addr, 503, "Service Unavailable")
            return
        sock.setblocking(False)
        call = SipCall(self, msg, addr, local_ip, sock)
        call.last_invite_response = build_response(msg, 100, "Trying")
        if offer is not None and codec is not None:
            call.codec, call.format = codec, codec.format
            call.remote_rtp = (offer.host, offer.port) if offer.host and offer.port else None
            others = [m for i, m in enumerate(offer.all_media) if i != _audio_index(offer)]
            call.sdp_answer = build_sdp(local_ip, call.rtp_port, [codec], call.session_id, others)
        else:  # delayed offer: we offer, the ACK answers
            offers = [Codec(0, ULAW8K, 101), Codec(8, ALAW8K, None)]
            call.sdp_answer = build_sdp(local_ip, call.rtp_port, offers, call.session_id)
        self.calls[call.call_id] = call
        log.info("call %s from %s: incoming", call.call_id, _mask(call.caller))
        self._spawn(self._answer(call, addr))

    async def _answer(self, call: SipCall, addr: Address) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: _RtpProtocol(call), sock=call.rtp_sock)
        call.rtp = transport
        if self.answer_delay:
            await asyncio.sleep(self.answer_delay)
        if call.state != "trying":
            if call.state == "cancelled":
                transport.close()
            return
        call.state = "answered"
        ok = build_response(call.invite, 200, "OK", to_tag=call.local_tag, extra=call._contact(), body=call.sdp_answer)
        call.last_invite_response = ok
        interval, start = T1, time.monotonic()
        while not call.acked.is_set() and not call._ended:  # timer G until the ACK, timer H gives up
            self._send(ok, addr)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(call.acked.wait(), interval)
            interval = min(interval * 2, T2)
            if time.monotonic() - start > TIMER_64T1 and not call.acked.is_set():
                log.warning("call %s: no ACK, hanging up", call.call_id)
                call._finish(Hangup("no ack"))
                await call._request("BYE")
                call._close_media()

    def _on_ack(self, call: SipCall, msg: SipMessage) -> None:
        if call._ended:  # hung up (or the server closed) before the ACK: just stop the 200 retransmissions
            call.acked.set()
            return
        if call.state != "answered" or call.acked.is_set():
            return
        if call.codec is None:  # delayed offer: the ACK carries the answer
            answer = parse_sdp(msg.body) if msg.body else None
            codec = choose_codec(answer) if answer else None
            if answer is None or codec is None:
                call.acked.set()
                call._finish(Hangup("no codec"))
                call._spawn(self._bye_and_close(call))
                return
            call.codec, call.format = codec, codec.format
            call.remote_rtp = (answer.host, answer.port)
        call.state = "confirmed"
        call.acked.set()
        if self.rtp_timeout > 0:
            call._spawn(call._watch_rtp(self.rtp_timeout))
        self._spawn(self._run_handler(call))

    async def _bye_and_close(self, call: SipCall) -> None:
        await call._request("BYE")
        call._close_media()

    async def _run_handler(self, call: SipCall) -> None:
        await run_handler(self.handler, call, log)
        await call.hangup()


def _audio_index(offer: SdpMedia) -> int:
    return next(i for i, m in enumerate(offer.all_media) if m.split()[0] == "audio")


def _mask(number: str | None) -> str:
    return "anonymous" if not number else f"{number[:-4]}****" if len(number) > 4 else "****"


async def serve(
    host: str, port: int, handler: CallHandler, *, answer_delay: float = 0.0, rtp_timeout: float = 10.0
) -> Server:
    """Listen for SIP on UDP ``host:port`` (0 picks a free port: read ``server.port``); each answered call runs
    ``handler(call)``, and the call is hung up (BYE) when the handler returns.

    ``answer_delay`` rings that long before answering (CANCEL can only win then); ``rtp_timeout`` ends a call whose
    RTP stops for that many seconds (0 disables it).
    """
    loop = asyncio.get_running_loop()
    server = Server(handler, host, answer_delay=answer_delay, rtp_timeout=rtp_timeout)
    await loop.create_datagram_endpoint(lambda: server, local_addr=(host, port), family=socket.AF_INET)
    log.info("SIP endpoint on udp %s:%d", host, server.port)
    return server

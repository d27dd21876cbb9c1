"""The direct SIP/RTP gateway over loopback: a hand-written UDP peer for the protocol, baresip for a real call."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import signal
import struct
import subprocess
import wave
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import numpy as np
import pytest

from voice.audio import ALAW8K, SLIN8K, ULAW8K, convert, read_wav, rms, write_wav
from voice.call import AudioIn, CallEvent, CallIO, Dtmf, Hangup
from voice.gateways.sip import (
    Server,
    SipMessage,
    build_rtp,
    choose_codec,
    header_tag,
    parse_message,
    parse_rtp,
    parse_sdp,
    serve,
)

TONE = convert(
    struct.pack("<160h", *[8000 if (i // 10) % 2 else -8000 for i in range(160)]), SLIN8K, ULAW8K
)  # 20 ms of a loud 400 Hz square wave in µ-law


class Peer(asyncio.DatagramProtocol):
    """A UDP socket on loopback that queues what it receives."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[bytes, tuple[str, int]]] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.queue.put_nowait((data, addr))

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    def send(self, data: bytes, port: int) -> None:
        assert self.transport is not None
        self.transport.sendto(data, ("127.0.0.1", port))

    async def recv(self, wait_s: float = 3.0) -> bytes:
        data, _ = await asyncio.wait_for(self.queue.get(), wait_s)
        return data

    async def sip(self, match: Callable[[SipMessage], bool] = lambda m: True, wait_s: float = 3.0) -> SipMessage:
        """The next SIP message that ``match`` accepts (others are dropped)."""
        async with asyncio.timeout(wait_s):
            while True:
                msg = parse_message(await self.recv(wait_s))
                if match(msg):
                    return msg

    def close(self) -> None:
        assert self.transport is not None
        self.transport.close()


async def open_peer() -> Peer:
    loop = asyncio.get_running_loop()
    _, peer = await loop.create_datagram_endpoint(Peer, local_addr=("127.0.0.1", 0))
    return peer


class Phone:
    """A hand-written SIP UAC: one SIP socket and one RTP socket."""

    def __init__(self, sip: Peer, rtp: Peer, server_port: int, *, user: str = "0612345678") -> None:
        self.sip, self.rtp, self.server_port, self.user = sip, rtp, server_port, user
        self.call_id = secrets.token_hex(8) + "@127.0.0.1"
        self.tag = secrets.token_hex(4)
        self.to_tag: str | None = None
        self.seq, self.ts, self.ssrc = 1000, 5000, 0x1234

    def request(
        self, method: str, cseq: int, *, body: str = "", to_tag: str | None = None, compact: bool = False
    ) -> bytes:
        to = f"<sip:bot@127.0.0.1:{self.server_port}>" + (f";tag={to_tag}" if to_tag else "")
        names = (
            ("v", "f", "t", "i", "m", "l") if compact else ("Via", "From", "To", "Call-ID", "Contact", "Content-Length")
        )
        lines = [
            f"{method} sip:bot@127.0.0.1:{self.server_port} SIP/2.0",
            f"{names[0]}: SIP/2.0/UDP 127.0.0.1:{self.sip.port};branch=z9hG4bK{secrets.token_hex(4)};rport",
            "Max-Forwards: 70",
            f'{names[1]}: "Client" <sip:{self.user}@127.0.0.1>;tag={self.tag}',
            f"{names[2]}: {to}",
            f"{names[3]}: {self.call_id}",
            f"CSeq: {cseq} {method}",
            f"{names[4]}: <sip:{self.user}@127.0.0.1:{self.sip.port}>",
        ]
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append(f"{names[5]}: {len(body.encode())}")
        return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()

    def offer(self, pts: str = "0 8 101") -> str:
        return (
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            f"m=audio {self.rtp.port} RTP/AVP {pts}\r\n"
            "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n"
        )

    async def call(self, pts: str = "0 8 101", *, compact: bool = False) -> tuple[SipMessage, int]:
        """INVITE, expect 100 then 200 with SDP, send ACK; returns the 200 and the bot's RTP port."""
        self.invite = self.request("INVITE", 1, body=self.offer(pts), compact=compact)
        self.sip.send(self.invite, self.server_port)
        trying = await self.sip.sip()
        assert trying.status == 100 and trying.call_id == self.call_id
        ok = await self.sip.sip(lambda m: m.status >= 200)
        assert ok.status == 200 and ok.cseq == (1, "INVITE")
        self.to_tag = header_tag(ok.get("to"))
        assert self.to_tag and header_tag(ok.get("from")) == self.tag
        assert ok.get("contact") and ok.get("content-type") == "application/sdp"
        answer = parse_sdp(ok.body)
        assert answer is not None and answer.host == "127.0.0.1" and answer.port > 0
        self.sip.send(self.request("ACK", 1, to_tag=self.to_tag), self.server_port)
        return ok, answer.port

    def send_audio(self, port: int, payload: bytes, pt: int = 0) -> None:
        self.rtp.send(build_rtp(pt, self.seq, self.ts, self.ssrc, payload), port)
        self.seq += 1
        self.ts += len(payload)

    def send_dtmf(self, port: int, event: int, *, end: bool, duration: int) -> None:
        payload = struct.pack("!BBH", event, (0x80 if end else 0) | 10, duration)
        self.rtp.send(build_rtp(101, self.seq, self.ts, self.ssrc, payload), port)
        self.seq += 1

    def bye(self, cseq: int = 2) -> None:
        self.sip.send(self.request("BYE", cseq, to_tag=self.to_tag), self.server_port)


class Bot:
    """The test handler: records events, answers the first caller audio with ``reply`` frames."""

    def __init__(self, reply: list[bytes] | None = None, *, hangup_after: float | None = None) -> None:
        self.reply = reply or []
        self.hangup_after = hangup_after
        self.calls: list[CallIO] = []
        self.events: dict[str, list[CallEvent]] = {}
        self.done: dict[str, asyncio.Event] = {}
        self.transfers: list[bool] = []
        self.transfer_to: str | None = None

    async def __call__(self, call: CallIO) -> None:
        self.calls.append(call)
        events = self.events.setdefault(call.call_id, [])
        done = self.done.setdefault(call.call_id, asyncio.Event())
        try:
            if self.transfer_to:
                self.transfers.append(await call.transfer(self.transfer_to))
                return
            if self.hangup_after is not None:
                await asyncio.sleep(self.hangup_after)
                return
            async for event in call.events():
                events.append(event)
                if isinstance(event, AudioIn) and len([e for e in events if isinstance(e, AudioIn)]) == 1:
                    for frame in self.reply:
                        await call.play(frame)
        finally:
            done.set()

    def audio(self, call_id: str) -> bytes:
        return b"".join(e.pcm for e in self.events.get(call_id, []) if isinstance(e, AudioIn))

    async def wait(self, call_id: str, wait_s: float = 3.0) -> None:
        async with asyncio.timeout(wait_s):
            await self.done.setdefault(call_id, asyncio.Event()).wait()


@pytest.fixture
async def peers() -> AsyncIterator[list[Peer]]:
    opened = [await open_peer() for _ in range(4)]
    yield opened
    for peer in opened:
        peer.close()


async def start(bot: Bot, **kwargs: float) -> Server:
    return await serve("127.0.0.1", 0, bot, **kwargs)


# --- parsing ------------------------------------------------------------------------------------------------------


def test_parse_compact_and_folded_headers() -> None:
    msg = parse_message(
        b"INVITE sip:bot@h SIP/2.0\r\nv: SIP/2.0/UDP a;branch=z9hG4bK1\r\nf: <sip:33123@a>;tag=x\r\nt: <sip:bot@h>\r\n"
        b"i: abc\r\nCSeq: 7 INVITE\r\nSubject: one\r\n two\r\nl: 4\r\n\r\nbodyEXTRA"
    )
    assert (msg.method, msg.call_id, msg.cseq, msg.body, msg.errors) == ("INVITE", "abc", (7, "INVITE"), b"body", [])
    assert msg.get("subject") == "one two" and header_tag(msg.get("from")) == "x" and header_tag(msg.get("to")) is None


def test_choose_codec_follows_the_offer() -> None:
    sdp = b"v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 8 0 96\r\na=rtpmap:96 telephone-event/8000\r\n"
    offer = parse_sdp(sdp)
    assert offer is not None and (offer.host, offer.port) == ("10.0.0.1", 4000)
    codec = choose_codec(offer)
    assert codec is not None and (codec.pt, codec.format, codec.dtmf_pt) == (8, ALAW8K, 96)
    assert choose_codec(parse_sdp(b"m=audio 4000 RTP/AVP 9 18\r\n")) is None  # type: ignore[arg-type]


# --- protocol over loopback ---------------------------------------------------------------------------------------


async def test_call_audio_dtmf_and_caller_bye(peers: list[Peer]) -> None:
    frames = [TONE] * 5
    bot = Bot(reply=[b"".join(frames[:2]), b"".join(frames[2:])])  # 40 ms then 60 ms chunks → 5 packets
    server = await start(bot)
    phone = Phone(peers[0], peers[1], server.port)
    try:
        ok, rtp_port = await phone.call()
        assert "m=audio" in ok.body.decode() and " RTP/AVP 0 101" in ok.body.decode()
        for _ in range(10):
            phone.send_audio(rtp_port, TONE)
        packets = [parse_rtp(await phone.rtp.recv()) for _ in range(5)]
        assert all(p is not None and p.payload_type == 0 and p.payload == TONE for p in packets)
        seqs = [p.seq for p in packets if p]
        stamps = [p.timestamp for p in packets if p]
        assert seqs == [(seqs[0] + i) & 0xFFFF for i in range(5)]
        assert stamps == [(stamps[0] + 160 * i) & 0xFFFFFFFF for i in range(5)]
        assert packets[0] and packets[0].marker and len({p.ssrc for p in packets if p}) == 1
        for end, duration in [(False, 160), (False, 320), (True, 480), (True, 480), (True, 480)]:
            phone.send_dtmf(rtp_port, 5, end=end, duration=duration)  # one key press, end packet sent 3 times
        phone.ts += 480
        phone.send_dtmf(rtp_port, 11, end=True, duration=160)  # "#"
        await asyncio.sleep(0.2)
        phone.bye()
        bye_ok = await phone.sip.sip(lambda m: m.cseq[1] == "BYE")
        assert bye_ok.status == 200
        await bot.wait(phone.call_id)
        events = bot.events[phone.call_id]
        assert len(bot.audio(phone.call_id)) == 1600
        assert [e for e in events if isinstance(e, Dtmf)] == [Dtmf("5"), Dtmf("#")]
        assert events[-1] == Hangup("caller")
        assert bot.calls[0].caller == "0612345678" and bot.calls[0].format == ULAW8K
    finally:
        await server.close()


async def test_pcma_compact_headers_and_bot_hangs_up(peers: list[Peer]) -> None:
    bot = Bot(hangup_after=0.2)
    server = await start(bot)
    phone = Phone(peers[0], peers[1], server.port)
    try:
        ok, _ = await phone.call("8 0", compact=True)
        assert " RTP/AVP 8\r\n" in ok.body.decode()  # A-law, no telephone-event (not offered)
        bye = await phone.sip.sip(lambda m: m.method == "BYE")
        assert bye.call_id == phone.call_id and header_tag(bye.get("from")) == phone.to_tag
        assert header_tag(bye.get("to")) == phone.tag and bye.cseq[1] == "BYE"
        assert bye.uri == f"sip:{phone.user}@127.0.0.1:{phone.sip.port}"
        phone.sip.send(
            f"SIP/2.0 200 OK\r\nVia: {bye.get('via')}\r\nFrom: {bye.get('from')}\r\nTo: {bye.get('to')}\r\n"
            f"Call-ID: {bye.call_id}\r\nCSeq: {bye.get('cseq')}\r\nContent-Length: 0\r\n\r\n".encode(),
            server.port,
        )
        await bot.wait(phone.call_id)
        assert bot.calls[0].format == ALAW8K
    finally:
        await server.close()


async def test_invite_retransmission_reinvite_and_options(peers: list[Peer]) -> None:
    bot = Bot()
    server = await start(bot)
    phone = Phone(peers[0], peers[1], server.port)
    try:
        ok, _ = await phone.call()
        phone.sip.send(phone.invite, server.port)  # a retransmitted INVITE gets the same 200 again
        again = await phone.sip.sip()
        assert again.status == 200 and header_tag(again.get("to")) == phone.to_tag and again.body == ok.body
        phone.sip.send(phone.request("INVITE", 2, body=phone.offer(), to_tag=phone.to_tag), server.port)
        reinvite = await phone.sip.sip(lambda m: m.cseq == (2, "INVITE"))
        assert reinvite.status == 200 and reinvite.body == ok.body
        phone.sip.send(phone.request("OPTIONS", 3, to_tag=phone.to_tag), server.port)
        options = await phone.sip.sip(lambda m: m.cseq[1] == "OPTIONS")
        assert options.status == 200 and "INVITE" in (options.get("allow") or "")
        phone.sip.send(phone.request("SUBSCRIBE", 4, to_tag=phone.to_tag), server.port)
        assert (await phone.sip.sip(lambda m: m.cseq[1] == "SUBSCRIBE")).status == 501
        phone.bye(5)
        assert (await phone.sip.sip(lambda m: m.cseq[1] == "BYE")).status == 200
        await bot.wait(phone.call_id)
        assert len(bot.calls) == 1
    finally:
        await server.close()


async def test_cancel_before_answer(peers: list[Peer]) -> None:
    bot = Bot()
    server = await start(bot, answer_delay=1.0)
    phone = Phone(peers[0], peers[1], server.port)
    try:
        phone.sip.send(phone.request("INVITE", 1, body=phone.offer()), server.port)
        assert (await phone.sip.sip()).status == 100
        phone.sip.send(phone.request("CANCEL", 1), server.port)
        replies = [await phone.sip.sip(), await phone.sip.sip()]
        by_method = {m.cseq[1]: m.status for m in replies}
        assert by_method == {"CANCEL": 200, "INVITE": 487}
        phone.sip.send(phone.request("ACK", 1, to_tag=header_tag(replies[1].get("to"))), server.port)
        await asyncio.sleep(1.2)  # past the answer delay: no 200, no handler
        assert phone.sip.queue.empty() and bot.calls == []
    finally:
        await server.close()


async def test_garbage_does_not_stop_the_server(peers: list[Peer]) -> None:
    bot = Bot()
    server = await start(bot)
    sip = peers[0]
    try:
        for junk in [b"\x00\xff\x10", b"hello", b"\r\n\r\n", "é".encode("latin-1") * 20, b"SIP/2.0 abc\r\n\r\n"]:
            sip.send(junk, server.port)
        sip.send(b"INVITE sip:bot@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKx\r\n"
                 b"CSeq: many INVITE\r\nContent-Length: 999\r\n\r\n", server.port)  # fmt: skip
        bad = await sip.sip()
        assert bad.status == 400
        stray_bye = (
            b"BYE sip:bot@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKy\r\nFrom: <sip:a@b>;tag=1"
            b"\r\nTo: <sip:bot@b>;tag=2\r\nCall-ID: nope\r\nCSeq: 1 BYE\r\n\r\n"
        )
        sip.send(stray_bye, server.port)
        assert (await sip.sip()).status == 481
        phone = Phone(peers[0], peers[1], server.port)
        await phone.call()  # the server still answers calls
        phone.bye()
        assert (await phone.sip.sip(lambda m: m.cseq[1] == "BYE")).status == 200
    finally:
        await server.close()


async def test_two_concurrent_calls(peers: list[Peer]) -> None:
    bot = Bot(reply=[TONE])
    server = await start(bot)
    one = Phone(peers[0], peers[1], server.port, user="0100000001")
    two = Phone(peers[2], peers[3], server.port, user="0100000002")
    try:
        (_, port1), (_, port2) = await asyncio.gather(one.call(), two.call())
        assert port1 != port2
        for _ in range(3):
            one.send_audio(port1, TONE)
        for _ in range(7):
            two.send_audio(port2, b"\xff" * 160)
        assert parse_rtp(await one.rtp.recv()) is not None and parse_rtp(await two.rtp.recv()) is not None
        one.bye()
        await bot.wait(one.call_id)
        await asyncio.sleep(0.1)
        two.send_audio(port2, b"\xff" * 160)  # the other call goes on
        await asyncio.sleep(0.1)
        two.bye()
        await bot.wait(two.call_id)
        assert len(bot.audio(one.call_id)) == 480 and len(bot.audio(two.call_id)) == 1280
        assert {c.caller for c in bot.calls} == {"0100000001", "0100000002"}
    finally:
        await server.close()


async def test_rtp_timeout_hangs_up(peers: list[Peer]) -> None:
    bot = Bot()
    server = await start(bot, rtp_timeout=0.5)
    phone = Phone(peers[0], peers[1], server.port)
    try:
        await phone.call()
        bye = await phone.sip.sip(lambda m: m.method == "BYE", wait_s=4)
        assert bye.call_id == phone.call_id
        await bot.wait(phone.call_id)
        assert bot.events[phone.call_id] == [Hangup("rtp timeout")]
    finally:
        await server.close()


async def test_transfer_sends_refer(peers: list[Peer]) -> None:
    bot = Bot()
    bot.transfer_to = "3949"
    server = await start(bot)
    phone = Phone(peers[0], peers[1], server.port)
    try:
        await phone.call()
        refer = await phone.sip.sip(lambda m: m.method == "REFER")
        assert refer.get("refer-to") == "<sip:3949@127.0.0.1>"
        phone.sip.send(
            f"SIP/2.0 202 Accepted\r\nVia: {refer.get('via')}\r\nFrom: {refer.get('from')}\r\nTo: {refer.get('to')}\r\n"
            f"Call-ID: {refer.call_id}\r\nCSeq: {refer.get('cseq')}\r\nContent-Length: 0\r\n\r\n".encode(),
            server.port,
        )
        assert (await phone.sip.sip(lambda m: m.method == "BYE")).call_id == phone.call_id  # handler returned
        await bot.wait(phone.call_id)
        assert bot.transfers == [True]
    finally:
        await server.close()


async def test_delayed_offer_info_dtmf_and_clear(peers: list[Peer]) -> None:
    seen: list[CallEvent] = []
    after: list[CallEvent] = []
    ended = asyncio.Event()

    async def handler(call: CallIO) -> None:
        await call.play(b"\x00" * 100)  # a partial frame stays buffered...
        await call.clear()  # ...and barge-in drops it
        await call.play(TONE)
        async for event in call.events():
            seen.append(event)
        after.extend([e async for e in call.events()])  # over: a second loop ends at once
        ended.set()

    server = await serve("127.0.0.1", 0, handler)
    phone = Phone(peers[0], peers[1], server.port)
    try:
        phone.sip.send(phone.request("INVITE", 1), server.port)  # no SDP: we offer, the ACK answers
        ok = await phone.sip.sip(lambda m: m.status == 200)
        offer = parse_sdp(ok.body)
        assert offer is not None and offer.payload_types == [0, 8, 101]
        phone.to_tag = header_tag(ok.get("to"))
        answer = phone.offer("8")
        ack = phone.request("ACK", 1, body=answer, to_tag=phone.to_tag)
        phone.sip.send(ack, server.port)
        packet = parse_rtp(await phone.rtp.recv())
        assert packet is not None and packet.payload_type == 8 and packet.payload == TONE
        info = phone.request("INFO", 2, to_tag=phone.to_tag).replace(
            b"Content-Length: 0\r\n\r\n",
            b"Content-Type: application/dtmf-relay\r\nContent-Length: 24\r\n\r\nSignal=7\r\nDuration=160\r\n",
        )
        phone.sip.send(info, server.port)
        assert (await phone.sip.sip(lambda m: m.cseq[1] == "INFO")).status == 200
        phone.bye(3)
        await asyncio.wait_for(ended.wait(), 3)
        assert seen == [Dtmf("7"), Hangup("caller")] and after == []
    finally:
        await server.close()


async def test_no_g711_is_488_and_a_failing_handler_hangs_up(peers: list[Peer]) -> None:
    async def broken(call: CallIO) -> None:
        raise RuntimeError("boom")

    server = await serve("127.0.0.1", 0, broken)
    phone = Phone(peers[0], peers[1], server.port)
    try:
        phone.sip.send(phone.request("INVITE", 1, body=phone.offer("9 101")), server.port)
        assert (await phone.sip.sip()).status == 488
        phone = Phone(peers[0], peers[1], server.port)
        await phone.call()
        bye = await phone.sip.sip(lambda m: m.method == "BYE")
        assert bye.call_id == phone.call_id
    finally:
        await server.close()


# --- a real softphone: baresip ------------------------------------------------------------------------------------

BARESIP = shutil.which("baresip")
ESPEAK = shutil.which("espeak-ng")


def espeak_wav(text: str, path: Path) -> tuple[bytes, int]:
    """French speech from espeak-ng as 8 kHz mono 16-bit at ``path``; returns the samples and their byte count."""
    raw = path.with_suffix(".raw.wav")
    subprocess.run([ESPEAK or "espeak-ng", "-v", "fr", "-w", str(raw), text], check=True, timeout=30)
    data, fmt = read_wav(raw)
    pcm = convert(data, fmt, SLIN8K)
    write_wav(path, pcm, SLIN8K)
    return pcm, len(pcm)


def similarity(heard: bytes, sent: bytes) -> float:
    """Peak normalised cross-correlation of two 8 kHz slin16 signals (1.0: the same waveform at some delay)."""
    x = np.frombuffer(heard, dtype="<i2").astype(np.float64)
    y = np.frombuffer(sent, dtype="<i2").astype(np.float64)
    n = len(x) + len(y)
    corr = np.fft.irfft(np.fft.rfft(x, n) * np.conj(np.fft.rfft(y, n)), n)
    return float(np.max(np.abs(corr)) / (np.linalg.norm(x) * np.linalg.norm(y) + 1e-9))


BARESIP_CONFIG = """\
poll_method epoll
sip_listen 127.0.0.1:0
net_interface 127.0.0.1
audio_player alsa,null
audio_alert alsa,null
audio_source aufile,{wav}
audio_srate 8000
audio_channels 1
snd_path {rec}
module_path /usr/lib/baresip/modules
module g711.so
module aufile.so
module alsa.so
module sndfile.so
module_app account.so
module_app menu.so
"""


async def test_real_call_from_baresip(tmp_path: Path) -> None:
    if not BARESIP or not ESPEAK:
        pytest.fail("Debian baresip-core and espeak-ng are missing: run `make test` (it installs them)", pytrace=False)
    caller_pcm, caller_bytes = espeak_wav(
        "Bonjour, je voudrais prendre rendez-vous pour un passeport, s'il vous plaît.", tmp_path / "caller.wav"
    )
    bot_pcm, _ = espeak_wav("Bonjour, ici la mairie. Quel jour vous conviendrait ?", tmp_path / "bot.wav")
    received = bytearray()
    events: list[CallEvent] = []
    done = asyncio.Event()

    async def handler(call: CallIO) -> None:
        reply = convert(bot_pcm, SLIN8K, call.format)

        async def speak() -> None:
            for i in range(0, len(reply), 160):  # paced like the session: one 20 ms chunk every 20 ms
                await call.play(reply[i : i + 160])
                await asyncio.sleep(0.02)

        speaker = asyncio.create_task(speak())
        try:
            async for event in call.events():
                events.append(event)
                if isinstance(event, AudioIn):
                    received.extend(convert(event.pcm, call.format, SLIN8K))
        finally:
            speaker.cancel()
            done.set()

    server = await serve("127.0.0.1", 0, handler)
    config = tmp_path / "baresip"
    (config / "rec").mkdir(parents=True)
    (config / "config").write_text(BARESIP_CONFIG.format(wav=tmp_path / "caller.wav", rec=config / "rec"))
    (config / "accounts").write_text("<sip:test@127.0.0.1>;regint=0\n")
    (config / "contacts").write_text("")
    process = await asyncio.create_subprocess_exec(
        BARESIP or "baresip", "-f", str(config), "-e", f"/dial sip:bot@127.0.0.1:{server.port}", "-t", "20",
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        async with asyncio.timeout(20):
            await done.wait()  # baresip hangs up (BYE) when its WAV ends
        output = b""
        process.send_signal(signal.SIGTERM)  # -t would keep it 20 s; it stops cleanly on SIGTERM
        output, _ = await asyncio.wait_for(process.communicate(), 10)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await server.close()
    log = output.decode(errors="replace")
    assert "Call established" in log and "terminated" in log, log
    assert events and events[-1] == Hangup("caller")  # baresip's BYE
    assert process.returncode == 0, log
    # What the bot heard: baresip's speech, about as long as the WAV, clearly not silence.
    assert rms(bytes(received), SLIN8K) > 500, rms(bytes(received), SLIN8K)
    assert 0.7 * caller_bytes <= len(received) <= 1.3 * caller_bytes, (len(received), caller_bytes)
    assert rms(caller_pcm, SLIN8K) > 500 and similarity(bytes(received), caller_pcm) > 0.8  # baresip's WAV itself
    # What baresip heard: its sndfile recording of the decoded stream holds the bot's speech.
    decoded = list((config / "rec").glob("*-dec.wav"))
    assert len(decoded) == 1, list((config / "rec").iterdir())
    with wave.open(str(decoded[0])) as wav:
        heard = wav.readframes(wav.getnframes())
        assert (wav.getframerate(), wav.getnchannels()) == (8000, 1)
    assert len(heard) > 16000 and rms(heard, SLIN8K) > 500, (len(heard), rms(heard, SLIN8K))
    assert 0.7 * len(bot_pcm) <= len(heard) <= 1.3 * len(bot_pcm), (len(heard), len(bot_pcm))  # reply < call
    assert similarity(heard, bot_pcm) > 0.8  # it is the bot's reply, not any noise
    print(
        f"similarity {similarity(bytes(received), caller_pcm):.3f}/{similarity(heard, bot_pcm):.3f} "
        f"baresip call: bot heard {len(received) / 16000:.2f} s (WAV {caller_bytes / 16000:.2f} s) "
        f"rms {rms(bytes(received), SLIN8K):.0f}; baresip heard {len(heard) / 16000:.2f} s rms {rms(heard, SLIN8K):.0f}"
    )

"""Plays Asterisk on an AudioSocket connection: real-time 8 kHz caller audio and keys out, the bot's audio recorded.

For end-to-end tests and benchmarks of ``python -m voice serve --audiosocket``: the caller's speech is queued with
:meth:`FakeAsterisk.say`, keys with :meth:`FakeAsterisk.press`, and silence is sent in between, every 20 ms, as
Asterisk does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from voice.audio import SLIN8K
from voice.gateways.audiosocket import AudioFrame, Decoder, DtmfFrame, HangupFrame, encode

QUIET_MS = 1200.0  # the bot is done answering when it has been silent this long


class FakeAsterisk:
    """One AudioSocket call as Asterisk places it (the UUID frame is the caller's to send first)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.bot: list[tuple[float, bytes]] = []  # (monotonic s, 20 ms of audio)
        self.said_until: list[float] = []  # when each clip (or key) finished
        self.hung_up_by_bot = False
        self._clips: list[bytes | str] = []
        self._done = False

    def say(self, pcm: bytes) -> None:
        """Queue speech (slin16 at 8 kHz) after what is already queued."""
        self._clips.append(pcm)

    def press(self, keys: str) -> None:
        """Queue keys (DTMF), 100 ms apart, after what is already queued."""
        self._clips.append(keys)

    def quiet_since(self, after: float, quiet_ms: float = QUIET_MS) -> bool:
        last = self.bot[-1][0] if self.bot else 0.0
        return last > after and time.monotonic() - last > quiet_ms / 1000 and not self._clips

    async def send_loop(self) -> None:
        size = SLIN8K.bytes_per_frame(20)
        deadline = time.monotonic()
        current = b""
        while not self._done:
            if not current and self._clips:
                item = self._clips.pop(0)
                if isinstance(item, str):
                    for key in item:
                        self.writer.write(encode(DtmfFrame(key)))
                        await self.writer.drain()
                        await asyncio.sleep(0.1)
                    self.said_until.append(time.monotonic())
                    deadline = time.monotonic()
                    continue
                current = item
            chunk, current = current[:size], current[size:]
            if chunk and not current:
                self.said_until.append(time.monotonic())
            self.writer.write(encode(AudioFrame(chunk + SLIN8K.silence(20)[len(chunk):])))
            await self.writer.drain()
            deadline += 0.02
            await asyncio.sleep(max(0.0, deadline - time.monotonic()))

    async def receive_loop(self) -> None:
        decoder = Decoder()
        while True:
            data = await self.reader.read(4096)
            if not data:
                break
            for frame in decoder.feed(data):
                if isinstance(frame, AudioFrame):
                    self.bot.append((time.monotonic(), frame.pcm))
                elif isinstance(frame, HangupFrame):
                    self.hung_up_by_bot = True
                    self._done = True
                    return
        self._done = True

    async def hang_up(self) -> None:
        self._done = True
        self.writer.write(encode(HangupFrame()))
        await self.writer.drain()


async def until(condition: Callable[[], bool], limit_s: float, what: str) -> None:
    """Wait for ``condition``; AssertionError naming ``what`` after ``limit_s``."""
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)

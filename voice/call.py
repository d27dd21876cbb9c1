"""What a telephony gateway and a call session say to each other (wire protocols stay in voice/gateways/).

A gateway turns its protocol into a `CallIO`: an async stream of `CallEvent`s (caller audio, keypad digits,
hang-up) and four commands (play audio, clear playback for barge-in, hang up, transfer). `CallSession` (session.py)
drives one call through that interface only, so every gateway gets the same conversation.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from voice.audio import AudioFormat

if TYPE_CHECKING:
    from voice.bot_client import BotTurn


@dataclass(frozen=True)
class AudioIn:
    """Caller audio in the gateway's `format` (any length; the session frames it)."""

    pcm: bytes


@dataclass(frozen=True)
class Dtmf:
    """One keypad key: "0"–"9", "*", "#"."""

    digit: str


@dataclass(frozen=True)
class Hangup:
    """The call is over on the gateway's side (caller hung up, connection lost, protocol error)."""

    reason: str = "caller"


CallEvent = AudioIn | Dtmf | Hangup


class CallIO(Protocol):
    """One call as the session sees it."""

    format: AudioFormat  # what `AudioIn.pcm` holds and what `play` expects
    call_id: str
    caller: str | None  # E.164 or national number when the network gives it

    def events(self) -> AsyncIterator[CallEvent]:
        """Caller events until the call ends (the iterator stops after a `Hangup` or when the line drops)."""
        ...

    async def play(self, pcm: bytes) -> None:
        """Send one chunk of bot audio (in `format`); the session paces chunks in real time."""
        ...

    async def clear(self) -> None:
        """Drop any bot audio the gateway still buffers (barge-in)."""
        ...

    async def hangup(self) -> None:
        """End the call from the bot's side."""
        ...

    async def transfer(self, target: str) -> bool:
        """Hand the call to an operator number/queue; False when this gateway cannot."""
        ...


@dataclass(frozen=True)
class BotReply:
    """One reply of the dialogue server for the phone (voice variant of the response)."""

    text: str
    custom: dict[str, object] = field(default_factory=dict)


class BotClient(Protocol):
    """The dialogue server's `voice` channel (bot/channels/voice.py)."""

    async def send(self, sender_id: str, text: str, *, metadata: dict[str, object]) -> BotTurn:
        """One caller turn; the bot's replies and dialogue state. Raises `voice.bot_client.BotUnavailable`."""
        ...

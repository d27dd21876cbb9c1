"""A call the bot cannot finish for a technical reason (dialogue or action server down) becomes a callback case,
so the caller is called back instead of being lost.

The case goes to the desk like any hand-off (``clients.desk``), or, if the desk does not answer either, into
the same outbox file the action server uses, forwarded later.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Literal, Protocol

from clients.desk import DeskClient
from clients.tickets import Ticket
from guichet.clock import Clock

log = logging.getLogger(__name__)
Line = tuple[Literal["caller", "bot"], str]


class Callbacks(Protocol):
    async def request(self, call_id: str, caller: str, transcript: list[Line], reason: str) -> bool:
        """File a callback case; True when it is stored (at the desk or in the outbox)."""
        ...


class DeskCallbacks:
    def __init__(self, desk: DeskClient, clock: Clock) -> None:
        self.desk, self.clock = desk, clock

    async def request(self, call_id: str, caller: str, transcript: list[Line], reason: str) -> bool:
        lines = [{"from": "citoyen" if who == "caller" else "assistant", "text": text} for who, text in transcript]
        ticket = Ticket(conversation_id=call_id, channel="voice", reason=reason, created_at=self.now(),
                        phone=caller, collected={}, transcript=lines)
        try:
            receipt = await self.desk.create_case(ticket, callback_only=True)
        except Exception:
            log.exception("call %s: the callback case could not be stored", call_id)
            return False
        log.info("call %s: callback case %s %s (%s)", call_id, receipt.id, "queued" if receipt.queued else "filed",
                 reason)
        return True

    def now(self) -> datetime:
        return self.clock.now()

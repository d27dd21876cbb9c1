"""The actions' view of the desk (web/): hand-offs become cases over HTTP; when the desk cannot be reached they wait
in the SQLite outbox (actions/tickets.py) and are forwarded once it answers again, so no hand-off is ever lost."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp

from clients.tickets import Ticket, TicketStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CaseReceipt:
    id: int
    live: bool  # an agent will answer in the citizen's chat window (the conversation is paused)
    queued: bool = False  # kept in the outbox: the desk did not answer


class DeskUnavailable(Exception):
    """The desk did not take the case (down, slow, refused): keep the hand-off in the outbox."""


class DeskClient(Protocol):
    async def create_case(self, ticket: Ticket, *, callback_only: bool = False) -> CaseReceipt: ...


def case_body(ticket: Ticket, *, callback_only: bool) -> dict[str, Any]:
    return {"conversation_id": ticket.conversation_id, "channel": ticket.channel, "reason": ticket.reason,
            "phone": ticket.phone, "collected": ticket.collected, "transcript": ticket.transcript,
            "callback_only": callback_only}


class HttpDeskClient:
    """``POST /api/v1/cases`` with the desk token. One session, opened lazily on the running loop."""

    def __init__(self, base_url: str, token: str, *, timeout_s: float = 5.0,
                 session: aiohttp.ClientSession | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session = session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def create_case(self, ticket: Ticket, *, callback_only: bool = False) -> CaseReceipt:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        try:
            async with self._session.post(f"{self.base_url}/api/v1/cases", json=case_body(ticket,
                                          callback_only=callback_only),
                                          headers={"Authorization": f"Bearer {self.token}"}) as response:
                status = response.status
                body = await response.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            log.warning("desk unreachable: %s", exc.__class__.__name__)
            raise DeskUnavailable(exc.__class__.__name__) from exc
        if status not in (200, 201) or not isinstance(body, dict) or not isinstance(body.get("id"), int):
            log.warning("desk refused the case: HTTP %s", status)
            raise DeskUnavailable(f"HTTP {status}")
        return CaseReceipt(int(body["id"]), bool(body.get("live")))


class ResilientDesk:
    """The desk when it answers; the outbox otherwise. After each case the desk accepts, waiting hand-offs are
    forwarded (as callback cases: those conversations have moved on) and marked as such in the outbox."""

    def __init__(self, http: DeskClient | None, outbox: TicketStore) -> None:
        self.http = http
        self.outbox = outbox
        self._flushing: asyncio.Task[None] | None = None

    async def create_case(self, ticket: Ticket, *, callback_only: bool = False) -> CaseReceipt:
        if self.http is not None:
            try:
                receipt = await self.http.create_case(ticket, callback_only=callback_only)
            except DeskUnavailable:
                pass
            else:
                if self._flushing is None or self._flushing.done():
                    self._flushing = asyncio.create_task(self.flush())
                return receipt
        number = await self.outbox.create(ticket)
        log.info("hand-off kept in the outbox as ticket %s", number)
        return CaseReceipt(number, False, queued=True)

    async def flush(self) -> None:
        """Forward the outbox to the desk; stops at the first failure (the rest waits for the next case).
        Forwarded tickets past the retention period are deleted here too (at most once a day)."""
        try:
            purged = await self.outbox.purge_expired()
        except Exception:  # the retention purge never stops a hand-off from being forwarded
            log.exception("outbox retention purge failed")
        else:
            if purged:
                log.info("retention: %d forwarded ticket(s) deleted from the outbox", purged)
        if self.http is None:
            return
        for number, ticket in await self.outbox.open_tickets():
            try:
                receipt = await self.http.create_case(ticket, callback_only=True)
            except DeskUnavailable:
                return
            await self.outbox.forwarded(number)
            log.info("outbox ticket %s forwarded to the desk as case %s", number, receipt.id)

"""The desk's view of the booking backend's staff API (bearer staff token): today's appointments, lookup."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import aiohttp

from web.http import DeskError

log = logging.getLogger(__name__)


class StaffClient:
    def __init__(self, session: aiohttp.ClientSession, base_url: str, token: str, *, timeout_s: float = 5.0) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def _get(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        try:
            async with self.session.get(self.base_url + path, params=params, timeout=self.timeout,
                                        headers={"Authorization": f"Bearer {self.token}"}) as response:
                body = await response.json(content_type=None)
                status = response.status
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            log.warning("booking backend unreachable: %s", exc.__class__.__name__)
            raise DeskError("Le service de rendez-vous ne répond pas pour le moment.", status=502,
                            code="booking_unavailable") from exc
        if not isinstance(body, dict) or status >= 500 or status in (401, 403):
            log.warning("booking backend answered HTTP %s to the desk", status)
            raise DeskError("Le service de rendez-vous refuse ou n'a pas pu répondre.", status=502,
                            code="booking_unavailable")
        if status >= 400:
            error = body.get("error") or {}
            raise DeskError(str(error.get("message") or "Demande refusée."), status=404 if status == 404 else 400,
                            code=str(error.get("code") or "booking_error"))
        return body

    async def today(self) -> dict[str, Any]:
        return await self._get("/api/v1/staff/appointments")

    async def stats(self, *, days: int) -> dict[str, Any]:
        return await self._get("/api/v1/staff/stats", {"days": str(days)})

    async def find(self, reference: str) -> dict[str, Any]:
        return await self._get(f"/api/v1/staff/appointments/{quote(reference, safe='')}")

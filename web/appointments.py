"""The desk's view of the booking backend's public API, for the citizen's page: an appointment is only shown or
cancelled with its reference and the phone number it was booked with, checked by the backend itself.

The backend counts failed guesses per reference and per client; the desk is one client for every citizen, so it
names the citizen's address in ``X-Guichet-Client`` (honoured because the desk is among the backend's
``GUICHET_TRUSTED_CLIENTS``, as the action server is).
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any
from urllib.parse import quote

import aiohttp

log = logging.getLogger(__name__)
CLIENT_HEADER = "X-Guichet-Client"


class NotFound(LookupError):
    """No appointment with this reference and this phone number (the backend does not say which is wrong)."""


class TooManyAttempts(Exception):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


class Refused(ValueError):
    """The backend refused the request with a French reason (malformed number, appointment already past…)."""


class Unavailable(ConnectionError):
    """The backend did not answer, or not in a way the page can use."""


class CitizenAppointments:
    def __init__(self, session: aiohttp.ClientSession, base_url: str, *, timeout_s: float = 5.0) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def find(self, reference: str, phone: str, *, client: str) -> dict[str, Any]:
        return await self._call("GET", reference, "", client, params={"phone": phone})

    async def cancel(self, reference: str, phone: str, *, client: str) -> dict[str, Any]:
        return await self._call("POST", reference, "/cancel", client, json={"phone": phone})

    async def reschedule(self, reference: str, phone: str, slot_id: str, *, client: str) -> dict[str, Any]:
        return await self._call("POST", reference, "/reschedule", client, json={"phone": phone, "slot_id": slot_id})

    async def free_slots(self, procedure: str, people: int, first: date, last: date, *,
                         limit: int = 8) -> list[dict[str, Any]]:
        """The free slots for this procedure and party, earliest first (a public query: no phone needed)."""
        params = {"procedure": procedure, "people": str(people), "from": first.isoformat(), "to": last.isoformat(),
                  "limit": str(limit)}
        try:
            async with self.session.get(f"{self.base_url}/api/v1/slots", params=params,
                                        timeout=self.timeout) as response:
                status = response.status
                body = await response.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            log.warning("booking backend unreachable from the citizen's page: %s", exc.__class__.__name__)
            raise Unavailable() from exc
        slots = body.get("slots") if isinstance(body, dict) else None
        if status != 200 or not isinstance(slots, list):
            log.warning("booking backend answered HTTP %s to the citizen's slot query", status)
            raise Unavailable()
        return [s for s in slots if isinstance(s, dict) and s.get("id") and s.get("start")]

    async def _call(self, method: str, reference: str, suffix: str, client: str, *,
                    params: dict[str, str] | None = None, json: dict[str, str] | None = None) -> dict[str, Any]:
        url = f"{self.base_url}/api/v1/appointments/{quote(reference, safe='')}{suffix}"
        try:
            async with self.session.request(method, url, params=params, json=json, timeout=self.timeout,
                                            headers={CLIENT_HEADER: f"citoyen:{client}"}) as response:
                status, retry = response.status, response.headers.get("Retry-After", "60")
                body = await response.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            log.warning("booking backend unreachable from the citizen's page: %s", exc.__class__.__name__)
            raise Unavailable() from exc
        if status == 200 and isinstance(body, dict):
            return body
        if status == 404:
            raise NotFound()
        if status == 429:
            raise TooManyAttempts(int(retry) if retry.isdigit() else 60)
        error = body.get("error") if isinstance(body, dict) else None
        if 400 <= status < 500 and isinstance(error, dict) and error.get("message"):
            raise Refused(str(error["message"]))
        log.warning("booking backend answered HTTP %s to the citizen's page", status)
        raise Unavailable()

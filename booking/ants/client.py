"""Client of the ANTS coordination API ("dédoublonnage"): status of a pré-demande, declare/delete appointments.

Shapes from ../shared/reference/ants-api.md. The real service is not reachable from development machines:
``booking.ants.standin`` serves the same shapes locally.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import aiohttp

log = logging.getLogger(__name__)

STATUSES = ("validated", "declared", "consumed", "expired", "unknown")


class AntsUnavailable(Exception):
    """ANTS could not be reached or answered nonsense: the booking goes through, flagged for staff."""


@dataclass(frozen=True)
class ExistingAppointment:
    meeting_point: str
    appointment_date: str
    management_url: str


@dataclass(frozen=True)
class ApplicationStatus:
    application_id: str
    status: str
    appointments: tuple[ExistingAppointment, ...] = ()


@dataclass(frozen=True)
class Declaration:
    application_id: str
    meeting_point: str
    meeting_point_id: str
    appointment_date: datetime  # local time of the meeting point
    management_url: str


class AntsCoordination(Protocol):
    enabled: bool  # False when no coordination service is configured: nothing to declare, nothing to flag

    async def status(self, application_ids: Sequence[str]) -> dict[str, ApplicationStatus]: ...

    async def declare(self, declaration: Declaration) -> None: ...

    async def delete(self, declaration: Declaration) -> None: ...


class DisabledAnts:
    """No coordination configured: every number is accepted, nothing is declared (and nothing flagged)."""

    enabled = False

    async def status(self, application_ids: Sequence[str]) -> dict[str, ApplicationStatus]:
        return {a: ApplicationStatus(a, "validated") for a in application_ids}

    async def declare(self, declaration: Declaration) -> None:
        return None

    async def delete(self, declaration: Declaration) -> None:
        return None


class HttpAnts:
    """The coordination API over HTTP, with a short timeout (ANTS itself gives editors 15 s)."""

    enabled = True

    def __init__(self, session: aiohttp.ClientSession, base_url: str, token: str, *, timeout_s: float = 5.0):
        self._session = session
        self._base = base_url.rstrip("/")
        self._headers = {"x-rdv-opt-auth-token": token}
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def _call(self, method: str, path: str, **kwargs: object) -> object:
        try:
            async with self._session.request(method, f"{self._base}{path}", headers=self._headers,
                                             timeout=self._timeout, **kwargs) as response:  # type: ignore[arg-type]
                if response.status >= 400:
                    raise AntsUnavailable(f"ANTS answered {response.status} on {method} {path}")
                return await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise AntsUnavailable(f"ANTS unreachable on {method} {path}: {exc.__class__.__name__}") from exc

    async def status(self, application_ids: Sequence[str]) -> dict[str, ApplicationStatus]:
        body = await self._call("GET", "/status", params=[("application_ids", a) for a in application_ids])
        if not isinstance(body, dict):
            raise AntsUnavailable("ANTS status: unexpected body")
        result = {}
        for application_id in application_ids:
            entry = body.get(application_id) or {}
            status = entry.get("status", "unknown") if isinstance(entry, dict) else "unknown"
            appointments = tuple(
                ExistingAppointment(str(a.get("meeting_point", "")), str(a.get("appointment_date", "")),
                                    str(a.get("management_url", "")))
                for a in (entry.get("appointments") or []) if isinstance(a, dict))
            result[application_id] = ApplicationStatus(
                application_id, status if status in STATUSES else "unknown", appointments)
        return result

    @staticmethod
    def _fields(d: Declaration) -> dict[str, str]:
        return {"application_id": d.application_id, "meeting_point": d.meeting_point,
                "meeting_point_id": d.meeting_point_id,
                "appointment_date": d.appointment_date.strftime("%Y-%m-%d %H:%M:%S")}

    async def declare(self, declaration: Declaration) -> None:
        await self._call("POST", "/appointments",
                         params={**self._fields(declaration), "management_url": declaration.management_url})

    async def delete(self, declaration: Declaration) -> None:
        await self._call("DELETE", "/appointments", params=self._fields(declaration))

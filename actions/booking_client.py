"""The actions' view of the booking backend: a Protocol, its HTTP implementation, and errors the dialogue can say.

The in-memory fake for unit tests is in actions/fake_booking.py; the HTTP client is tested against the real app.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol
from urllib.parse import quote

import aiohttp

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SlotOffer:
    id: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Booked:
    reference: str
    start: datetime
    end: datetime
    procedure: str
    people: int
    name: str
    phone: str
    status: str
    application_ids: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    address: str = ""


@dataclass(frozen=True)
class ApplicationCheck:
    id: str
    ok: bool
    message: str | None
    existing: tuple[str, ...] = field(default=())


class BookingError(Exception):
    """Base: ``message`` is French, fit to be said to the citizen."""

    def __init__(self, message: str, code: str = "booking_error") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class BookingUnavailable(BookingError):
    """The backend did not answer (down, slow, 5xx): apologize, offer a callback, lose nothing."""


class SlotTaken(BookingError):
    """Someone else took the slot between the proposal and the confirmation."""


class AppointmentNotFound(BookingError):
    """No appointment with this reference and phone number (the backend does not say which one is wrong)."""


class BookingRejected(BookingError):
    """Any other refusal (pré-demande refused or already used, appointment no longer modifiable…)."""


class TooManyAttempts(BookingRejected):
    """Too many wrong reference/phone guesses: the backend refuses lookups for a while (its message says how long)."""


class BookingClient(Protocol):
    async def list_slots(self, procedure: str, people: int, first: date, last: date, *,
                         limit: int = 50) -> list[SlotOffer]: ...

    async def check_applications(self, ids: list[str]) -> list[ApplicationCheck]: ...

    async def book(self, slot_id: str, *, procedure: str, people: int, name: str, phone: str,
                   application_ids: list[str], channel: str, idempotency_key: str) -> Booked: ...

    # ``client`` names the conversation, so the backend limits wrong guesses per citizen, not per action server.
    async def find(self, reference: str, phone: str, *, client: str | None = None) -> Booked: ...

    async def cancel(self, reference: str, phone: str, *, client: str | None = None) -> Booked: ...

    async def reschedule(self, reference: str, phone: str, slot_id: str, *, client: str | None = None) -> Booked: ...


def booked_from_json(body: dict[str, Any]) -> Booked:
    mp = body.get("meeting_point") or {}
    return Booked(
        reference=body["reference"], start=datetime.fromisoformat(body["start"]),
        end=datetime.fromisoformat(body["end"]), procedure=body["procedure"], people=int(body["people"]),
        name=body.get("name") or "", phone=body.get("phone") or "", status=body.get("status", "booked"),
        application_ids=tuple(body.get("application_ids") or ()), warnings=tuple(body.get("warnings") or ()),
        address=", ".join(x for x in (mp.get("name"), mp.get("address"),
                                      " ".join(y for y in (mp.get("zip_code"), mp.get("city_name")) if y)) if x),
    )


def _path(reference: str, suffix: str = "") -> str:
    return f"/api/v1/appointments/{quote(reference, safe='')}{suffix}"


_ERRORS: dict[str, type[BookingError]] = {"slot_taken": SlotTaken, "appointment_not_found": AppointmentNotFound,
                                          "too_many_attempts": TooManyAttempts}


def _client(client: str | None) -> dict[str, str] | None:
    return {"X-Guichet-Client": client} if client else None


class HttpBookingClient:
    """Talks to ``python -m booking`` over HTTP. One session, opened lazily on the running loop."""

    def __init__(self, base_url: str, *, timeout_s: float = 5.0, session: aiohttp.ClientSession | None = None):
        self.base_url = base_url.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session = session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _call(self, method: str, path: str, *, json: Any = None, params: Any = None,
                    headers: dict[str, str] | None = None) -> Any:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        try:
            async with self._session.request(method, self.base_url + path, json=json, params=params,
                                             headers=headers) as response:
                body = await response.json(content_type=None)
                status = response.status
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            log.warning("booking backend unreachable on %s %s: %s", method, path, exc.__class__.__name__)
            raise BookingUnavailable("Le service de rendez-vous ne répond pas pour le moment.",
                                     "unavailable") from exc
        if status >= 500 or not isinstance(body, dict):
            log.warning("booking backend error %s on %s %s", status, method, path)
            raise BookingUnavailable("Le service de rendez-vous rencontre un problème.", "unavailable")
        if status >= 400:
            error = body.get("error") or {}
            code = str(error.get("code", "booking_error"))
            raise _ERRORS.get(code, BookingRejected)(str(error.get("message", "Demande refusée.")), code)
        return body

    async def list_slots(self, procedure: str, people: int, first: date, last: date, *,
                         limit: int = 50) -> list[SlotOffer]:
        body = await self._call("GET", "/api/v1/slots", params={
            "procedure": procedure, "people": str(people), "from": first.isoformat(), "to": last.isoformat(),
            "limit": str(limit)})
        return [SlotOffer(s["id"], datetime.fromisoformat(s["start"]), datetime.fromisoformat(s["end"]))
                for s in body["slots"]]

    async def check_applications(self, ids: list[str]) -> list[ApplicationCheck]:
        body = await self._call("POST", "/api/v1/application-ids/check", json={"application_ids": ids})
        return [ApplicationCheck(r["id"], bool(r["ok"]), r.get("message"),
                                 tuple(e.get("date", "") for e in r.get("existing") or ()))
                for r in body["application_ids"]]

    async def book(self, slot_id: str, *, procedure: str, people: int, name: str, phone: str,
                   application_ids: list[str], channel: str, idempotency_key: str) -> Booked:
        body = await self._call("POST", "/api/v1/appointments", headers={"Idempotency-Key": idempotency_key}, json={
            "slot_id": slot_id, "procedure": procedure, "people": people, "name": name, "phone": phone,
            "application_ids": application_ids, "channel": channel})
        return booked_from_json(body)

    async def find(self, reference: str, phone: str, *, client: str | None = None) -> Booked:
        return booked_from_json(await self._call("GET", _path(reference), params={"phone": phone},
                                                 headers=_client(client)))

    async def cancel(self, reference: str, phone: str, *, client: str | None = None) -> Booked:
        return booked_from_json(await self._call("POST", _path(reference, "/cancel"), json={"phone": phone},
                                                 headers=_client(client)))

    async def reschedule(self, reference: str, phone: str, slot_id: str, *, client: str | None = None) -> Booked:
        return booked_from_json(await self._call("POST", _path(reference, "/reschedule"),
                                                 json={"phone": phone, "slot_id": slot_id}, headers=_client(client)))

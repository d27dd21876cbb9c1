"""The actions' view of the booking backend: a Protocol, its HTTP implementation, and errors the dialogue can say.

The in-memory fake for unit tests is in actions/fake_booking.py; the HTTP client is tested against the real app.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol
from urllib.parse import quote

import aiohttp

from knowledge.town import Closure

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
    management_url: str = ""  # the citizen's page (web/citizen.py), the link ANTS is given too


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

    async def closures(self) -> list[Closure]: ...

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
        management_url=str(body.get("management_url") or ""),
    )


def _path(reference: str, suffix: str = "") -> str:
    return f"/api/v1/appointments/{quote(reference, safe='')}{suffix}"


_ERRORS: dict[str, type[BookingError]] = {"slot_taken": SlotTaken, "appointment_not_found": AppointmentNotFound,
                                          "too_many_attempts": TooManyAttempts}


def _client(client: str | None) -> dict[str, str] | None:
    return {"X-Guichet-Client": client} if client else None


# Retries: waits before the 2nd and 3rd attempts. A ``Retry-After`` the backend sends (503 while its database
# restarts or is locked) is honoured up to ``MAX_RETRY_AFTER_S``: a caller is on the line.
RETRY_DELAYS_S = (0.25, 0.75)
MAX_RETRY_AFTER_S = 1.0
MIN_ATTEMPT_S = 0.5  # no retry when less than this would be left of the time budget for the attempt
_TRANSIENT_STATUSES = frozenset({502, 503, 504})  # 500 is a bug: asking again would not fix it

Sleep = Callable[[float], Awaitable[None]]


class _Transient(Exception):
    """One attempt failed in a way the next one may not (unreachable, timed out, 502/503/504)."""

    def __init__(self, error: BookingUnavailable, retry_after: float = 0.0) -> None:
        super().__init__(error.message)
        self.error = error
        self.retry_after = retry_after


class HttpBookingClient:
    """Talks to ``python -m booking`` over HTTP. One session, opened lazily on the running loop.

    ``timeout_s`` bounds a whole call, retries included, so an action never waits longer than that for the
    backend. A call is retried (at most 3 attempts, after ``RETRY_DELAYS_S``) on a connection error, a timeout
    or a 502/503/504, but only when repeating it cannot do anything twice: reads (``GET``, the pré-demande
    check) and bookings, which carry an ``Idempotency-Key`` the backend replays. Cancel and reschedule are
    never retried automatically: the backend has no idempotency for them, and a first attempt that committed
    before its answer was lost would make the second fail or move the appointment again.
    ``sleep`` and ``monotonic`` are injectable for tests.
    """

    def __init__(self, base_url: str, *, timeout_s: float = 5.0, session: aiohttp.ClientSession | None = None,
                 sleep: Sleep = asyncio.sleep, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session = session
        self._sleep = sleep
        self._monotonic = monotonic

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _call(self, method: str, path: str, *, json: Any = None, params: Any = None,
                    headers: dict[str, str] | None = None, safe: bool | None = None) -> Any:
        """One call, retried when ``safe`` (default: a ``GET`` or a request with an ``Idempotency-Key``)."""
        if safe is None:
            safe = method == "GET" or "Idempotency-Key" in (headers or {})
        deadline = self._monotonic() + self.timeout_s
        delays = iter(RETRY_DELAYS_S if safe else ())
        attempt = 1
        while True:
            try:
                return await self._attempt(method, path, json=json, params=params, headers=headers,
                                           timeout_s=max(deadline - self._monotonic(), 0.001))
            except _Transient as exc:
                delay = next(delays, None)
                if delay is not None:
                    delay = max(delay, min(exc.retry_after, MAX_RETRY_AFTER_S))
                if delay is None or deadline - self._monotonic() - delay < MIN_ATTEMPT_S:
                    log.warning("booking backend unavailable on %s %s after %d attempt(s)", method, path, attempt)
                    raise exc.error from exc.__cause__
            log.info("booking backend unavailable on %s %s, attempt %d again in %.2f s", method, path,
                     attempt + 1, delay)
            await self._sleep(delay)
            attempt += 1

    async def _attempt(self, method: str, path: str, *, json: Any, params: Any, headers: dict[str, str] | None,
                       timeout_s: float) -> Any:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        try:
            async with self._session.request(method, self.base_url + path, json=json, params=params,
                                             headers=headers, timeout=aiohttp.ClientTimeout(total=timeout_s)
                                             ) as response:
                status = response.status
                retry_after = _seconds(response.headers.get("Retry-After"))
                body = await _json_or_none(response)
        except (TimeoutError, aiohttp.ClientError) as exc:
            log.info("booking backend unreachable on %s %s: %s", method, path, exc.__class__.__name__)
            raise _Transient(BookingUnavailable("Le service de rendez-vous ne répond pas pour le moment.",
                                                "unavailable")) from exc
        if status >= 500 or not isinstance(body, dict):
            log.info("booking backend error %s on %s %s", status, method, path)
            error = BookingUnavailable("Le service de rendez-vous rencontre un problème.", "unavailable")
            if status in _TRANSIENT_STATUSES:
                raise _Transient(error, retry_after)
            raise error
        if status >= 400:
            error_json = body.get("error") or {}
            code = str(error_json.get("code", "booking_error"))
            raise _ERRORS.get(code, BookingRejected)(str(error_json.get("message", "Demande refusée.")), code)
        return body

    async def list_slots(self, procedure: str, people: int, first: date, last: date, *,
                         limit: int = 50) -> list[SlotOffer]:
        body = await self._call("GET", "/api/v1/slots", params={
            "procedure": procedure, "people": str(people), "from": first.isoformat(), "to": last.isoformat(),
            "limit": str(limit)})
        return [SlotOffer(s["id"], datetime.fromisoformat(s["start"]), datetime.fromisoformat(s["end"]))
                for s in body["slots"]]

    async def closures(self) -> list[Closure]:
        """Every exceptional closure, staff's included (the bot must not say the service is open on those days)."""
        body = await self._call("GET", "/api/v1/closures")
        return [Closure(start=date.fromisoformat(c["start"]), end=date.fromisoformat(c["end"]), reason=c["reason"])
                for c in body["closures"]]

    async def check_applications(self, ids: list[str]) -> list[ApplicationCheck]:
        # A read despite the POST (the list travels in the body): never books anything, safe to repeat.
        body = await self._call("POST", "/api/v1/application-ids/check", json={"application_ids": ids}, safe=True)
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


async def _json_or_none(response: aiohttp.ClientResponse) -> Any:
    """The JSON body, or ``None`` when there is none (an HTML error page from a proxy, an empty 503…)."""
    try:
        return await response.json(content_type=None)
    except ValueError:  # includes JSONDecodeError and UnicodeDecodeError
        return None


def _seconds(retry_after: str | None) -> float:
    """``Retry-After`` in seconds (the HTTP-date form is not used by our backend: treated as absent)."""
    try:
        return max(float(retry_after), 0.0) if retry_after else 0.0
    except ValueError:
        return 0.0

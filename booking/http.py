"""HTTP edge helpers: JSON errors, body parsing, serialization of domain values."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from booking.domain import Appointment, BookingError, Hold, Slot
from guichet.references import display_reference
from knowledge.town import MeetingPoint

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_response(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """JSON with French accents kept readable (no \\u escapes)."""
    return web.json_response(data, status=status, headers=headers, dumps=_dumps)


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


def error_body(status: int, code: str, message: str) -> web.Response:
    return json_response({"error": {"code": code, "message": message}}, status=status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Domain errors become 4xx JSON with a code and a French message; nothing unexpected leaks as HTML."""
    try:
        return await handler(request)
    except BookingError as exc:
        response = error_body(exc.status, exc.code, exc.message)
        response.headers.update(getattr(exc, "headers", {}))
        return response
    except web.HTTPRequestEntityTooLarge:
        return error_body(413, "request_too_large", "Requête trop volumineuse.")
    except web.HTTPException as exc:
        if exc.status >= 400:
            return error_body(exc.status, _CODES.get(exc.status, "http_error"),
                              _MESSAGES.get(exc.status, exc.reason))
        raise
    except Exception as exc:
        reason = storage_outage(exc)
        if reason is None:
            log.exception("unexpected error on %s %s", request.method, request.path)
            return error_body(500, "internal_error", "Erreur interne : réessayez dans un instant.")
        # Expected while the database restarts or is busy: one line, no traceback, no SQL (it may carry
        # personal data), the route pattern rather than the path (which may carry a reference).
        log.warning("database unavailable on %s %s: %s (%s)", request.method, _route(request),
                    type(exc).__name__, reason)
        response = error_body(503, "storage_unavailable", "Le service de rendez-vous est momentanément "
                              "indisponible : réessayez dans quelques secondes.")
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response


RETRY_AFTER_S = 2  # what a 503 asks clients to wait: a restarting database or a held lock is back by then
# SQLSTATEs meaning "no database right now": class 08 (connection exception), administrator or crash shutdown,
# "cannot connect now" (starting up, shutting down), too many connections.
_OUTAGE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")
_SQLITE_BUSY = ("SQLITE_BUSY", "SQLITE_LOCKED")
_DATABASE_MODULES = ("sqlalchemy.", "asyncpg.", "aiosqlite.", "sqlite3.", "booking.store.")


def storage_outage(exc: BaseException) -> str | None:
    """Why ``exc`` means the database is unavailable for now (a short reason for the log), or ``None`` when it
    is a genuine bug. Deliberately narrow: a syntax error or a missing table is a bug, not an outage."""
    if isinstance(exc, PoolTimeout):
        return "no free connection in the pool"
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return "connection lost"
        return _driver_outage(exc.orig)
    if isinstance(exc, OSError) and _raised_by_database(exc):  # refused, reset, timed out (TimeoutError too)
        return "cannot reach the database"
    return _driver_outage(exc)


def _driver_outage(exc: BaseException | None) -> str | None:
    """The driver's own errors, raw (asyncpg while connecting) or wrapped by SQLAlchemy (``DBAPIError.orig``)."""
    if exc is None:
        return None
    if type(exc).__module__.startswith("asyncpg"):  # imported here: a SQLite set-up never loads asyncpg
        from asyncpg.exceptions import ConnectionDoesNotExistError  # type: ignore[import-untyped]

        if isinstance(exc, ConnectionDoesNotExistError):  # closed during the start-up handshake
            return "connection lost"
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate.startswith(_OUTAGE_SQLSTATES):
        return f"SQLSTATE {sqlstate}"
    sqlite_error = getattr(exc, "sqlite_errorname", None)
    if isinstance(sqlite_error, str) and sqlite_error.startswith(_SQLITE_BUSY):
        return "database is locked"
    return None


def _raised_by_database(exc: BaseException) -> bool:
    """Whether the exception was raised inside the database layer (a network error elsewhere is not an outage)."""
    tb = exc.__traceback__
    while tb is not None:
        if str(tb.tb_frame.f_globals.get("__name__", "")).startswith(_DATABASE_MODULES):
            return True
        tb = tb.tb_next
    return False


def _route(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "?"


_CODES = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden"}
_MESSAGES = {404: "Adresse inconnue.", 405: "Méthode non autorisée sur cette adresse.",
             401: "Authentification requise.", 403: "Accès refusé."}


async def json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json(loads=json.loads)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BookingError("Corps de requête JSON invalide.", code="invalid_json") from None
    if not isinstance(body, dict):
        raise BookingError("Le corps de la requête doit être un objet JSON.", code="invalid_json")
    return body


def iso(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).isoformat()


def slot_json(slot: Slot, tz: ZoneInfo) -> dict[str, Any]:
    return {"id": slot.id, "meeting_point_id": slot.meeting_point_id, "start": iso(slot.start, tz),
            "end": iso(slot.end, tz), "free_counters": slot.free_counters}


def hold_json(hold: Hold, tz: ZoneInfo) -> dict[str, Any]:
    return {"hold_id": hold.id, "start": iso(hold.start, tz), "end": iso(hold.end, tz),
            "expires_at": iso(hold.expires_at, tz)}


def appointment_json(a: Appointment, mp: MeetingPoint, management_url: str) -> dict[str, Any]:
    tz = mp.schedule.tz
    return {
        "reference": a.reference, "reference_display": display_reference(a.reference),
        "status": a.status.value, "procedure": a.procedure.value, "people": a.people,
        "start": iso(a.start, tz), "end": iso(a.end, tz),
        "meeting_point": {"id": mp.id, "name": mp.name, "address": mp.address, "zip_code": mp.zip_code,
                          "city_name": mp.city_name},
        "counter_id": a.counter_id, "name": a.name, "phone": a.phone, "email": a.email,
        "application_ids": list(a.application_ids), "channel": a.channel, "ants_sync": a.ants_sync.value,
        "warnings": list(a.warnings), "management_url": management_url,
    }

"""Public API under ``/api/v1``: slots, holds, appointments (lookup and changes need reference + phone)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable
from typing import Any

from aiohttp import web

from booking import validation as v
from booking.domain import Appointment, HoldNotFound, InvalidRequest, NewAppointment
from booking.guard import guarded
from booking.http import appointment_json, hold_json, json_body, json_response, slot_json
from booking.keys import LIMITER, SERVICE, SETTINGS
from booking.service import BookingService, SlotQuery
from guichet.metrics import BOOKINGS, CANCELLATIONS

routes = web.RouteTableDef()


def _service(request: web.Request) -> BookingService:
    return request.app[SERVICE]


def present(service: BookingService, appointment: Appointment) -> dict[str, Any]:
    return appointment_json(appointment, service.meeting_point(appointment.meeting_point_id),
                            service.management_url(appointment.reference))


@routes.get("/health")
async def health(request: web.Request) -> web.Response:
    return json_response({"status": "ok", "service": "booking"})


@routes.get("/api/v1/meeting-points")
async def meeting_points(request: web.Request) -> web.Response:
    town = _service(request).town
    return json_response({"town": town.town.name, "example": town.example, "meeting_points": [
        {"id": mp.id, "name": mp.name, "address": mp.address, "zip_code": mp.zip_code, "city_name": mp.city_name,
         "counters": len(mp.counters), "slot_minutes": mp.schedule.slot_minutes,
         "max_people": mp.schedule.max_people} for mp in town.meeting_points]})


@routes.get("/api/v1/closures")
async def closures(request: web.Request) -> web.Response:
    """Every exceptional closure of a meeting point (the town file's and those staff added): public dates."""
    service = _service(request)
    mp = service.meeting_point(request.query.get("meeting_point_id"))
    calendar = await service.calendar(mp.id)
    return json_response({"meeting_point_id": mp.id, "closures": [
        {"start": c.start.isoformat(), "end": c.end.isoformat(), "reason": c.reason} for c in calendar.closures]})


@routes.get("/api/v1/slots")
async def list_slots(request: web.Request) -> web.Response:
    service = _service(request)
    q = request.query
    for required in ("procedure", "from", "to"):
        if required not in q:
            raise InvalidRequest(f"Paramètre « {required} » manquant.", code="missing_parameter")
    mp = service.meeting_point(q.get("meeting_point_id"))
    limit = q.get("limit", "50")
    if not limit.isdigit() or not 1 <= int(limit) <= 500:
        raise InvalidRequest("« limit » doit être un entier entre 1 et 500.", code="invalid_limit")
    part = q.get("part_of_day")
    if part not in (None, "morning", "afternoon"):
        raise InvalidRequest("« part_of_day » vaut « morning » ou « afternoon ».", code="invalid_part_of_day")
    query = SlotQuery(procedure=v.procedure(q["procedure"]), people=v.people(q.get("people", "1"),
                      mp.schedule.max_people), first=v.day(q["from"], "from"), last=v.day(q["to"], "to"),
                      limit=int(limit), part_of_day=part, meeting_point_id=mp.id)
    slots = await service.list_slots(query)
    tz = mp.schedule.tz
    return json_response({"slots": [slot_json(s, tz) for s in slots]})


@routes.post("/api/v1/application-ids/check")
async def check_application_ids(request: web.Request) -> web.Response:
    """Ask ANTS about pré-demande numbers before booking (format-checked first; never books anything)."""
    service = _service(request)
    body = await json_body(request)
    ids = v.application_ids(body.get("application_ids"), service.meeting_point(None).schedule.max_people)
    if not ids:
        raise InvalidRequest("« application_ids » : au moins un numéro de pré-demande.", code="missing_parameter")
    ants, rows = await service.check_applications(ids)
    return json_response({"ants": ants, "application_ids": rows})


@routes.post("/api/v1/holds")
async def create_hold(request: web.Request) -> web.Response:
    service = _service(request)
    body = await json_body(request)
    slot_id = v.text_field(body, "slot_id")
    procedure = v.procedure(body.get("procedure"))
    mp = service.meeting_point_of_slot(slot_id)
    hold = await service.hold(slot_id, procedure, v.people(body.get("people", 1), mp.schedule.max_people))
    return json_response(hold_json(hold, mp.schedule.tz), status=201)


@routes.delete("/api/v1/holds/{hold_id}")
async def release_hold(request: web.Request) -> web.Response:
    released = await _service(request).store.release_hold(request.match_info["hold_id"][:40])
    if not released:
        raise HoldNotFound("Réservation temporaire inconnue ou expirée.")
    return json_response({"released": True})


def _new_appointment(service: BookingService, body: dict[str, Any]) -> tuple[str, NewAppointment]:
    slot_id = v.text_field(body, "slot_id")
    mp = service.meeting_point_of_slot(slot_id)
    people = v.people(body.get("people", 1), mp.schedule.max_people)
    request = NewAppointment(
        procedure=v.procedure(body.get("procedure")), people=people, name=v.name(body.get("name")),
        phone=v.phone(body.get("phone")), email=v.email(body.get("email")),
        application_ids=v.application_ids(body.get("application_ids"), people),
        channel=v.channel(body.get("channel")))
    return slot_id, request


@routes.post("/api/v1/appointments")
async def book(request: web.Request) -> web.Response:
    service = _service(request)
    body = await json_body(request)
    slot_id, new = _new_appointment(service, body)
    idempotency = None
    key = request.headers.get("Idempotency-Key")
    if key is not None:
        if not 1 <= len(key) <= 200:
            raise InvalidRequest("En-tête Idempotency-Key invalide (1 à 200 caractères).",
                                 code="invalid_idempotency_key")
        digest = hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
        idempotency = (key, digest)
    hold_id = body.get("hold_id")
    result = await service.book(slot_id, new, idempotency=idempotency,
                                hold_id=hold_id if isinstance(hold_id, str) else None)
    if not result.replayed:
        BOOKINGS.labels(result.appointment.channel).inc()
    return json_response(present(service, result.appointment), status=200 if result.replayed else 201,
                             headers={"Idempotent-Replayed": "true"} if result.replayed else None)


@routes.get("/api/v1/appointments/{reference}")
async def find(request: web.Request) -> web.Response:
    service = _service(request)
    reference = v.reference(request.match_info["reference"])
    appointment = await _guarded(request, reference, service.find(reference, v.phone(request.query.get("phone"))))
    return json_response(present(service, appointment))


@routes.post("/api/v1/appointments/{reference}/cancel")
async def cancel(request: web.Request) -> web.Response:
    service = _service(request)
    reference = v.reference(request.match_info["reference"])
    body = await json_body(request)
    appointment = await _guarded(request, reference, service.cancel(reference, v.phone(body.get("phone"))))
    CANCELLATIONS.labels(appointment.channel).inc()
    return json_response(present(service, appointment))


@routes.post("/api/v1/appointments/{reference}/reschedule")
async def reschedule(request: web.Request) -> web.Response:
    service = _service(request)
    reference = v.reference(request.match_info["reference"])
    body = await json_body(request)
    phone, slot_id = v.phone(body.get("phone")), v.text_field(body, "slot_id")
    appointment = await _guarded(request, reference, service.reschedule(reference, phone, slot_id))
    return json_response(present(service, appointment))


async def _guarded(request: web.Request, reference: str, operation: Awaitable[Appointment]) -> Appointment:
    return await guarded(request.app[LIMITER], request, reference, request.app[SETTINGS].trusted_clients, operation)

"""Staff endpoints (bearer token): the day's appointments, honoured / no-show, closures, lookup by reference."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from aiohttp import web

from booking import personal
from booking import validation as v
from booking.auth import bearer, require_token
from booking.domain import AppointmentNotFound, InvalidRequest, Status
from booking.http import json_body, json_response
from booking.keys import SERVICE, SETTINGS
from booking.routes import present
from knowledge.town import Closure

routes = web.RouteTableDef()


def _authorize(request: web.Request) -> None:
    require_token(bearer(request.headers.get("Authorization")), request.app[SETTINGS].staff_token,
                  what="agent")


@routes.get("/api/v1/staff/appointments")
async def day(request: web.Request) -> web.Response:
    _authorize(request)
    service = request.app[SERVICE]
    when = v.day(request.query["date"], "date") if "date" in request.query else service.clock.now().date()
    mp = service.meeting_point(request.query.get("meeting_point_id"))
    appointments = await service.day(when, mp.id)
    return json_response({"date": when.isoformat(), "meeting_point_id": mp.id,
                              "appointments": [present(service, a) for a in appointments]})


@routes.get("/api/v1/staff/appointments/{reference}")
async def lookup(request: web.Request) -> web.Response:
    _authorize(request)
    service = request.app[SERVICE]
    reference = v.reference(request.match_info["reference"])
    found = await service.store.get(reference)
    if found is None:
        raise AppointmentNotFound("Aucun rendez-vous avec cette référence.")
    return json_response(present(service, found))


@routes.post("/api/v1/staff/appointments/{reference}/status")
async def set_status(request: web.Request) -> web.Response:
    _authorize(request)
    service = request.app[SERVICE]
    reference = v.reference(request.match_info["reference"])
    body = await json_body(request)
    allowed = {Status.HONOURED.value, Status.NO_SHOW.value, Status.BOOKED.value}
    if body.get("status") not in allowed:
        raise InvalidRequest("« status » vaut honoured, no_show ou booked.", code="invalid_status")
    appointment = await service.set_status(reference, Status(body["status"]))
    return json_response(present(service, appointment))


@routes.get("/api/v1/staff/personal-data")
async def personal_data(request: web.Request) -> web.Response:
    """GDPR access: every appointment held under a phone number."""
    _authorize(request)
    service = request.app[SERVICE]
    phone = v.phone(request.query.get("phone"))
    return json_response({"phone": phone,
                          "appointments": [present(service, a) for a in await personal.export(service, phone)]})


@routes.post("/api/v1/staff/personal-data/erase")
async def erase_personal_data(request: web.Request) -> web.Response:
    """GDPR erasure: future appointments cancelled, personal data removed from all of them."""
    _authorize(request)
    service = request.app[SERVICE]
    phone = v.phone((await json_body(request)).get("phone"))
    erasure = await personal.erase(service, phone)
    return json_response({"erased": erasure.erased, "cancelled": erasure.cancelled})


@routes.get("/api/v1/staff/stats")
async def stats(request: web.Request) -> web.Response:
    """Bookings and cancellations per day (creation / change date, town time) and channel, for ``days`` days."""
    _authorize(request)
    service = request.app[SERVICE]
    raw = request.query.get("days", "14")
    if not raw.isdigit() or not 1 <= int(raw) <= 92:
        raise InvalidRequest("« days » est un nombre de jours entre 1 et 92.", code="invalid_days")
    tz = service.meeting_point(None).schedule.tz
    today = service.clock.now().astimezone(tz).date()
    first = today - timedelta(days=int(raw) - 1)
    dates = [(first + timedelta(days=n)).isoformat() for n in range(int(raw))]
    booked: dict[str, dict[str, int]] = {day: {} for day in dates}
    cancelled = dict.fromkeys(dates, 0)
    since = datetime.combine(first, time(0), tzinfo=tz)
    for created, updated, channel, status in await service.store.changes_since(since):
        day = datetime.fromtimestamp(created, tz).date().isoformat()
        if day in booked:
            booked[day][channel] = booked[day].get(channel, 0) + 1
        changed = datetime.fromtimestamp(updated, tz).date().isoformat()
        if status == "cancelled" and changed in cancelled:
            cancelled[changed] += 1
    return json_response({"days": [{"date": day, "booked": booked[day], "cancelled": cancelled[day]}
                                   for day in dates]})


@routes.post("/api/v1/staff/closures")
async def add_closure(request: web.Request) -> web.Response:
    _authorize(request)
    service = request.app[SERVICE]
    body = await json_body(request)
    start = v.day(body.get("start"), "start")
    end = v.day(body.get("end", body.get("start")), "end")
    if end < start or (end - start) > timedelta(days=366):
        raise InvalidRequest("Période de fermeture invalide (fin avant début ou plus d'un an).",
                             code="invalid_range")
    reason = " ".join(str(body.get("reason") or "").split())
    if not reason or len(reason) > 300:
        raise InvalidRequest("Indiquez le motif de la fermeture (300 caractères au plus).", code="invalid_reason")
    if start < service.clock.now().date() - timedelta(days=1):
        raise InvalidRequest("La fermeture est dans le passé.", code="invalid_date")
    mp = service.meeting_point(body.get("meeting_point_id"))
    affected = await service.add_closure(Closure(start=start, end=end, reason=reason), mp.id)
    return json_response({
        "closure": {"meeting_point_id": mp.id, "start": start.isoformat(), "end": end.isoformat(),
                    "reason": reason},
        "affected_appointments": [present(service, a) for a in affected]}, status=201)

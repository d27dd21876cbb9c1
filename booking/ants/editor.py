"""Endpoints the ANTS hub calls on us, as a booking-software editor (header ``X-HUB-RDV-AUTH-TOKEN``).

Shapes from ../shared/reference/ants-api.md (as implemented by RDV Service Public and Lutece).
"""

from __future__ import annotations

import re
from datetime import UTC
from urllib.parse import urlencode

from aiohttp import web

from booking import validation as v
from booking.auth import require_token
from booking.domain import InvalidRequest, Procedure, Status
from booking.http import json_response
from booking.keys import SERVICE, SETTINGS
from booking.service import SlotQuery

routes = web.RouteTableDef()
REASONS = {"CNI": Procedure.CNI, "PASSPORT": Procedure.PASSPORT, "CNI-PASSPORT": Procedure.BOTH}
_HUB_ID = re.compile(r"^[a-zA-Z0-9]{10}$")


def _authorize(request: web.Request) -> None:
    require_token(request.headers.get("X-HUB-RDV-AUTH-TOKEN"), request.app[SETTINGS].ants_hub_token,
                  what="ANTS")


@routes.get("/api/ants/getManagedMeetingPoints")
async def managed_meeting_points(request: web.Request) -> web.Response:
    _authorize(request)
    town = request.app[SERVICE].town
    return json_response([
        {"id": mp.id, "name": mp.name, "longitude": mp.longitude, "latitude": mp.latitude,
         "public_entry_address": mp.address, "zip_code": mp.zip_code, "city_name": mp.city_name,
         "website": mp.website, "city_logo": mp.logo} for mp in town.meeting_points])


@routes.get("/api/ants/availableTimeSlots")
async def available_time_slots(request: web.Request) -> web.Response:
    _authorize(request)
    service = request.app[SERVICE]
    q = request.query
    reason = q.get("reason", "")
    if reason not in REASONS:
        raise InvalidRequest("reason vaut CNI, PASSPORT ou CNI-PASSPORT.", code="invalid_reason")
    first, last = v.day(q.get("start_date"), "start_date"), v.day(q.get("end_date"), "end_date")
    ids = q.getall("meeting_point_ids", [])
    answer: dict[str, list[dict[str, str]]] = {}
    for mp_id in ids:
        mp = service.town.meeting_point(mp_id)
        if mp is None:
            continue  # not ours: the hub asks every editor about its own points only
        people = v.people(q.get("documents_number", "1"), mp.schedule.max_people)
        slots = await service.list_slots(SlotQuery(REASONS[reason], people, first, last, limit=100_000,
                                                   meeting_point_id=mp.id))
        answer[mp.id] = [{
            "datetime": s.start.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ"),
            "callback_url": f"{service.public_url}/rendez-vous/nouveau?"
                            + urlencode({"slot": s.id, "procedure": REASONS[reason].value, "people": people}),
        } for s in slots]
    return json_response(answer)


@routes.get("/api/ants/searchApplicationIds")
async def search_application_ids(request: web.Request) -> web.Response:
    _authorize(request)
    service = request.app[SERVICE]
    ids = request.query.getall("application_ids", [])
    if not ids or len(ids) > 20 or not all(_HUB_ID.match(i) for i in ids):
        raise InvalidRequest("application_ids : 1 à 20 numéros de 10 chiffres et lettres.",
                             code="invalid_application_id")
    wanted = [i.upper() for i in ids]
    found = await service.store.appointments_for_applications(wanted)
    answer: dict[str, list[dict[str, str]]] = {i: [] for i in ids}
    for appointment in found:
        if appointment.status is not Status.BOOKED:
            continue
        mp = service.meeting_point(appointment.meeting_point_id)
        for original, upper in zip(ids, wanted, strict=True):
            if upper in appointment.application_ids:
                url = service.management_url(appointment.reference)
                answer[original].append({
                    "meeting_point": mp.name, "datetime": appointment.start.astimezone(mp.schedule.tz).isoformat(),
                    "management_url": url, "cancel_url": f"{url}?action=annuler"})
    return json_response(answer)

"""ANTS: the coordination client against the local stand-in (real HTTP), the booking flow's use of it,
and the editor endpoints the ANTS hub calls on us."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from booking.ants.client import Declaration, HttpAnts
from booking.ants.standin import STATE, create_standin
from booking.app import create_app
from booking.settings import BookingSettings
from booking.store.sql import SqlStore
from guichet.clock import FrozenClock
from tests.contract.conftest import HUB, booking_body, first_slot


@pytest.fixture
async def standin(aiohttp_server: Any) -> TestServer:
    return await aiohttp_server(create_standin("coord-token"))


@pytest.fixture
async def ants_client(aiohttp_client: Any, store: SqlStore, clock: FrozenClock,
                      standin: TestServer) -> TestClient:
    settings = BookingSettings(staff_token="s", ants_hub_token=HUB, public_url="https://mairie.example.fr",
                               ants_url=str(standin.make_url("/api")), ants_token="coord-token")
    return await aiohttp_client(create_app(settings, clock=clock, store=store))


async def test_client_speaks_the_coordination_shapes(standin: TestServer) -> None:
    async with aiohttp.ClientSession() as session:
        ants = HttpAnts(session, str(standin.make_url("/api")), "coord-token")
        assert (await ants.status(["ABCDE12345"]))["ABCDE12345"].status == "validated"
        await ants.declare(Declaration("ABCDE12345", "Hôtel de ville", "hotel-de-ville",
                                       datetime(2026, 12, 1, 9, 30), "https://x/rendez-vous/K7M4QX9B"))
        status = (await ants.status(["ABCDE12345"]))["ABCDE12345"]
        assert status.status == "declared"
        assert status.appointments[0].appointment_date == "2026-12-01 09:30:00"
        wrong = HttpAnts(session, str(standin.make_url("/api")), "bad-token")
        with pytest.raises(Exception, match="401"):
            await wrong.status(["ABCDE12345"])


async def test_booking_declares_and_cancel_deletes(ants_client: TestClient, standin: TestServer) -> None:
    slot = await first_slot(ants_client)
    response = await ants_client.post("/api/v1/appointments", json=booking_body(slot["id"],
                                                                                  application_ids=["ABCDE12345"]))
    booked = await response.json()
    assert response.status == 201 and booked["ants_sync"] == "declared"
    declared = standin.app[STATE].appointments["ABCDE12345"]
    assert declared[0]["management_url"].endswith(booked["reference"])
    cancelled = await ants_client.post(f"/api/v1/appointments/{booked['reference']}/cancel",
                                       json={"phone": "0612345678"})
    assert (await cancelled.json())["ants_sync"] == "deleted"
    assert standin.app[STATE].appointments["ABCDE12345"] == []


@pytest.mark.parametrize("status", ["consumed", "expired", "unknown"])
async def test_refused_pre_demande_is_not_booked(ants_client: TestClient, standin: TestServer, status: str) -> None:
    standin.app[STATE].statuses["ZZZZZ99999"] = status
    slot = await first_slot(ants_client)
    response = await ants_client.post("/api/v1/appointments", json=booking_body(slot["id"],
                                                                                  application_ids=["ZZZZZ99999"]))
    assert response.status == 422
    assert (await response.json())["error"]["code"] == "application_id_refused"
    assert (await first_slot(ants_client))["free_counters"] == 2


async def test_existing_appointment_elsewhere_is_a_warning(ants_client: TestClient, standin: TestServer) -> None:
    standin.app[STATE].appointments["ABCDE12345"] = [{"meeting_point": "Mairie de Plaisir",
                                                      "appointment_date": "2026-12-10 10:00:00",
                                                      "management_url": "https://ailleurs/rdv/1"}]
    slot = await first_slot(ants_client)
    response = await ants_client.post("/api/v1/appointments", json=booking_body(slot["id"],
                                                                                  application_ids=["ABCDE12345"]))
    assert response.status == 201
    warnings = (await response.json())["warnings"]
    assert len(warnings) == 1 and "Mairie de Plaisir" in warnings[0] and "https://ailleurs/rdv/1" in warnings[0]


async def test_unreachable_ants_books_and_flags(aiohttp_client: Any, store: SqlStore, clock: FrozenClock) -> None:
    settings = BookingSettings(staff_token="s", ants_url="http://127.0.0.1:9/api", ants_token="x",
                               ants_timeout_s=1.0)
    client = await aiohttp_client(create_app(settings, clock=clock, store=store))
    slot = await first_slot(client)
    response = await client.post("/api/v1/appointments", json=booking_body(slot["id"], application_ids=["ABCDE12345"]))
    assert response.status == 201
    assert (await response.json())["ants_sync"] == "pending"
    day = await client.get("/api/v1/staff/appointments", params={"date": "2026-12-01"},
                           headers={"Authorization": "Bearer s"})
    assert [a["ants_sync"] for a in (await day.json())["appointments"]] == ["pending"]


# --- editor endpoints (the ANTS hub calls us) ------------------------------------------------------------------

async def test_editor_endpoints_need_the_hub_token(client: TestClient) -> None:
    for path in ("/api/ants/getManagedMeetingPoints", "/api/ants/availableTimeSlots",
                 "/api/ants/searchApplicationIds"):
        for headers in ({}, {"X-HUB-RDV-AUTH-TOKEN": "wrong"}):
            response = await client.get(path, headers=headers)
            assert response.status == 401, (path, headers)
            assert (await response.json())["error"]["code"] == "unauthorized"


async def test_managed_meeting_points(client: TestClient) -> None:
    response = await client.get("/api/ants/getManagedMeetingPoints", headers={"X-HUB-RDV-AUTH-TOKEN": HUB})
    points = await response.json()
    assert points[0]["id"] == "hotel-de-ville"
    assert set(points[0]) == {"id", "name", "longitude", "latitude", "public_entry_address", "zip_code",
                              "city_name", "website", "city_logo"}


async def test_available_time_slots(client: TestClient) -> None:
    params = [("meeting_point_ids", "hotel-de-ville"), ("meeting_point_ids", "not-ours"),
              ("start_date", "2026-12-01"), ("end_date", "2026-12-01"), ("reason", "CNI-PASSPORT"),
              ("documents_number", "2")]
    answer = await (await client.get("/api/ants/availableTimeSlots", params=params,
                                     headers={"X-HUB-RDV-AUTH-TOKEN": HUB})).json()
    assert list(answer) == ["hotel-de-ville"]
    first = answer["hotel-de-ville"][0]
    assert first["datetime"] == "2026-12-01T07:30Z"  # 08:30 in Paris, UTC+1 in December
    assert "people=2" in first["callback_url"] and "procedure=both" in first["callback_url"]
    bad = await client.get("/api/ants/availableTimeSlots", headers={"X-HUB-RDV-AUTH-TOKEN": HUB},
                           params={"meeting_point_ids": "hotel-de-ville", "start_date": "2026-12-02",
                                   "end_date": "2026-12-01", "reason": "CNI"})
    assert bad.status == 400
    bad_reason = await client.get("/api/ants/availableTimeSlots", headers={"X-HUB-RDV-AUTH-TOKEN": HUB},
                                  params={"meeting_point_ids": "hotel-de-ville", "start_date": "2026-12-01",
                                          "end_date": "2026-12-01", "reason": "VISA"})
    assert bad_reason.status == 400


async def test_search_application_ids(client: TestClient) -> None:
    slot = await first_slot(client)
    booked = await (await client.post("/api/v1/appointments", json=booking_body(
        slot["id"], application_ids=["ABCDE12345"]))).json()
    answer = await (await client.get("/api/ants/searchApplicationIds", headers={"X-HUB-RDV-AUTH-TOKEN": HUB},
                                     params=[("application_ids", "abcde12345"),
                                             ("application_ids", "NOTBOOKED1")])).json()
    assert answer["NOTBOOKED1"] == []
    found = answer["abcde12345"][0]
    assert found["datetime"] == slot["start"]
    assert found["management_url"].endswith(booked["reference"])
    bad = await client.get("/api/ants/searchApplicationIds", headers={"X-HUB-RDV-AUTH-TOKEN": HUB},
                           params={"application_ids": "short"})
    assert bad.status == 400


async def test_application_ids_check_before_booking(ants_client: TestClient, standin: TestServer) -> None:
    async with aiohttp.ClientSession() as session:
        await session.post(standin.make_url("/_standin/applications"), json={"EXPIRED123": "expired"},
                           headers={"X-Standin-Token": "coord-token"})
    slot = await first_slot(ants_client)
    await ants_client.post("/api/v1/appointments", json=booking_body(slot["id"], application_ids=["ABCDE12345"]))
    response = await ants_client.post("/api/v1/application-ids/check",
                                      json={"application_ids": ["abcde 12345", "EXPIRED123", "ZZZZZ99999"]})
    body = await response.json()
    assert response.status == 200 and body["ants"] == "checked"
    declared, expired, fresh = body["application_ids"]
    assert declared["id"] == "ABCDE12345" and declared["ok"] is True and declared["existing"]
    assert "déjà un rendez-vous" in declared["message"]
    assert expired["ok"] is False and "expiré" in expired["message"]
    assert fresh == {"id": "ZZZZZ99999", "status": "validated", "ok": True, "message": None, "existing": []}


async def test_application_ids_check_rejects_bad_numbers(ants_client: TestClient) -> None:
    for body in ({"application_ids": ["12"]}, {"application_ids": []}, {"application_ids": "ABCDE12345"}, {}):
        response = await ants_client.post("/api/v1/application-ids/check", json=body)
        assert response.status == 400, body
        assert (await response.json())["error"]["message"]

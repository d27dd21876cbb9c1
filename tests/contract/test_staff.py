"""Staff endpoints: bearer token required; the day's list, honoured / no-show, closures with who to call."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from tests.contract.conftest import STAFF, booking_body, first_slot

AUTH = {"Authorization": f"Bearer {STAFF}"}


async def test_staff_endpoints_reject_missing_or_wrong_tokens(client: TestClient) -> None:
    calls = [("GET", "/api/v1/staff/appointments"), ("GET", "/api/v1/staff/appointments/K7M4QX9B"),
             ("POST", "/api/v1/staff/appointments/K7M4QX9B/status"), ("POST", "/api/v1/staff/closures")]
    for method, path in calls:
        for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": STAFF}):
            response = await client.request(method, path, headers=headers, json={})
            assert response.status == 401, (method, path, headers)


async def test_day_list_and_status(client: TestClient) -> None:
    slot = await first_slot(client)
    reference = (await (await client.post("/api/v1/appointments", json=booking_body(slot["id"]))).json())["reference"]
    day = await (await client.get("/api/v1/staff/appointments", params={"date": "2026-12-01"}, headers=AUTH)).json()
    assert [a["reference"] for a in day["appointments"]] == [reference]
    marked = await client.post(f"/api/v1/staff/appointments/{reference}/status", json={"status": "no_show"},
                               headers=AUTH)
    assert (await marked.json())["status"] == "no_show"
    bad = await client.post(f"/api/v1/staff/appointments/{reference}/status", json={"status": "lost"}, headers=AUTH)
    assert bad.status == 400
    found = await client.get(f"/api/v1/staff/appointments/{reference}", headers=AUTH)
    assert (await found.json())["status"] == "no_show"


async def test_closure_removes_slots_and_lists_who_to_call(client: TestClient) -> None:
    slot = await first_slot(client, day="2026-12-07")
    reference = (await (await client.post("/api/v1/appointments", json=booking_body(slot["id"]))).json())["reference"]
    response = await client.post("/api/v1/staff/closures", headers=AUTH,
                                 json={"start": "2026-12-07", "end": "2026-12-08", "reason": "Panne du dispositif"})
    assert response.status == 201
    assert [a["reference"] for a in (await response.json())["affected_appointments"]] == [reference]
    for day in ("2026-12-07", "2026-12-08"):
        slots = await client.get("/api/v1/slots", params={"procedure": "cni", "from": day, "to": day})
        assert (await slots.json())["slots"] == []
    assert (await client.post("/api/v1/appointments", json=booking_body(slot["id"], phone="0698765432"))).status == 409
    bad = await client.post("/api/v1/staff/closures", headers=AUTH, json={"start": "2026-12-09", "end": "2026-12-08",
                                                                           "reason": "x"})
    assert bad.status == 400

"""GDPR access and erasure by phone number, and the retention purge, on the real booking app and both databases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from booking import personal
from booking.keys import SERVICE
from guichet.clock import FrozenClock
from tests.contract.conftest import STAFF, booking_body, first_slot

AUTH = {"Authorization": f"Bearer {STAFF}"}


async def _book(client: TestClient, day: str, phone: str, name: str = "Marie Dupont") -> dict[str, Any]:
    slot = await first_slot(client, day=day)
    response = await client.post("/api/v1/appointments", json=booking_body(slot["id"], phone=phone, name=name,
                                                                          application_ids=[]))
    assert response.status == 201, await response.text()
    return dict(await response.json())


async def test_a_citizen_gets_their_data_then_has_it_erased(client: TestClient) -> None:
    first = await _book(client, "2026-12-01", "06 12 34 56 78")
    second = await _book(client, "2026-12-02", "06 12 34 56 78")
    other = await _book(client, "2026-12-01", "07 81 22 33 44", name="Paul Martin")

    export = await client.get("/api/v1/staff/personal-data", params={"phone": "0612345678"}, headers=AUTH)
    assert export.status == 200
    held = await export.json()
    assert [a["reference"] for a in held["appointments"]] == [first["reference"], second["reference"]]
    assert held["appointments"][0]["name"] == "Marie Dupont"

    erase = await client.post("/api/v1/staff/personal-data/erase", json={"phone": "+33612345678"}, headers=AUTH)
    assert erase.status == 200
    assert sorted((await erase.json())["cancelled"]) == sorted([first["reference"], second["reference"]])

    again = await client.get("/api/v1/staff/personal-data", params={"phone": "0612345678"}, headers=AUTH)
    assert (await again.json())["appointments"] == []
    staff_view = await (await client.get(f"/api/v1/staff/appointments/{first['reference']}", headers=AUTH)).json()
    assert staff_view["name"] == "(effacé)" and staff_view["phone"] == "" and staff_view["status"] == "cancelled"
    gone = await client.get(f"/api/v1/appointments/{first['reference']}", params={"phone": "0612345678"})
    assert gone.status == 404
    kept = await client.get(f"/api/v1/appointments/{other['reference']}", params={"phone": "0781223344"})
    assert (await kept.json())["name"] == "Paul Martin"
    freed = await first_slot(client, day="2026-12-02")
    assert freed["start"] == second["start"], "the erased citizen's slot is free again"


async def test_personal_data_endpoints_need_the_staff_token_and_a_phone(client: TestClient) -> None:
    assert (await client.get("/api/v1/staff/personal-data", params={"phone": "0612345678"})).status == 401
    erase = await client.post("/api/v1/staff/personal-data/erase", json={"phone": "0612345678"},
                              headers={"Authorization": "Bearer wrong"})
    assert erase.status == 401
    bad = await client.post("/api/v1/staff/personal-data/erase", json={"phone": "12"}, headers=AUTH)
    assert bad.status == 400 and (await bad.json())["error"]["code"] == "invalid_phone"


async def test_retention_purge_erases_only_what_is_old_enough(client: TestClient, clock: FrozenClock) -> None:
    old = await _book(client, "2026-12-01", "06 12 34 56 78")
    recent = await _book(client, "2027-01-05", "07 81 22 33 44")
    service = client.app[SERVICE]
    clock.advance(timedelta(days=200))  # 2027-06-13: the first ended 194 days ago, the second 159
    assert await personal.purge(service, retention_days=180) == 1
    assert (await service.store.get(old["reference"])).name == "(effacé)"  # type: ignore[union-attr]
    assert (await service.store.get(recent["reference"])).name == "Marie Dupont"  # type: ignore[union-attr]
    assert await personal.purge(service, retention_days=180) == 0, "nothing left to purge"

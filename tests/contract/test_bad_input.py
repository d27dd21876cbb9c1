"""Every bad request gets a 4xx JSON body with a code and a French message, and writes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.contract.conftest import booking_body, first_slot

SLOT_QUERIES = [
    ({"procedure": "visa", "from": "2026-12-01", "to": "2026-12-02"}, "invalid_procedure"),
    ({"procedure": "cni", "from": "2026-13-01", "to": "2026-12-02"}, "invalid_date"),
    ({"procedure": "cni", "from": "2026-12-05", "to": "2026-12-01"}, "invalid_range"),
    ({"procedure": "cni", "from": "2026-12-01", "to": "2027-12-01"}, "range_too_long"),
    ({"procedure": "cni", "people": "0", "from": "2026-12-01", "to": "2026-12-02"}, "invalid_people"),
    ({"procedure": "cni", "people": "12", "from": "2026-12-01", "to": "2026-12-02"}, "invalid_people"),
    ({"procedure": "cni", "people": "deux", "from": "2026-12-01", "to": "2026-12-02"}, "invalid_people"),
    ({"procedure": "cni", "from": "2026-12-01"}, "missing_parameter"),
    ({"procedure": "cni", "from": "2026-12-01", "to": "2026-12-02", "limit": "-3"}, "invalid_limit"),
    ({"procedure": "cni", "from": "2026-12-01", "to": "2026-12-02", "part_of_day": "night"}, "invalid_part_of_day"),
]


@pytest.mark.parametrize(("params", "code"), SLOT_QUERIES)
async def test_bad_slot_queries(client: TestClient, params: dict[str, str], code: str) -> None:
    response = await client.get("/api/v1/slots", params=params)
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["code"] == code and error["message"]


BOOKINGS: list[tuple[dict[str, Any], int, str]] = [
    ({"phone": "12"}, 400, "invalid_phone"),
    ({"phone": "06 12 34 56"}, 400, "invalid_phone"),
    ({"name": ""}, 400, "invalid_name"),
    ({"name": "x" * 500}, 400, "invalid_name"),
    ({"name": "Jean\u0000Dupont"}, 400, "invalid_name"),
    ({"procedure": "permis"}, 400, "invalid_procedure"),
    ({"people": 7}, 400, "invalid_people"),
    ({"people": True}, 400, "invalid_people"),
    ({"email": "pas-un-email"}, 400, "invalid_email"),
    ({"application_ids": ["ABC"]}, 400, "invalid_application_id"),
    ({"application_ids": "ABCDE12345"}, 400, "invalid_application_id"),
    ({"application_ids": ["ABCDE12345", "abcde12345"], "people": 2}, 400, "duplicate_application_id"),
    ({"application_ids": ["ABCDE12345", "ABCDE12346"]}, 400, "too_many_application_ids"),
    ({"slot_id": "hotel-de-ville.garbage"}, 400, "invalid_slot"),
    ({"slot_id": "ailleurs.202612010830"}, 400, "invalid_slot"),
    ({"slot_id": "hotel-de-ville.202612010835"}, 409, "slot_unavailable"),  # not on the grid
    ({"slot_id": "hotel-de-ville.202612250900"}, 409, "slot_unavailable"),  # Christmas
    ({"slot_id": "hotel-de-ville.202611250830"}, 409, "slot_unavailable"),  # in the past
    ({"slot_id": "hotel-de-ville.202710010830"}, 409, "slot_unavailable"),  # beyond the horizon
    ({"channel": "fax"}, 400, "invalid_channel"),
]


@pytest.mark.parametrize(("change", "status", "code"), BOOKINGS)
async def test_bad_bookings_write_nothing(client: TestClient, change: dict[str, Any], status: int, code: str) -> None:
    slot = await first_slot(client)
    response = await client.post("/api/v1/appointments", json={**booking_body(slot["id"]), **change})
    assert response.status == status
    assert (await response.json())["error"]["code"] == code
    assert (await first_slot(client))["free_counters"] == 2


async def test_malformed_bodies(client: TestClient) -> None:
    for data in (b"{not json", b"[1, 2]", b"\xff\xfe", b""):
        response = await client.post("/api/v1/appointments", data=data, headers={"Content-Type": "application/json"})
        assert response.status == 400, data
        assert (await response.json())["error"]["code"] == "invalid_json"
    huge = await client.post("/api/v1/appointments", data=b"{" + b" " * 100_000 + b"}")
    assert huge.status == 413
    assert (await huge.json())["error"]["code"] == "request_too_large"


async def test_unknown_routes_and_methods_are_json(client: TestClient) -> None:
    missing = await client.get("/api/v1/nothing")
    assert missing.status == 404 and (await missing.json())["error"]["code"] == "not_found"
    wrong = await client.delete("/api/v1/slots")
    assert wrong.status == 405 and (await wrong.json())["error"]["code"] == "method_not_allowed"


async def test_bad_references(client: TestClient) -> None:
    for reference in ("0000OOOO", "ABC", "K7M4QX9B'--"):
        response = await client.get(f"/api/v1/appointments/{reference}", params={"phone": "0612345678"})
        assert response.status in (400, 404)
        assert "error" in await response.json()
    no_phone = await client.get("/api/v1/appointments/K7M4QX9B")
    assert no_phone.status == 400 and (await no_phone.json())["error"]["code"] == "invalid_phone"


async def test_messages_are_readable_french(client: TestClient) -> None:
    response = await client.post("/api/v1/appointments", json=booking_body("hotel-de-ville.nope"))
    assert "Identifiant de créneau invalide." in await response.text()

"""The real booking app on a loopback HTTP server, over each store."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from booking.app import create_app
from booking.settings import BookingSettings
from booking.store.sql import SqlStore
from guichet.clock import FrozenClock

STAFF = "staff-secret-token"
HUB = "hub-secret-token"


@pytest.fixture
def settings() -> BookingSettings:
    return BookingSettings(staff_token=STAFF, ants_hub_token=HUB, public_url="https://mairie.example.fr")


@pytest.fixture
async def client(aiohttp_client: Any, store: SqlStore, clock: FrozenClock, settings: BookingSettings) -> TestClient:
    return await aiohttp_client(create_app(settings, clock=clock, store=store))


async def first_slot(client: TestClient, *, day: str = "2026-12-01", people: int = 1,
                     procedure: str = "passport", **params: str) -> dict[str, Any]:
    response = await client.get("/api/v1/slots", params={"procedure": procedure, "people": str(people),
                                                         "from": day, "to": day, **params})
    assert response.status == 200, await response.text()
    slots = (await response.json())["slots"]
    assert slots, f"no slot on {day}"
    return dict(slots[0])


def booking_body(slot_id: str, **extra: Any) -> dict[str, Any]:
    return {"slot_id": slot_id, "procedure": "passport", "people": 1, "name": "Marie Dupont",
            "phone": "06 12 34 56 78", **extra}

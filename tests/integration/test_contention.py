"""No double booking, ever: many concurrent requests on one slot, through two independent app instances
(two connection pools, no shared Python state) on the same database."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from booking.app import create_app
from booking.settings import BookingSettings
from booking.store import open_store
from booking.store.sql import SqlStore
from guichet.clock import FrozenClock
from tests.contract.conftest import booking_body, first_slot

ATTEMPTS = 200
CAPACITY = 2  # two counters in knowledge/town.yaml


@pytest.fixture
async def clients(aiohttp_client: Any, database_url: str, store: SqlStore,
                  clock: FrozenClock) -> AsyncIterator[list[TestClient]]:
    other = open_store(database_url)
    settings = BookingSettings(staff_token="t")
    yield [await aiohttp_client(create_app(settings, clock=clock, store=s)) for s in (store, other)]
    await other.close()


async def test_concurrent_bookings_of_one_slot(clients: list[TestClient], store: SqlStore) -> None:
    slot = await first_slot(clients[0])
    posts = [clients[i % 2].post("/api/v1/appointments", json=booking_body(slot["id"], phone=f"06{i:08d}"))
             for i in range(ATTEMPTS)]
    responses = await asyncio.gather(*posts)
    statuses = Counter(r.status for r in responses)
    assert statuses == {201: CAPACITY, 409: ATTEMPTS - CAPACITY}
    assert await store.count_active_at("hotel-de-ville", datetime.fromisoformat(slot["start"])) == CAPACITY
    counters = {(await r.json())["counter_id"] for r in responses if r.status == 201}
    assert counters == {"dr-1", "dr-2"}


async def test_concurrent_reschedules_into_one_slot(clients: list[TestClient], store: SqlStore) -> None:
    day = await clients[0].get("/api/v1/slots", params={"procedure": "cni", "from": "2026-12-02",
                                                         "to": "2026-12-02", "limit": "10"})
    sources = (await day.json())["slots"]
    booked = []
    for i, source in enumerate(sources):
        response = await clients[0].post("/api/v1/appointments",
                                         json=booking_body(source["id"], procedure="cni", phone=f"0781{i:06d}"))
        booked.append(((await response.json())["reference"], f"0781{i:06d}", source["start"]))
    target = await first_slot(clients[0], day="2026-12-03", procedure="cni")
    moves = [clients[i % 2].post(f"/api/v1/appointments/{ref}/reschedule",
                                 json={"phone": phone, "slot_id": target["id"]})
             for i, (ref, phone, _) in enumerate(booked)]
    responses = await asyncio.gather(*moves)
    assert Counter(r.status for r in responses) == {200: CAPACITY, 409: len(booked) - CAPACITY}
    assert await store.count_active_at("hotel-de-ville", datetime.fromisoformat(target["start"])) == CAPACITY
    for response, (ref, phone, start) in zip(responses, booked, strict=True):
        now = await (await clients[1].get(f"/api/v1/appointments/{ref}", params={"phone": phone})).json()
        assert now["status"] == "booked"
        assert now["start"] == (target["start"] if response.status == 200 else start)
    # Every refused move kept its old slot; every accepted one freed it.
    after = await clients[0].get("/api/v1/slots", params={"procedure": "cni", "from": "2026-12-02",
                                                           "to": "2026-12-02", "limit": "10"})
    free = {s["start"]: s["free_counters"] for s in (await after.json())["slots"]}
    for response, (_, _, start) in zip(responses, booked, strict=True):
        assert free[start] == (2 if response.status == 200 else 1)


async def test_same_idempotency_key_in_parallel_books_once(clients: list[TestClient], store: SqlStore) -> None:
    slot = await first_slot(clients[0])
    body = booking_body(slot["id"])
    responses = await asyncio.gather(*[clients[i % 2].post("/api/v1/appointments", json=body,
                                                           headers={"Idempotency-Key": "retry-42"})
                                       for i in range(20)])
    assert sorted(r.status for r in responses) == [200] * 19 + [201]
    assert len({(await r.json())["reference"] for r in responses}) == 1
    assert await store.count_active_at("hotel-de-ville", datetime.fromisoformat(slot["start"])) == 1

"""The public booking API against the real app, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from aiohttp.test_utils import TestClient

from guichet.clock import FrozenClock
from tests.contract.conftest import booking_body, first_slot


async def test_health_and_openapi(client: TestClient) -> None:
    assert (await (await client.get("/health")).json())["status"] == "ok"
    spec = await (await client.get("/api/openapi.json")).json()
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/appointments/{reference}/reschedule" in spec["paths"]


async def test_slots_follow_the_schedule_in_time_order(client: TestClient) -> None:
    # Tuesday 1 December 2026: 08:30-12:00 and 13:30-17:30, 15 minutes per person, two counters.
    response = await client.get("/api/v1/slots", params={"procedure": "passport", "from": "2026-12-01",
                                                         "to": "2026-12-01", "limit": "500"})
    slots = (await response.json())["slots"]
    starts = [s["start"] for s in slots]
    assert starts == sorted(starts)
    assert starts[0] == "2026-12-01T08:30:00+01:00"
    assert starts[-1] == "2026-12-01T17:15:00+01:00"
    assert "2026-12-01T12:00:00+01:00" not in starts and "2026-12-01T11:45:00+01:00" in starts
    assert len(slots) == 14 + 16
    assert all(s["free_counters"] == 2 for s in slots)


async def test_closed_days_have_no_slot(client: TestClient) -> None:
    for day in ("2026-12-25", "2026-12-24", "2026-11-29"):  # Christmas, closure from knowledge/, Sunday
        response = await client.get("/api/v1/slots", params={"procedure": "cni", "from": day, "to": day})
        assert (await response.json())["slots"] == [], day


async def test_minimum_notice_and_part_of_day(client: TestClient) -> None:
    # Now is Wednesday 25 Nov 10:00; two hours' notice: the first slot today is at 13:30 (afternoon opening).
    slot = await first_slot(client, day="2026-11-25")
    assert slot["start"] == "2026-11-25T13:30:00+01:00"
    morning = await client.get("/api/v1/slots", params={"procedure": "cni", "from": "2026-12-01",
                                                        "to": "2026-12-01", "part_of_day": "afternoon"})
    assert all(s["start"] >= "2026-12-01T12" for s in (await morning.json())["slots"])


async def test_several_people_take_consecutive_units(client: TestClient) -> None:
    params = {"procedure": "passport", "people": "3", "from": "2026-12-01", "to": "2026-12-01", "limit": "500"}
    slots = (await (await client.get("/api/v1/slots", params=params)).json())["slots"]
    assert slots[0]["end"] == "2026-12-01T09:15:00+01:00"
    assert "2026-12-01T11:15:00+01:00" in [s["start"] for s in slots]
    assert "2026-12-01T11:30:00+01:00" not in [s["start"] for s in slots]  # would run past 12:00


async def test_book_find_cancel(client: TestClient) -> None:
    slot = await first_slot(client)
    response = await client.post("/api/v1/appointments", json=booking_body(slot["id"], email="m@example.fr"))
    assert response.status == 201, await response.text()
    booked = await response.json()
    reference = booked["reference"]
    assert len(reference) == 8 and not set(reference) & set("01OIL")
    assert booked["start"] == slot["start"] and booked["phone"] == "+33612345678"
    assert booked["status"] == "booked"

    after = await first_slot(client)
    assert after["id"] == slot["id"] and after["free_counters"] == 1

    found = await client.get(f"/api/v1/appointments/{reference.lower()}", params={"phone": "+33 6 12 34 56 78"})
    assert found.status == 200 and (await found.json())["reference"] == reference

    wrong = await client.get(f"/api/v1/appointments/{reference}", params={"phone": "06 99 99 99 99"})
    assert wrong.status == 404
    assert (await wrong.json())["error"]["code"] == "appointment_not_found"

    refused = await client.post(f"/api/v1/appointments/{reference}/cancel", json={"phone": "07 81 23 45 67"})
    assert refused.status == 404
    cancelled = await client.post(f"/api/v1/appointments/{reference}/cancel", json={"phone": "0612345678"})
    assert (await cancelled.json())["status"] == "cancelled"
    again = await client.post(f"/api/v1/appointments/{reference}/cancel", json={"phone": "0612345678"})
    assert again.status == 409
    assert (await first_slot(client))["free_counters"] == 2


async def test_full_slot_gives_409_and_disappears(client: TestClient) -> None:
    slot = await first_slot(client)
    for phone in ("0611111111", "0622222222"):
        assert (await client.post("/api/v1/appointments", json=booking_body(slot["id"], phone=phone))).status == 201
    third = await client.post("/api/v1/appointments", json=booking_body(slot["id"], phone="0633333333"))
    assert third.status == 409
    assert (await third.json())["error"]["code"] == "slot_taken"
    assert (await first_slot(client))["id"] != slot["id"]


async def test_idempotency_key_replays_the_same_booking(client: TestClient) -> None:
    slot = await first_slot(client)
    body = booking_body(slot["id"])
    first = await client.post("/api/v1/appointments", json=body, headers={"Idempotency-Key": "abc-1"})
    second = await client.post("/api/v1/appointments", json=body, headers={"Idempotency-Key": "abc-1"})
    assert first.status == 201 and second.status == 200
    assert (await first.json())["reference"] == (await second.json())["reference"]
    assert (await first_slot(client))["free_counters"] == 1
    other = await client.post("/api/v1/appointments", json=booking_body(slot["id"], name="Paul Martin"),
                              headers={"Idempotency-Key": "abc-1"})
    assert other.status == 422
    assert (await other.json())["error"]["code"] == "idempotency_key_reused"


async def test_reschedule_moves_atomically(client: TestClient) -> None:
    slot = await first_slot(client)
    reference = (await (await client.post("/api/v1/appointments", json=booking_body(slot["id"]))).json())["reference"]
    target = await first_slot(client, day="2026-12-02")
    # Fill the target slot completely: the move must fail and keep the old appointment.
    for phone in ("0611111111", "0622222222"):
        await client.post("/api/v1/appointments", json=booking_body(target["id"], phone=phone))
    refused = await client.post(f"/api/v1/appointments/{reference}/reschedule",
                                json={"phone": "0612345678", "slot_id": target["id"]})
    assert refused.status == 409
    kept = await (await client.get(f"/api/v1/appointments/{reference}", params={"phone": "0612345678"})).json()
    assert kept["start"] == slot["start"] and kept["status"] == "booked"
    assert (await first_slot(client))["free_counters"] == 1

    free = await first_slot(client, day="2026-12-03")
    moved = await client.post(f"/api/v1/appointments/{reference}/reschedule",
                              json={"phone": "0612345678", "slot_id": free["id"]})
    assert moved.status == 200
    assert (await moved.json())["start"] == free["start"]
    assert (await first_slot(client))["free_counters"] == 2


async def test_hold_reserves_then_expires(client: TestClient, clock: FrozenClock) -> None:
    slot = await first_slot(client)
    holds = []
    for _ in range(2):
        response = await client.post("/api/v1/holds", json={"slot_id": slot["id"], "procedure": "passport"})
        assert response.status == 201
        holds.append(await response.json())
    assert (await client.post("/api/v1/holds", json={"slot_id": slot["id"], "procedure": "passport"})).status == 409
    # A booking without the hold cannot take the held slot; with its hold it can.
    assert (await client.post("/api/v1/appointments", json=booking_body(slot["id"]))).status == 409
    booked = await client.post("/api/v1/appointments", json=booking_body(slot["id"], hold_id=holds[0]["hold_id"]))
    assert booked.status == 201
    clock.advance(timedelta(minutes=6))  # holds last five minutes
    assert (await first_slot(client))["id"] == slot["id"]
    assert (await client.post("/api/v1/appointments", json=booking_body(slot["id"], phone="0699999999"))).status == 201
    assert (await client.delete(f"/api/v1/holds/{holds[1]['hold_id']}")).status == 404


async def test_pre_demande_numbers_are_checked_and_unique(client: TestClient) -> None:
    slot = await first_slot(client, people=2)
    body = booking_body(slot["id"], people=2, application_ids=["abcde12345", "ZZZZZ99999"])
    first = await client.post("/api/v1/appointments", json=body)
    assert first.status == 201
    assert (await first.json())["application_ids"] == ["ABCDE12345", "ZZZZZ99999"]
    other = await first_slot(client, day="2026-12-02")
    reused = await client.post("/api/v1/appointments", json=booking_body(other["id"], application_ids=["ABCDE12345"]))
    assert reused.status == 409
    assert (await reused.json())["error"]["code"] == "application_id_in_use"

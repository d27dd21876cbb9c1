"""The actions' HTTP booking client against the real booking app (real HTTP on loopback)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from aiohttp import web

from actions.booking_client import (
    AppointmentNotFound,
    BookingRejected,
    BookingUnavailable,
    HttpBookingClient,
    SlotTaken,
    TooManyAttempts,
)
from tests.contract.conftest import STAFF
from tests.integration.stack import free_port


@pytest.fixture
async def http_client(client: Any) -> HttpBookingClient:
    booking = HttpBookingClient(str(client.make_url("")).rstrip("/"))
    yield booking
    await booking.close()


async def _book(booking: HttpBookingClient, slot_id: str, key: str = "k1", phone: str = "06 12 34 56 78") -> Any:
    return await booking.book(slot_id, procedure="passport", people=1, name="Marie Dupont", phone=phone,
                              application_ids=[], channel="chat", idempotency_key=key)


async def test_slots_book_find_reschedule_cancel(http_client: HttpBookingClient) -> None:
    slots = await http_client.list_slots("passport", 1, date(2026, 12, 1), date(2026, 12, 1), limit=5)
    assert len(slots) == 5 and slots[0].start.isoformat() == "2026-12-01T08:30:00+01:00"
    booked = await _book(http_client, slots[0].id)
    assert booked.status == "booked" and booked.phone == "+33612345678" and "Hôtel de ville" in booked.address
    again = await _book(http_client, slots[0].id)
    assert again.reference == booked.reference  # same idempotency key: booked once
    await _book(http_client, slots[0].id, key="k2", phone="07 81 22 33 44")  # the second counter
    with pytest.raises(SlotTaken):
        await _book(http_client, slots[0].id, key="k3", phone="07 81 22 33 45")
    assert (await http_client.find(booked.reference, "06 12 34 56 78")).start == slots[0].start
    moved = await http_client.reschedule(booked.reference, "06 12 34 56 78", slots[1].id)
    assert moved.start == slots[1].start
    assert (await http_client.cancel(booked.reference, "06 12 34 56 78")).status == "cancelled"


async def test_wrong_phone_and_bad_input_are_domain_errors(http_client: HttpBookingClient) -> None:
    slot = (await http_client.list_slots("cni", 1, date(2026, 12, 2), date(2026, 12, 2), limit=1))[0]
    booked = await _book(http_client, slot.id)
    with pytest.raises(AppointmentNotFound):
        await http_client.find(booked.reference, "07 81 22 33 44")
    with pytest.raises(BookingRejected):
        await http_client.find("../../health", "06 12 34 56 78")
    with pytest.raises(BookingRejected) as refused:
        await http_client.check_applications(["12"])
    assert "10" in refused.value.message
    checks = await http_client.check_applications(["ABCDE12345"])
    assert checks[0].ok and checks[0].message is None  # ANTS not configured here: nothing to refuse


async def test_an_unreachable_backend_is_unavailable_not_a_crash() -> None:
    booking = HttpBookingClient(f"http://127.0.0.1:{free_port()}", timeout_s=1)
    with pytest.raises(BookingUnavailable):
        await booking.list_slots("passport", 1, date(2026, 12, 1), date(2026, 12, 1))
    await booking.close()


async def test_a_server_error_is_unavailable(aiohttp_server: Any) -> None:
    async def broken(request: web.Request) -> web.Response:
        return web.Response(status=502, text="<html>Bad gateway</html>")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", broken)
    server = await aiohttp_server(app)
    booking = HttpBookingClient(str(server.make_url("")).rstrip("/"))
    with pytest.raises(BookingUnavailable):
        await booking.find("K7M4QX9B", "0612345678")
    await booking.close()


async def test_too_many_wrong_guesses_become_a_french_refusal_per_conversation(
        http_client: HttpBookingClient) -> None:
    slot = (await http_client.list_slots("cni", 1, date(2026, 12, 3), date(2026, 12, 3), limit=1))[0]
    booked = await _book(http_client, slot.id)
    for n in range(5):
        with pytest.raises(AppointmentNotFound):
            await http_client.find(booked.reference, f"07 81 22 33 4{n}", client="conversation-1")
    with pytest.raises(TooManyAttempts) as refused:
        await http_client.cancel(booked.reference, "06 12 34 56 78", client="conversation-2")
    assert "réessayez dans 15 minutes" in refused.value.message  # the reference itself is now protected


async def test_the_closures_staff_add_reach_the_bot(http_client: HttpBookingClient, client: Any) -> None:
    """Issue 16, defect 1: the bot reads every closure, the town file's and those staff add."""
    before = await http_client.closures()
    added = await client.post("/api/v1/staff/closures", headers={"Authorization": f"Bearer {STAFF}"},
                              json={"start": "2026-12-09", "reason": "Formation des agents"})
    assert added.status == 201
    after = await http_client.closures()
    new = [c for c in after if c not in before]
    assert [(c.start, c.end, c.reason) for c in new] == [(date(2026, 12, 9), date(2026, 12, 9),
                                                          "Formation des agents")]

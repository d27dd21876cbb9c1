"""Wrong guesses on lookup/cancel/reschedule are limited per reference and per client; right answers never are."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from booking.app import create_app
from booking.settings import BookingSettings, SettingsError, load_settings
from booking.store.sql import SqlStore
from guichet.clock import FrozenClock
from tests.contract.conftest import booking_body, first_slot


@pytest.fixture
async def limited(aiohttp_client: Any, store: SqlStore, clock: FrozenClock,
                  settings: BookingSettings) -> TestClient:
    strict = replace(settings, lookup_limit_reference="3 per 15 minutes", lookup_limit_client="6 per 15 minutes")
    return await aiohttp_client(create_app(strict, clock=clock, store=store))


async def _book(client: TestClient) -> str:
    slot = await first_slot(client)
    response = await client.post("/api/v1/appointments", json=booking_body(slot["id"]))
    assert response.status == 201, await response.text()
    return str((await response.json())["reference"])


async def test_phone_guesses_on_one_reference_are_refused_then_even_the_right_phone_waits(
        limited: TestClient) -> None:
    reference = await _book(limited)
    for guess in ("06 00 00 00 01", "06 00 00 00 02", "06 00 00 00 03"):
        response = await limited.get(f"/api/v1/appointments/{reference}", params={"phone": guess})
        assert response.status == 404
    blocked = await limited.get(f"/api/v1/appointments/{reference}", params={"phone": "06 12 34 56 78"})
    assert blocked.status == 429
    body = await blocked.json()
    assert body["error"]["code"] == "too_many_attempts"
    assert "réessayez dans 15 minutes" in body["error"]["message"]
    assert 800 <= int(blocked.headers["Retry-After"]) <= 900
    cancel = await limited.post(f"/api/v1/appointments/{reference}/cancel", json={"phone": "06 12 34 56 78"})
    assert cancel.status == 429, "cancel shares the reference's limit"


async def test_right_answers_are_never_counted(limited: TestClient) -> None:
    reference = await _book(limited)
    for _ in range(10):
        response = await limited.get(f"/api/v1/appointments/{reference}", params={"phone": "0612345678"})
        assert response.status == 200


async def test_a_client_trying_many_references_is_refused(limited: TestClient) -> None:
    codes = []
    for n in range(8):
        response = await limited.get(f"/api/v1/appointments/ABCDEF{n + 2}2", params={"phone": "0612345678"})
        codes.append(response.status)
    assert codes[:6] == [404] * 6
    assert codes[6:] == [429, 429]


async def test_the_action_server_names_each_conversation_so_citizens_do_not_share_one_limit(
        limited: TestClient) -> None:
    for n in range(6):
        response = await limited.get(f"/api/v1/appointments/ABCDEF{n + 2}3", params={"phone": "0612345678"},
                                     headers={"X-Guichet-Client": "conversation-a"})
        assert response.status == 404
    refused = await limited.get("/api/v1/appointments/ABCDEFZ3", params={"phone": "0612345678"},
                                headers={"X-Guichet-Client": "conversation-a"})
    assert refused.status == 429
    other = await limited.get("/api/v1/appointments/ABCDEFZ3", params={"phone": "0612345678"},
                              headers={"X-Guichet-Client": "conversation-b"})
    assert other.status == 404


async def test_limits_lift_after_their_window(aiohttp_client: Any, store: SqlStore, clock: FrozenClock,
                                              settings: BookingSettings) -> None:
    client = await aiohttp_client(create_app(replace(settings, lookup_limit_reference="2 per 1 second"),
                                             clock=clock, store=store))
    for _ in range(2):
        assert (await client.get("/api/v1/appointments/ABCDEFGH", params={"phone": "0612345678"})).status == 404
    assert (await client.get("/api/v1/appointments/ABCDEFGH", params={"phone": "0612345678"})).status == 429
    await asyncio.sleep(1.2)
    assert (await client.get("/api/v1/appointments/ABCDEFGH", params={"phone": "0612345678"})).status == 404


def test_an_unreadable_limit_is_refused_at_start(tmp_path: Any) -> None:
    with pytest.raises(SettingsError, match="GUICHET_LOOKUP_LIMIT_CLIENT"):
        load_settings([], {"GUICHET_LOOKUP_LIMIT_CLIENT": "beaucoup", "GUICHET_STAFF_TOKEN": "t"},
                      data_dir=tmp_path)

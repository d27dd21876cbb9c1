"""``GET /metrics`` of the booking backend: requests, bookings, cancellations, errors and latency, as deltas."""

from __future__ import annotations

from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from booking.keys import SERVICE
from tests.contract.conftest import booking_body, first_slot

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(client: TestClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(await response.text()):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def delta(after: Samples, before: Samples, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


async def test_requests_bookings_and_cancellations_are_counted(client: TestClient) -> None:
    before = await scrape(client)
    slot = await first_slot(client)
    booked = await client.post("/api/v1/appointments", json=booking_body(slot["id"], channel="chat"))
    assert booked.status == 201, await booked.text()
    appointment = await booked.json()
    replay = await client.post("/api/v1/appointments", json=booking_body(slot["id"], channel="chat"),
                               headers={"Idempotency-Key": "k1"})
    again = await client.post("/api/v1/appointments", json=booking_body(slot["id"], channel="chat"),
                              headers={"Idempotency-Key": "k1"})
    assert again.headers.get("Idempotent-Replayed") == "true", replay.status
    cancel = await client.post(f"/api/v1/appointments/{appointment['reference']}/cancel",
                               json={"phone": "06 12 34 56 78"})
    assert cancel.status == 200, await cancel.text()
    missing = await client.get("/api/v1/appointments/ZZZZZZZZ", params={"phone": "0612345678"})
    assert missing.status in (400, 404)
    after = await scrape(client)

    # The replayed request (same Idempotency-Key) is not a second booking.
    assert delta(after, before, "guichet_bookings_total", channel="chat") == 2
    assert delta(after, before, "guichet_cancellations_total", channel="chat") == 1
    route = "/api/v1/appointments"
    assert delta(after, before, "guichet_http_requests_total", service="booking", method="POST", route=route,
                 status="201") == 2
    assert delta(after, before, "guichet_http_requests_total", service="booking", method="POST", route=route,
                 status="200") == 1
    # Route templates, never the reference or phone number that was in the path or query string.
    assert delta(after, before, "guichet_http_requests_total", service="booking", method="GET",
                 route="/api/v1/appointments/{reference}", status=str(missing.status)) == 1
    text = await (await client.get("/metrics")).text()
    assert "ZZZZZZZZ" not in text and "0612345678" not in text and appointment["reference"] not in text
    assert delta(after, before, "guichet_http_request_duration_seconds_count", service="booking", method="GET",
                 route="/api/v1/slots") == 1
    assert delta(after, before, "guichet_http_request_duration_seconds_sum", service="booking", method="GET",
                 route="/api/v1/slots") > 0
    # The scrape itself is not counted.
    assert delta(after, before, "guichet_http_requests_total", service="booking", method="GET", route="/metrics",
                 status="200") == 0


async def test_unknown_addresses_share_one_label(client: TestClient) -> None:
    before = await scrape(client)
    for path in ("/nope/0612345678", "/nope/other"):
        assert (await client.get(path)).status == 404
    after = await scrape(client)
    assert delta(after, before, "guichet_http_requests_total", service="booking", method="GET", route="unmatched",
                 status="404") == 2


async def test_unexpected_errors_are_counted(client: TestClient) -> None:
    before = await scrape(client)
    service = client.app[SERVICE]
    original = service.list_slots

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    service.list_slots = broken
    try:
        response = await client.get("/api/v1/slots", params={"procedure": "passport", "from": "2026-12-01",
                                                             "to": "2026-12-01"})
    finally:
        service.list_slots = original
    assert response.status == 500
    after = await scrape(client)
    assert delta(after, before, "guichet_errors_total", service="booking", kind="http_5xx") == 1
    assert delta(after, before, "guichet_http_requests_total", service="booking", method="GET",
                 route="/api/v1/slots", status="500") == 1

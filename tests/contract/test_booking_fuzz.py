"""Hostile requests on every endpoint of the real booking backend: never a 5xx, always a JSON reason, no crash.

Hypothesis generates the requests (paths with odd segments, random query strings, JSON of any shape, raw bytes,
wrong tokens) against the app served on loopback from a background thread; the test talks to it over real HTTP.
"""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from booking.app import create_app
from booking.settings import BookingSettings
from tests.integration.stack import free_port

STAFF, HUB = "fuzz-staff-token", "fuzz-hub-token"
ROUTES = [
    ("GET", "/health"), ("GET", "/api/v1/meeting-points"), ("GET", "/api/v1/slots"),
    ("POST", "/api/v1/application-ids/check"), ("POST", "/api/v1/holds"), ("DELETE", "/api/v1/holds/{x}"),
    ("POST", "/api/v1/appointments"), ("GET", "/api/v1/appointments/{x}"),
    ("POST", "/api/v1/appointments/{x}/cancel"), ("POST", "/api/v1/appointments/{x}/reschedule"),
    ("GET", "/api/v1/staff/appointments"), ("GET", "/api/v1/staff/appointments/{x}"),
    ("POST", "/api/v1/staff/appointments/{x}/status"), ("POST", "/api/v1/staff/closures"),
    ("GET", "/api/ants/getManagedMeetingPoints"), ("GET", "/api/ants/availableTimeSlots"),
    ("GET", "/api/ants/searchApplicationIds"), ("GET", "/api/openapi.json"),
]
KEYS = ["slot_id", "procedure", "people", "name", "phone", "email", "application_ids", "channel", "hold_id",
        "status", "start", "end", "reason", "meeting_point_id", "from", "to", "date", "limit", "part_of_day",
        "meeting_point_ids", "start_date", "end_date", "reason", "documents_number", "application_ids"]
HOSTILE = st.sampled_from(["", " ", "null", "0", "-1", "1e309", "9" * 40, "2026-02-30", "2026-12-01T25:00",
                           "<script>alert(1)</script>", "' OR 1=1 --", "../../etc/passwd", "%00", "\u0000",
                           "\u202e\u05d0\u05d1", "😀" * 50, "x" * 5000, "passport", "cni", "06 12 34 56 78",
                           "hotel-de-ville.202612010830", "K7M4QX9B"])
TEXT = st.one_of(HOSTILE, st.text(max_size=300))
JSON_VALUE = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
                          lambda inner: st.lists(inner, max_size=5) | st.dictionaries(TEXT, inner, max_size=5),
                          max_leaves=20)


@dataclass(frozen=True)
class Fuzzed:
    method: str
    path: str
    query: dict[str, str]
    body: bytes | None
    headers: dict[str, str]


@st.composite
def requests(draw: st.DrawFn) -> Fuzzed:
    method, template = draw(st.sampled_from(ROUTES))
    method = draw(st.sampled_from([method, method, method, "PUT", "PATCH", "GET", "POST", "DELETE"]))
    segment = urllib.parse.quote(draw(TEXT), safe="") or "x"
    # Request lines stay under aiohttp's 8 KB limit here; longer ones are refused by its parser (see below).
    query = draw(st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=20)), TEXT, max_size=6))
    assume(len(segment) + len(urllib.parse.urlencode(query)) < 7000)
    body: bytes | None = None
    if method in ("POST", "PUT", "PATCH"):
        body = draw(st.one_of(
            st.dictionaries(st.sampled_from(KEYS), JSON_VALUE, max_size=8).map(lambda d: json.dumps(d).encode()),
            JSON_VALUE.map(lambda v: json.dumps(v).encode()),
            st.binary(max_size=2000),
            st.just(b"{" * 10_000),
            st.just(json.dumps({"name": "x" * 100_000}).encode()),
        ))
    headers = {"Content-Type": draw(st.sampled_from(["application/json", "text/plain",
                                                     "application/x-www-form-urlencoded"]))}
    token = draw(st.sampled_from([None, STAFF, "wrong", "", "Bearer", "\u00e9\u00e9"]))
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
        headers["X-HUB-RDV-AUTH-TOKEN"] = token.replace("fuzz-staff", "fuzz-hub")
    if draw(st.booleans()):
        headers["Idempotency-Key"] = draw(st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126),
                                                  max_size=300))
    return Fuzzed(method, template.replace("{x}", segment), query, body, headers)


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    work: Path = tmp_path_factory.mktemp("fuzz")
    settings_ = BookingSettings(database_url=f"sqlite:///{work / 'booking.db'}", staff_token=STAFF,
                                ants_hub_token=HUB, lookup_limit_client="100000 per 1 minute")
    port = free_port()
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(create_app(settings_), access_log=None)
    started = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert started.wait(30), "the booking app did not start"
    yield f"http://127.0.0.1:{port}"
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def _send(base_url: str, r: Fuzzed) -> tuple[int, bytes]:
    url = base_url + r.path + ("?" + urllib.parse.urlencode(r.query) if r.query else "")
    request = urllib.request.Request(url, data=r.body, method=r.method, headers=r.headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(requests())
def test_no_request_gets_a_server_error(base_url: str, r: Fuzzed) -> None:
    status, body = _send(base_url, r)
    assert status < 500, f"{r.method} {r.path[:200]} → {status}: {body[:300]!r}"
    if status >= 400:
        error: Any = json.loads(body)["error"]
        assert error["code"] and error["message"], body[:300]


def test_an_oversized_request_line_or_body_is_refused_with_a_4xx(base_url: str) -> None:
    status, _ = _send(base_url, Fuzzed("GET", "/api/v1/slots", {"procedure": "x" * 20_000}, None, {}))
    assert status == 400
    status, body = _send(base_url, Fuzzed("POST", "/api/v1/appointments", {}, b'{"name": "' + b"x" * 200_000 + b'"}',
                                          {"Content-Type": "application/json"}))
    assert status == 413 and json.loads(body)["error"]["code"] == "request_too_large"


def test_the_backend_still_books_after_the_fuzzing(base_url: str) -> None:
    with urllib.request.urlopen(f"{base_url}/api/v1/slots?procedure=cni&from=2026-12-01&to=2026-12-31&limit=1",
                                timeout=30) as response:
        slot = json.loads(response.read())["slots"][0]
    body = json.dumps({"slot_id": slot["id"], "procedure": "cni", "people": 1, "name": "Marie Dupont",
                       "phone": "06 12 34 56 78"}).encode()
    request = urllib.request.Request(f"{base_url}/api/v1/appointments", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 201

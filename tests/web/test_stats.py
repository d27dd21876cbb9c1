"""The statistics page's figures: from a Rasa tracker store (SQLite, Rasa's own table), the desk's cases and the
real booking backend's staff API."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from booking.app import create_app as booking_app
from booking.settings import BookingSettings
from guichet.clock import FrozenClock
from tests.web.conftest import PASSWORD, post_case
from web.app import create_app
from web.auth import Passwords
from web.keys import PASSWORDS, STORE
from web.settings import DeskSettings
from web.stats import summarize

# Rasa 3.6's SQLTrackerStore table (rasa/core/tracker_store.py, SQLEvent)
EVENTS = ("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255) NOT NULL, type_name VARCHAR(255) "
          "NOT NULL, timestamp FLOAT, intent_name VARCHAR(255), action_name VARCHAR(255), data TEXT)")


def _turn(sender: str, at: datetime, channel: str, answer_s: float, *, handoff: bool = False) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = [(sender, "user", None, at.timestamp(), json.dumps({"input_channel": channel}))]
    if handoff:
        rows.append((sender, "action", "action_handoff", at.timestamp() + answer_s / 2, None))
    rows.append((sender, "action", "action_listen", at.timestamp() + answer_s, None))
    return rows


def _conversations(now: datetime) -> list[tuple[Any, ...]]:
    rows = []
    rows += _turn("web-1", now - timedelta(minutes=10), "socketio", 0.100)
    rows += _turn("web-1", now - timedelta(minutes=5), "socketio", 0.300)
    rows += _turn("rest-2", now - timedelta(minutes=20), "rest", 0.200, handoff=True)
    rows += _turn("call-3", now - timedelta(hours=3, minutes=1), "voice", 0.400)
    rows += _turn("old-4", now - timedelta(days=3), "rest", 5.0)  # in the week, not in the last 24 h
    return rows


def test_figures_from_tracker_rows(clock: FrozenClock) -> None:
    now = clock.now()
    figures = summarize(_conversations(now), now)
    hours = {datetime.fromisoformat(h["hour"]).hour: h for h in figures.per_hour}
    assert len(figures.per_hour) == 24 and datetime.fromisoformat(figures.per_hour[-1]["hour"]).hour == now.hour
    assert hours[9]["chat"] == 2 and hours[9]["phone"] == 0  # 9:40, 9:50 and 9:55, said at 10:00
    assert hours[6]["phone"] == 1 and sum(h["phone"] for h in figures.per_hour) == 1
    assert sum(h["chat"] for h in figures.per_hour) == 2, "one conversation per hour counted once"
    assert (figures.conversations, figures.escalated) == (4, 1)
    assert figures.latency_ms["p50"] is not None and 200 <= figures.latency_ms["p50"] <= 300
    assert figures.latency_ms["p95"] is not None and 390 <= figures.latency_ms["p95"] <= 410, "the old turn is out"


async def test_the_stats_endpoint_combines_the_three_sources(
        tmp_path: Path, settings: DeskSettings, clock: FrozenClock, passwords: Passwords,
        aiohttp_server: Callable[..., Awaitable[TestServer]],
        aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]]) -> None:
    tracker = tmp_path / "rasa-tracker.db"
    with sqlite3.connect(tracker) as db:
        db.execute(EVENTS)
        db.executemany("INSERT INTO events (sender_id, type_name, action_name, timestamp, data) VALUES (?, ?, ?, ?, ?)",
                       _conversations(clock.now()))
    booking = await aiohttp_server(booking_app(BookingSettings(database_url=f"sqlite:///{tmp_path / 'b.db'}",
                                                               staff_token="staff-token"), clock=clock))
    slots = await (await booking_client(booking, aiohttp_client)).get(
        "/api/v1/slots", params={"procedure": "cni", "from": "2026-12-01", "to": "2026-12-01", "limit": "2"})
    client = await booking_client(booking, aiohttp_client)
    for slot, channel in zip((await slots.json())["slots"], ("chat", "voice"), strict=True):
        made = await client.post("/api/v1/appointments", json={
            "slot_id": slot["id"], "procedure": "cni", "people": 1, "name": "Marie Dupont",
            "phone": "06 12 34 56 78", "channel": channel})
        assert made.status == 201, await made.text()
    desk_settings = replace(settings, tracker_url=f"sqlite:///{tracker}", booking_url=str(booking.make_url("")))
    app = create_app(desk_settings, clock=clock, passwords=passwords)
    desk = await aiohttp_server(app)
    await app[STORE].add_operator("alice", app[PASSWORDS].hash_now(PASSWORD), "agent", clock.now())
    http = await aiohttp_client(desk)
    assert (await http.get("/api/v1/console/stats")).status == 401, "operators only"
    await post_case(http)
    token = (await (await http.get("/api/v1/console/login")).json())["csrf"]
    await http.post("/api/v1/console/login", json={"username": "alice", "password": PASSWORD},
                    headers={"X-CSRF-Token": token})
    response = await http.get("/api/v1/console/stats")
    assert response.status == 200, await response.text()
    stats = await response.json()
    assert stats["week"] == {"conversations": 4, "escalated": 1, "containment": 0.75}
    assert stats["escalations_by_reason"] == [{"reason": "asked", "count": 1}]
    today = stats["bookings_per_day"][-1]
    assert today["date"] == clock.now().date().isoformat() and today["booked"] == {"chat": 1, "voice": 1}
    assert len(stats["bookings_per_day"]) == 14 and stats["problems"] == []


async def booking_client(server: TestServer,
                         aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]]) -> TestClient[Any, Any]:
    return await aiohttp_client(server)

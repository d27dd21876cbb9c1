"""Action-server metrics: recorded by the real actions, served by prometheus-client on the configured port."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import metrics as action_metrics
from actions.booking_actions import ActionBookAppointment
from actions.deps import ActionSettings, Deps, use
from actions.fake_booking import FakeBooking
from actions.fallback import ActionFallback
from clients.tickets import SqliteTicketStore
from guichet.clock import PARIS, FrozenClock

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=PARIS)
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def booking(tmp_path: Path) -> Iterator[FakeBooking]:
    fake = FakeBooking.weekdays(date(2026, 11, 26))
    use(Deps(ActionSettings(data_dir=tmp_path), clock=FrozenClock(NOW), booking=fake,
             tickets=SqliteTicketStore(tmp_path / "tickets.sqlite3")))
    yield fake
    use(None)


@pytest.fixture(scope="module")
def port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(port: int, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("GUICHET_ACTIONS_METRICS_PORT", str(port))
    monkeypatch.setattr(action_metrics, "_started", False)
    return port


def scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def delta(after: Samples, before: Samples, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


def tracker(slots: dict[str, Any], channel: str, events: list[dict[str, Any]] | None = None,
            intent: str = "inform") -> Tracker:
    latest = {"text": "oui", "intent": {"name": intent, "confidence": 0.9}, "entities": []}
    history = [*(events or []), {"event": "user", "text": "oui", "parse_data": latest, "input_channel": channel}]
    return Tracker("conv-m", slots, latest, history, False, None, {}, "action_listen")


def ready_to_book(booking: FakeBooking, index: int) -> dict[str, Any]:
    slot = booking.slots[index]
    return {"procedure": "passport", "people": 1, "person_name": "Marie Dupont", "phone": "06 12 34 56 78",
            "booking_confirmed": True, "predemande_ids": [],
            "chosen_slot": {"id": slot.id, "start": slot.start.isoformat(), "end": slot.end.isoformat()}}


def test_nothing_is_served_at_import_or_without_a_port(monkeypatch: pytest.MonkeyPatch, port: int) -> None:
    monkeypatch.delenv("GUICHET_ACTIONS_METRICS_PORT", raising=False)
    monkeypatch.setattr(action_metrics, "_started", False)
    action_metrics.cancelled(tracker({}, "rest"))
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)


async def test_bookings_containment_misunderstandings_and_errors(served: int, booking: FakeBooking) -> None:
    await ActionFallback().run(CollectingDispatcher(), tracker({}, "socketio", intent="nlu_fallback"), {})
    before = scrape(served)  # the first recorded event started the server
    await ActionBookAppointment().run(CollectingDispatcher(), tracker(ready_to_book(booking, 0), "voice"), {})
    after_handoff = [{"event": "action", "name": "action_handoff"}]
    await ActionBookAppointment().run(CollectingDispatcher(),
                                      tracker(ready_to_book(booking, 1), "socketio", after_handoff), {})
    await ActionFallback().run(CollectingDispatcher(), tracker({}, "socketio", intent="nlu_fallback"), {})
    booking.down = True
    await ActionBookAppointment().run(CollectingDispatcher(), tracker(ready_to_book(booking, 2), "rest"), {})
    after = scrape(served)
    assert len(booking.appointments) == 2
    assert delta(after, before, "guichet_bookings_total", channel="voice") == 1
    assert delta(after, before, "guichet_bookings_total", channel="socketio") == 1
    # Contained: booked without a human; the socket.io conversation had been handed to an agent first.
    assert delta(after, before, "guichet_conversations_contained_total", channel="voice") == 1
    assert delta(after, before, "guichet_conversations_contained_total", channel="socketio") == 0
    assert delta(after, before, "guichet_misunderstandings_total", channel="socketio") == 1
    assert delta(after, before, "guichet_errors_total", service="actions", kind="booking_unavailable") == 1
    assert delta(after, before, "guichet_bookings_total", channel="rest") == 0


def test_escalations_are_labelled_by_channel_and_reason(served: int) -> None:
    action_metrics.escalated(tracker({}, "whatever-channel"), "not_understood")
    before = scrape(served)
    action_metrics.escalated(tracker({}, "voice"), "asked")
    action_metrics.escalated(tracker({}, "custom"), "asked")
    after = scrape(served)
    assert delta(after, before, "guichet_escalations_total", channel="voice", reason="asked") == 1
    assert delta(after, before, "guichet_escalations_total", channel="rest", reason="asked") == 1  # bounded label


def test_a_taken_port_does_not_break_the_action(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        monkeypatch.setenv("GUICHET_ACTIONS_METRICS_PORT", str(busy.getsockname()[1]))
        monkeypatch.setattr(action_metrics, "_started", False)
        action_metrics.booked(tracker({}, "rest"))  # logs a warning, does not raise


def test_the_rasa_sdk_plugin_serves_metrics_on_the_action_server_port(tmp_path: Path) -> None:
    """deploy/rasa-sdk-plugins on PYTHONPATH (as deploy/Procfile and the image do): /metrics on the action port."""
    root = Path(__file__).resolve().parents[2]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(root / "deploy" / "rasa-sdk-plugins"), "SANIC_HOST": "127.0.0.1",
           "GUICHET_DATA_DIR": str(tmp_path / "data")}
    env.pop("GUICHET_ACTIONS_METRICS_PORT", None)
    log = (tmp_path / "actions.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "rasa_sdk", "--actions", "actions", "--port", str(port)],
                               cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
                    text = response.read().decode()
                    content_type = response.headers["Content-Type"]
                break
            except OSError:
                assert process.poll() is None, (tmp_path / "actions.log").read_text()[-3000:]
                assert time.monotonic() < deadline, (tmp_path / "actions.log").read_text()[-3000:]
                time.sleep(0.3)
        assert content_type.startswith("text/plain")
        names = {family.name for family in text_string_to_metric_families(text)}
        assert {"guichet_bookings", "guichet_escalations", "guichet_misunderstandings", "guichet_dialogue_sessions",
                "guichet_dialogue_turns", "guichet_dialogue_turn_duration_seconds"} <= names, names
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
            assert response.status == 200  # the action server itself still answers
    finally:  # Sanic serves from a worker process: stop the whole group
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


# --- TrackerStats: conversations, turns and latency from Rasa's tracker store ------------------------------------

SCHEMA = ("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255) NOT NULL, type_name VARCHAR(255) "
          "NOT NULL, timestamp FLOAT, intent_name VARCHAR(255), action_name VARCHAR(255), data TEXT)")


def store_events(db: Path, rows: list[tuple[str, str, str | None, float, dict[str, Any]]]) -> None:
    with sqlite3.connect(db) as conn:
        conn.executemany("INSERT INTO events (sender_id, type_name, action_name, timestamp, data) VALUES (?,?,?,?,?)",
                         [(s, t, a, ts, json.dumps(d)) for s, t, a, ts, d in rows])


def samples(stats: action_metrics.TrackerStats) -> Samples:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for family in stats.collect() for s in family.samples}


def turn(sender: str, at: float, channel: str, answered_after: float) -> list[tuple[str, str, str | None, float,
                                                                                   dict[str, Any]]]:
    return [(sender, "user", None, at, {"event": "user", "text": "06 12 34 56 78", "input_channel": channel}),
            (sender, "action", "utter_x", at + answered_after / 2, {}),
            (sender, "bot", None, at + answered_after / 2, {"text": "ok"}),
            (sender, "action", "action_listen", at + answered_after, {})]


def test_tracker_stats_count_only_new_events_by_channel(tmp_path: Path) -> None:
    db = tmp_path / "rasa-tracker.db"
    with sqlite3.connect(db) as conn:
        conn.execute(SCHEMA)
    store_events(db, [("old", "session_started", None, 1.0, {}), *turn("old", 2.0, "rest", 0.1)])
    stats = action_metrics.TrackerStats(f"sqlite:///{db}")
    stats.refresh()  # starting point: the conversation already stored is not counted
    store_events(db, [("a", "session_started", None, 10.0, {}), *turn("a", 11.0, "socketio", 0.12),
                      ("b", "session_started", None, 10.5, {}), *turn("b", 11.1, "voice", 0.4),
                      *turn("a", 20.0, "socketio", 0.05),
                      ("a", "action", "action_handoff", 20.2, {})])
    first = samples(stats)
    assert first[("guichet_dialogue_sessions_total", ())] == 2
    assert first[("guichet_dialogue_turns_total", (("channel", "socketio"),))] == 2
    assert first[("guichet_dialogue_turns_total", (("channel", "voice"),))] == 1
    assert ("guichet_dialogue_turns_total", (("channel", "rest"),)) not in first
    assert first[("guichet_dialogue_handoffs_total", ())] == 1
    assert first[("guichet_dialogue_turn_duration_seconds_count", (("channel", "socketio"),))] == 2
    assert abs(first[("guichet_dialogue_turn_duration_seconds_sum", (("channel", "socketio"),))] - 0.17) < 1e-6
    assert first[("guichet_dialogue_turn_duration_seconds_bucket", (("channel", "voice"), ("le", "0.3")))] == 0
    assert first[("guichet_dialogue_turn_duration_seconds_bucket", (("channel", "voice"), ("le", "0.5")))] == 1
    # A turn still being answered at scrape time is timed when its answer lands.
    store_events(db, [("b", "user", None, 30.0, {"input_channel": "voice"})])
    assert samples(stats)[("guichet_dialogue_turn_duration_seconds_count", (("channel", "voice"),))] == 1
    store_events(db, [("b", "action", "action_listen", 30.25, {})])
    again = samples(stats)
    assert again[("guichet_dialogue_turn_duration_seconds_count", (("channel", "voice"),))] == 2
    assert again[("guichet_dialogue_turns_total", (("channel", "voice"),))] == 2
    assert again[("guichet_dialogue_sessions_total", ())] == 2  # nothing counted twice


def test_tracker_stats_survive_a_missing_store(tmp_path: Path) -> None:
    stats = action_metrics.TrackerStats(f"sqlite:///{tmp_path / 'not-yet.db'}")
    stats.refresh()
    assert samples(stats)[("guichet_dialogue_sessions_total", ())] == 0
    broken = action_metrics.TrackerStats("postgresql://nobody@127.0.0.1:1/none")
    assert samples(broken)[("guichet_dialogue_handoffs_total", ())] == 0  # logged, the scrape still answers

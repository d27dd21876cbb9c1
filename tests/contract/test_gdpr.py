"""``python -m guichet.gdpr``: one citizen's data found, exported and erased in every store — the real booking app on
loopback, a real SQLite desk database, a real SQLite tracker store holding Rasa-shaped rows, a real outbox — and the
retention purge of the desk, the conversations and the outbox (plus the tracker part on PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import closing
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg  # type: ignore[import-untyped]
import pytest
from aiohttp.test_utils import TestServer

from booking.app import create_app as booking_app
from booking.settings import BookingSettings
from clients.desk import ResilientDesk
from clients.tickets import SqliteTicketStore, Ticket
from guichet.clock import FrozenClock
from guichet.gdpr.citizen import Citizen
from guichet.gdpr.operations import erase, export, purge
from guichet.gdpr.stores import Stores
from guichet.tracker_purge import TrackerEvents
from web.app import create_app as desk_app
from web.settings import DeskSettings
from web.store import DeskStore, NewCase, open_store

ROOT = Path(__file__).resolve().parents[2]
STAFF = "staff-token-for-gdpr-tests"
MARIE, PAUL = "06 12 34 56 78", "07 81 22 33 44"
# Rasa 3.6's SQLTrackerStore table (rasa/core/tracker_store.py, SQLEvent)
EVENTS = ("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255) NOT NULL, type_name VARCHAR(255) "
          "NOT NULL, timestamp FLOAT, intent_name VARCHAR(255), action_name VARCHAR(255), data TEXT)")
EventRow = tuple[str, str, float, str | None, str | None, str]


def user(sender: str, at: datetime, text: str, *, channel: str = "socketio",
         metadata: dict[str, Any] | None = None) -> EventRow:
    data = {"event": "user", "timestamp": at.timestamp(), "text": text, "input_channel": channel,
            "metadata": metadata or {}, "parse_data": {"intent": {"name": "inform"}}}
    return sender, "user", at.timestamp(), "inform", None, json.dumps(data)


def slot(sender: str, at: datetime, name: str, value: Any) -> EventRow:
    return sender, "slot", at.timestamp(), None, None, json.dumps({"event": "slot", "timestamp": at.timestamp(),
                                                                    "name": name, "value": value})


def bot(sender: str, at: datetime, text: str) -> EventRow:
    return sender, "bot", at.timestamp(), None, None, json.dumps({"event": "bot", "text": text})


def action(sender: str, at: datetime, name: str) -> EventRow:
    return sender, "action", at.timestamp(), None, name, json.dumps({"event": "action", "name": name})


def store_events(path: Path, rows: list[EventRow]) -> None:
    with closing(sqlite3.connect(path)) as db, db:
        if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'events'").fetchone() is None:
            db.execute(EVENTS)
        db.executemany("INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data) "
                       "VALUES (?, ?, ?, ?, ?, ?)", rows)


def senders(path: Path) -> set[str]:
    with closing(sqlite3.connect(path)) as db:
        return {r[0] for r in db.execute("SELECT DISTINCT sender_id FROM events")}


def conversations(now: datetime) -> list[EventRow]:
    """Marie in three conversations (phone slot; voice caller; number said in words), Paul in one, and a stranger
    whose number differs from Marie's by one digit."""
    t = now - timedelta(hours=1)
    return [
        user("web-marie", t, "je voudrais un rendez-vous passeport"), bot("web-marie", t, "À quel numéro ?"),
        user("web-marie", t, "06 12 34 56 78"), slot("web-marie", t, "phone", MARIE),
        action("web-marie", t, "action_listen"),
        user("call-marie", t, "bonjour", channel="voice", metadata={"caller": "+33612345678", "call_id": "c1"}),
        user("chat-words", t, "mon numéro c'est zéro six douze trente-quatre cinquante-six soixante-dix-huit"),
        user("web-paul", t, "rappelez-moi"), slot("web-paul", t, "phone", PAUL),
        user("web-near", t, "06 12 34 56 79"), slot("web-near", t, "phone", "06 12 34 56 79"),
    ]


@dataclass
class World:
    stores: Stores
    desk: DeskStore
    tracker: TrackerEvents
    outbox: SqliteTicketStore
    booking: TestServer
    marie_case: int
    paul_case: int


def new_case(conversation: str, phone: str | None, transcript: list[tuple[str, str]], **collected: Any) -> NewCase:
    return NewCase(conversation, "socketio", "asked", phone, collected, transcript, True, False)


async def book(server: TestServer, phone: str, name: str, day: str) -> str:
    async with aiohttp.ClientSession(str(server.make_url(""))) as http:
        slots = await (await http.get("/api/v1/slots", params={"procedure": "passport", "people": "1",
                                                                "from": day, "to": day})).json()
        made = await http.post("/api/v1/appointments", json={
            "slot_id": slots["slots"][0]["id"], "procedure": "passport", "people": 1, "name": name, "phone": phone})
        assert made.status == 201, await made.text()
        return str((await made.json())["reference"])


@pytest.fixture
async def world(tmp_path: Path, clock: FrozenClock,
                aiohttp_server: Callable[..., Awaitable[TestServer]]) -> AsyncIterator[World]:
    now = clock.now()
    server = await aiohttp_server(booking_app(BookingSettings(database_url=f"sqlite:///{tmp_path / 'booking.db'}",
                                                              staff_token=STAFF), clock=clock))
    await book(server, MARIE, "Marie Dupont", "2026-12-01")
    await book(server, "+33 6 12 34 56 78", "Marie Dupont", "2026-12-02")
    await book(server, PAUL, "Paul Martin", "2026-12-01")
    desk = open_store(f"sqlite:///{tmp_path / 'desk.sqlite3'}")
    await desk.migrate()
    marie, _ = await desk.create_case(new_case("web-marie", "+33612345678", [("citoyen", "un agent svp")],
                                               nom="Marie Dupont", predemande_ids=["AB12CD34EF"]), now)
    await desk.create_case(new_case("live-1", None, [("citoyen", "rappelez-moi au 06.12.34.56.78")]), now)
    paul, _ = await desk.create_case(new_case("web-paul", PAUL, [("citoyen", "bonjour")], nom="Paul Martin"), now)
    await desk.add_message(marie.id, "agent", "Je vous rappelle, Madame Dupont.", now)
    store_events(tmp_path / "rasa-tracker.db", conversations(now))
    outbox = SqliteTicketStore(tmp_path / "tickets.sqlite3", clock=clock)
    await outbox.create(Ticket("call-marie", "voice", "asked", now, "0612345678", {}, [{"from": "citoyen",
                                                                                       "text": "bonjour"}]))
    await outbox.create(Ticket("call-paul", "voice", "asked", now, "+33781223344"))
    stores = Stores(str(server.make_url("")).rstrip("/"), STAFF, f"sqlite:///{tmp_path / 'desk.sqlite3'}",
                    f"sqlite:///{tmp_path / 'rasa-tracker.db'}", tmp_path / "tickets.sqlite3", 180)
    yield World(stores, desk, TrackerEvents(stores.tracker_url), outbox, server, marie.id, paul.id)
    await desk.close()


async def run_gdpr(tmp_path: Path, world: World, *args: str) -> tuple[int, str, str]:
    """The real command in a subprocess (the booking app keeps answering on this event loop meanwhile)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUICHET_")}
    env.update(PYTHONPATH=str(ROOT), GUICHET_DATA_DIR=str(tmp_path), GUICHET_BOOKING_URL=world.stores.booking_url,
               GUICHET_STAFF_TOKEN=STAFF)
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "guichet.gdpr", *args, cwd=tmp_path, env=env,
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_export_finds_the_citizen_in_every_store(world: World, clock: FrozenClock) -> None:
    document, failures = await export(world.stores, Citizen("0612345678"), world.desk, world.tracker, world.outbox,
                                      clock)
    assert failures == {}
    assert document["phone"] == "+33612345678"
    assert [a["name"] for a in document["booking"]["appointments"]] == ["Marie Dupont", "Marie Dupont"]
    cases = {c["conversation_id"]: c for c in document["desk"]["cases"]}
    assert set(cases) == {"web-marie", "live-1"}, "by phone, and by a number written in a message"
    assert cases["web-marie"]["collected"]["nom"] == "Marie Dupont"
    assert [m["text"] for m in cases["web-marie"]["messages"]] == ["un agent svp", "Je vous rappelle, Madame Dupont."]
    found = {c["sender_id"]: c["events"] for c in document["tracker"]["conversations"]}
    assert set(found) == {"web-marie", "call-marie", "chat-words"}
    assert [e.get("text") for e in found["web-marie"] if e["type"] in ("user", "bot")] == [
        "je voudrais un rendez-vous passeport", "À quel numéro ?", "06 12 34 56 78"]
    assert {"type": "slot", "slot": "phone", "value": MARIE} == {k: v for k, v in found["web-marie"][3].items()
                                                                 if k != "at"}
    assert [t["conversation_id"] for t in document["outbox"]["tickets"]] == ["call-marie"]
    assert document["counts"] == {"appointments": 2, "cases": 2, "messages": 3, "conversations": 3, "events": 7,
                                  "tickets": 1}


async def test_erase_by_the_command_removes_everything_of_that_citizen_only(
        world: World, tmp_path: Path, clock: FrozenClock) -> None:
    code, out, err = await run_gdpr(tmp_path, world, "erase", "--phone", "+33 6 12 34 56 78")
    assert code == 2 and "--yes" in err and "refusé" in err, "nothing is erased without --yes"
    assert senders(tmp_path / "rasa-tracker.db") >= {"web-marie", "call-marie"}

    code, out, err = await run_gdpr(tmp_path, world, "erase", "--phone", "+33 6 12 34 56 78", "--yes")
    assert code == 0, out + err
    assert "12 34" not in out + err and "+•••••••••78" in out, "the number is masked in the command's messages"
    assert "2 rendez-vous effacé(s), dont 2 à venir annulé(s)" in out
    assert "2 dossier(s) anonymisé(s), 3 message(s) supprimé(s)" in out
    assert "3 conversation(s) supprimée(s) (7 événement(s))" in out
    assert "1 demande(s) de rappel supprimée(s)" in out

    document, failures = await export(world.stores, Citizen(MARIE), world.desk, world.tracker, world.outbox, clock)
    assert failures == {} and set(document["counts"].values()) == {0}, document
    assert senders(tmp_path / "rasa-tracker.db") == {"web-paul", "web-near"}
    marie = await world.desk.case(world.marie_case)
    assert marie is not None and (marie.phone, marie.collected, marie.status) == (None, {}, "resolved")
    assert await world.desk.messages(world.marie_case) == []
    paul = await world.desk.case(world.paul_case)
    assert paul is not None and paul.phone == PAUL and paul.collected == {"nom": "Paul Martin"}
    assert [t.ticket.conversation_id for t in await world.outbox.tickets()] == ["call-paul"]
    kept, _ = await export(world.stores, Citizen(PAUL), world.desk, world.tracker, world.outbox, clock)
    assert kept["counts"] == {"appointments": 1, "cases": 1, "messages": 1, "conversations": 1, "events": 2,
                              "tickets": 1}


async def test_export_by_the_command_writes_one_json_document(world: World, tmp_path: Path) -> None:
    code, out, err = await run_gdpr(tmp_path, world, "export", "--phone", "06.12.34.56.78", "--out", "marie.json")
    assert code == 0 and out == "", err
    document = json.loads((tmp_path / "marie.json").read_text(encoding="utf-8"))
    assert document["counts"]["conversations"] == 3 and document["counts"]["appointments"] == 2
    assert "Madame Dupont" in (tmp_path / "marie.json").read_text(encoding="utf-8"), "UTF-8, not escaped"
    assert "+•••••••••78" in err and "12 34" not in err


async def test_an_unreachable_store_is_named_and_the_others_are_still_erased(world: World, clock: FrozenClock) -> None:
    stores = replace(world.stores, booking_url="http://127.0.0.1:9")
    broken_desk = open_store("postgresql://nobody@127.0.0.1:9/desk")
    try:
        report = await erase(stores, Citizen(MARIE), broken_desk, world.tracker, world.outbox, clock)
    finally:
        await broken_desk.close()
    assert set(report.failures) == {"booking", "desk"}
    assert report.lines == {"tracker": "3 conversation(s) supprimée(s) (7 événement(s))",
                            "outbox": "1 demande(s) de rappel supprimée(s)"}
    assert (await world.desk.case(world.marie_case)).phone == "+33612345678"  # type: ignore[union-attr]


async def test_purge_removes_only_what_is_past_the_retention(tmp_path: Path, clock: FrozenClock) -> None:
    now = clock.now()
    old, recent = now - timedelta(days=200), now - timedelta(days=100)
    desk = open_store(f"sqlite:///{tmp_path / 'desk.sqlite3'}")
    await desk.migrate()
    ids = {}
    for name, at, resolve in (("old-resolved", old, True), ("old-open", old, False),
                              ("recent-resolved", recent, True)):
        case, _ = await desk.create_case(new_case(name, MARIE, [("citoyen", "bonjour")]), at)
        if resolve:
            await desk.update_case(case.id, at, status="resolved", outcome="renseigne")
        ids[name] = case.id
    store_events(tmp_path / "rasa-tracker.db", [
        user("idle", old, "bonjour"), bot("idle", old + timedelta(minutes=1), "Bonjour !"),
        user("came-back", old, "bonjour"), user("came-back", recent, "me revoilà"), user("fresh", now, "salut")])
    outbox = SqliteTicketStore(tmp_path / "tickets.sqlite3", clock=clock)
    forwarded_old = await outbox.create(Ticket("t-old", "voice", "asked", old, MARIE))
    await outbox.create(Ticket("t-old-open", "voice", "asked", old, MARIE))
    forwarded_recent = await outbox.create(Ticket("t-recent", "voice", "asked", recent, MARIE))
    for number in (forwarded_old, forwarded_recent):
        await outbox.forwarded(number)
    tracker = TrackerEvents(f"sqlite:///{tmp_path / 'rasa-tracker.db'}")

    report = await purge(desk, tracker, outbox, now, 180)
    assert report.failures == {}
    assert report.lines == {"desk": "1 dossier(s) résolu(s) supprimé(s), 1 message(s)",
                            "tracker": "1 conversation(s) supprimée(s) (2 événement(s))",
                            "outbox": "1 demande(s) de rappel transmise(s) supprimée(s)"}
    assert await desk.case(ids["old-resolved"]) is None and await desk.messages(ids["old-resolved"]) == []
    assert await desk.case(ids["old-open"]) is not None and await desk.case(ids["recent-resolved"]) is not None
    assert senders(tmp_path / "rasa-tracker.db") == {"came-back", "fresh"}
    assert sorted(t.ticket.conversation_id for t in await outbox.tickets()) == ["t-old-open", "t-recent"]
    again = await purge(desk, tracker, outbox, now, 180)
    assert again.lines["desk"].startswith("0 ") and again.lines["tracker"].startswith("0 ")
    await desk.close()


async def test_the_desk_purges_every_day_by_itself_and_the_forwarder_purges_the_outbox(
        tmp_path: Path, clock: FrozenClock, aiohttp_server: Callable[..., Awaitable[TestServer]]) -> None:
    old = clock.now() - timedelta(days=181)
    desk = open_store(f"sqlite:///{tmp_path / 'desk.sqlite3'}")
    await desk.migrate()
    case, _ = await desk.create_case(new_case("old", MARIE, [("citoyen", "bonjour")]), old)
    await desk.update_case(case.id, old, status="resolved", outcome="renseigne")
    store_events(tmp_path / "rasa-tracker.db", [user("idle", old, "bonjour")])
    settings = DeskSettings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'desk.sqlite3'}",
                            desk_token="d", staff_token="s", rasa_token="r",
                            tracker_url=f"sqlite:///{tmp_path / 'rasa-tracker.db'}")
    await aiohttp_server(desk_app(settings, clock=clock))
    for _ in range(100):
        if await desk.case(case.id) is None and not senders(tmp_path / "rasa-tracker.db"):
            break
        await asyncio.sleep(0.05)
    assert await desk.case(case.id) is None, "the desk purged its old resolved case at start-up"
    assert senders(tmp_path / "rasa-tracker.db") == set(), "and the idle conversation"
    await desk.close()

    outbox = SqliteTicketStore(tmp_path / "tickets.sqlite3", clock=clock)
    number = await outbox.create(Ticket("t-old", "voice", "asked", old, MARIE))
    await outbox.forwarded(number)
    await ResilientDesk(None, outbox).flush()
    assert await outbox.tickets() == []


@pytest.mark.postgres
async def test_the_tracker_part_on_postgresql(pg_database: str, clock: FrozenClock) -> None:
    conn = await asyncpg.connect(pg_database)
    try:
        await conn.execute("DROP TABLE IF EXISTS events")
        await conn.execute(EVENTS.replace("id INTEGER PRIMARY KEY", "id SERIAL PRIMARY KEY")
                           .replace("timestamp FLOAT", "timestamp DOUBLE PRECISION"))
        now = clock.now()
        rows = [*conversations(now), user("idle", now - timedelta(days=200), "bonjour")]
        await conn.executemany("INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data) "
                               "VALUES ($1, $2, $3, $4, $5, $6)", rows)
        tracker = TrackerEvents(pg_database)
        marie = Citizen(MARIE)
        found = await tracker.senders(marie.in_event, ("slot", "user"))
        assert found == {"web-marie", "call-marie", "chat-words"}
        assert len(await tracker.events_of(sorted(found))) == 7
        assert await tracker.delete(sorted(found)) == (3, 7)
        assert await tracker.purge_idle((now - timedelta(days=180)).timestamp()) == (1, 1)
        left = {r[0] for r in await conn.fetch("SELECT DISTINCT sender_id FROM events")}
        assert left == {"web-paul", "web-near"}
    finally:
        await conn.execute("DROP TABLE IF EXISTS events")
        await conn.close()

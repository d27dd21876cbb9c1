"""The citizen's page /rendez-vous/{reference} against the real booking backend (both aiohttp apps on loopback): the
link ANTS is given, the reference and phone number checked by the backend, the documents, the calendar file and the
cancellation that frees the slot."""

from __future__ import annotations

import html
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from booking.app import create_app as booking_app
from booking.settings import BookingSettings
from guichet.clock import FrozenClock
from web.app import create_app
from web.auth import Passwords
from web.citizen import ics
from web.settings import DeskSettings

PHONE = "06 12 34 56 78"
Client = TestClient[Any, Any]


@dataclass
class Line:
    booking: Client
    desk: Client
    reference: str
    slot_id: str


@pytest.fixture
async def line(tmp_path: Path, settings: DeskSettings, clock: FrozenClock, passwords: Passwords,
               aiohttp_server: Callable[..., Awaitable[TestServer]],
               aiohttp_client: Callable[..., Awaitable[Client]]) -> Line:
    server = await aiohttp_server(booking_app(BookingSettings(
        database_url=f"sqlite:///{tmp_path / 'b.db'}", staff_token="staff-token",
        lookup_limit_reference="4 per 15 minutes", public_url="http://desk.example"), clock=clock))
    booking = await aiohttp_client(server)
    slots = await (await booking.get("/api/v1/slots", params={
        "procedure": "passport", "from": "2026-12-01", "to": "2026-12-01", "limit": "1"})).json()
    slot_id = slots["slots"][0]["id"]
    made = await booking.post("/api/v1/appointments", json={
        "slot_id": slot_id, "procedure": "passport", "people": 1, "name": "Marie <b>Dupont</b>",
        "phone": PHONE, "channel": "chat"})
    assert made.status == 201, await made.text()
    appointment = await made.json()
    assert appointment["management_url"] == f"http://desk.example/rendez-vous/{appointment['reference']}"
    desk = await aiohttp_client(await aiohttp_server(create_app(
        replace(settings, booking_url=str(server.make_url("")).rstrip("/")), clock=clock, passwords=passwords)))
    return Line(booking, desk, appointment["reference"], slot_id)


def text_of(page: str) -> str:
    """What a reader sees: the tags gone, the entities read."""
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", page).split()))


async def test_the_link_asks_for_the_phone_number_and_shows_nothing_else(line: Line) -> None:
    response = await line.desk.get(f"/rendez-vous/{line.reference}")
    page = await response.text()
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/html")
    assert '<html lang="fr">' in page and 'type="tel"' in page and 'autocomplete="tel"' in page
    assert '<label for="telephone">' in page and "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "Dupont" not in page and "décembre" not in page  # nothing about the appointment before the number
    assert "Mairie de Villeneuve-sur-Mauldre (exemple)" in page  # the town of town.yaml, the file a town edits


async def test_with_the_right_number_the_appointment_and_its_documents_are_shown(line: Line) -> None:
    response = await line.desk.post(f"/rendez-vous/{line.reference}", data={"telephone": "0612345678"})
    page = await response.text()
    said = text_of(page)
    assert response.status == 200, said
    assert "Mardi 1er décembre à" in said and "Passeport" in said and "06 12 34 56 78" in said, said
    assert "Documents à apporter" in said and "timbre fiscal" in said.lower() and "photo" in said.lower(), said
    assert "<b>" not in page  # what the backend holds is escaped, never markup
    assert 'action="/rendez-vous/' + line.reference + '/annuler"' in page and 'required' in page


async def test_a_wrong_number_shows_the_form_again_and_guesses_are_limited(line: Line) -> None:
    for _ in range(4):
        wrong = await line.desk.post(f"/rendez-vous/{line.reference}", data={"telephone": "0699999999"})
        assert wrong.status == 404
        assert "Aucun rendez-vous ne correspond" in await wrong.text() and "Mardi" not in await wrong.text()
    blocked = await line.desk.post(f"/rendez-vous/{line.reference}", data={"telephone": "0612345678"})
    assert blocked.status == 429 and "Trop d'essais" in text_of(await blocked.text())
    assert int(blocked.headers["Retry-After"]) > 0
    empty = await line.desk.post("/rendez-vous/PASUNEREF", data={"telephone": ""})
    assert empty.status in (400, 404) and "<form" in await empty.text()  # a clear answer, never a 500


async def test_the_calendar_file_has_the_appointment_in_utc_with_its_place(line: Line) -> None:
    response = await line.desk.post(f"/rendez-vous/{line.reference}/calendrier.ics", data={"telephone": PHONE})
    body = await response.text()
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/calendar")
    assert "attachment" in response.headers["Content-Disposition"]
    assert body.startswith("BEGIN:VCALENDAR\r\n") and body.endswith("END:VCALENDAR\r\n")
    start = re.search(r"DTSTART:(\d{8}T\d{6}Z)", body)
    assert start and start[1].startswith("20261201T0"), body  # a December morning in Paris is UTC+1
    assert "LOCATION:" in body and "TRIGGER:-P1D" in body
    wrong = await line.desk.post(f"/rendez-vous/{line.reference}/calendrier.ics", data={"telephone": "0699999999"})
    assert wrong.status == 404 and "BEGIN:VCALENDAR" not in await wrong.text()


async def test_cancelling_needs_the_confirmation_then_frees_the_slot(line: Line) -> None:
    unconfirmed = await line.desk.post(f"/rendez-vous/{line.reference}/annuler", data={"telephone": PHONE})
    assert unconfirmed.status == 200 and "Annuler le rendez-vous" in await unconfirmed.text()
    found = await line.booking.get(f"/api/v1/appointments/{line.reference}", params={"phone": PHONE})
    assert (await found.json())["status"] == "booked"  # nothing cancelled without the box ticked
    done = await line.desk.post(f"/rendez-vous/{line.reference}/annuler",
                                data={"telephone": PHONE, "confirmer": "oui"})
    said = text_of(await done.text())
    assert done.status == 200 and "Votre rendez-vous est annulé" in said and "Annulé" in said, said
    assert "Annuler le rendez-vous" not in said
    found = await line.booking.get(f"/api/v1/appointments/{line.reference}", params={"phone": PHONE})
    assert (await found.json())["status"] == "cancelled"
    slots = await (await line.booking.get("/api/v1/slots", params={
        "procedure": "passport", "from": "2026-12-01", "to": "2026-12-01", "limit": "1"})).json()
    assert slots["slots"][0]["id"] == line.slot_id  # free again for someone else


async def test_moving_offers_real_free_slots_and_moves_to_the_one_chosen(line: Line) -> None:
    offered = await line.desk.post(f"/rendez-vous/{line.reference}/deplacer", data={"telephone": PHONE})
    page = await offered.text()
    choices = re.findall(r'name="creneau" id="creneau-\d+" value="([^"]+)"', page)
    assert offered.status == 200 and "<legend>Créneaux libres</legend>" in page and len(choices) >= 3, page
    assert line.slot_id not in choices  # the current slot is not offered
    before = await (await line.booking.get(f"/api/v1/appointments/{line.reference}", params={"phone": PHONE})).json()
    assert before["start"].startswith("2026-12-01")  # nothing changed before choosing
    gone = await line.desk.post(f"/rendez-vous/{line.reference}/deplacer",
                                data={"telephone": PHONE, "creneau": "pas-un-creneau"})
    text = text_of(await gone.text())
    assert gone.status == 200 and "Créneaux libres" in text and 'role="alert"' in await gone.text(), text
    moved = await line.desk.post(f"/rendez-vous/{line.reference}/deplacer",
                                 data={"telephone": PHONE, "creneau": choices[1]})
    said = text_of(await moved.text())
    assert moved.status == 200 and "Votre rendez-vous est déplacé" in said, said
    now = await (await line.booking.get(f"/api/v1/appointments/{line.reference}", params={"phone": PHONE})).json()
    assert now["status"] == "booked" and now["start"] != before["start"] and now["reference"] == line.reference
    slots = await (await line.booking.get("/api/v1/slots", params={
        "procedure": "passport", "from": "2026-12-01", "to": "2026-12-01", "limit": "1"})).json()
    assert slots["slots"][0]["id"] == line.slot_id  # the old slot is free again


async def _book(booking: Client, day: str, phone: str) -> str:
    slots = await (await booking.get("/api/v1/slots", params={
        "procedure": "cni", "from": day, "to": day, "limit": "1"})).json()
    made = await booking.post("/api/v1/appointments", json={
        "slot_id": slots["slots"][0]["id"], "procedure": "cni", "people": 1, "name": "Paul Martin", "phone": phone})
    assert made.status == 201, await made.text()
    return str((await made.json())["reference"])


async def test_past_the_town_deadlines_the_page_says_whom_to_call_and_changes_nothing(line: Line) -> None:
    # town.yaml: cancel until 4 hours before, move until 2 days before; the clock says Wednesday 25th, 10:00
    today = await _book(line.booking, "2026-11-25", "0611111111")  # 13:30 at the earliest: in 3 h 30
    page = text_of(await (await line.desk.post(f"/rendez-vous/{today}", data={"telephone": "0611111111"})).text())
    assert "trop tard pour annuler en ligne" in page and "01 30 00 00 00" in page, page
    assert "Annuler le rendez-vous" not in page and "Choisir un autre créneau" not in page
    refused = await line.desk.post(f"/rendez-vous/{today}/annuler", data={"telephone": "0611111111",
                                                                          "confirmer": "oui"})
    assert refused.status == 409 and "trop tard pour annuler" in text_of(await refused.text())
    kept = await line.booking.get(f"/api/v1/appointments/{today}", params={"phone": "0611111111"})
    assert (await kept.json())["status"] == "booked"

    tomorrow = await _book(line.booking, "2026-11-26", "0622222222")  # in a day: cancel yes, move no
    page = text_of(await (await line.desk.post(f"/rendez-vous/{tomorrow}", data={"telephone": "0622222222"})).text())
    assert "Annuler le rendez-vous" in page and "Choisir un autre créneau" not in page, page
    assert "trop tard en ligne : appelez la mairie au 01 30 00 00 00" in page
    refused = await line.desk.post(f"/rendez-vous/{tomorrow}/deplacer", data={"telephone": "0622222222"})
    assert refused.status == 409 and "Créneaux libres" not in text_of(await refused.text())


def test_ics_escapes_what_it_is_given(clock: FrozenClock) -> None:
    calendar = ics({"reference": "K7M4QX9B", "reference_display": "K7M4-QX9B", "procedure": "cni",
                    "start": "2026-12-01T09:00:00+01:00", "end": "2026-12-01T09:15:00+01:00",
                    "meeting_point": {"name": "Mairie; annexe", "address": "1, place\nde la Mairie"}}, clock.now())
    assert "LOCATION:Mairie\\; annexe\\, 1\\, place\\nde la Mairie\r\n" in calendar
    assert "DTSTART:20261201T080000Z\r\nDTEND:20261201T081500Z\r\n" in calendar

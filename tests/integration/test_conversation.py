"""Real conversations through Rasa's REST channel: Rasa server + action server + booking backend, on loopback.

The booked appointment and the hand-off ticket are then read from the services' own databases.
"""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.integration.chat import Conversation, expect
from tests.integration.stack import Stack

pytestmark = pytest.mark.rasa_env


def test_a_citizen_books_a_passport_appointment(stack: Stack) -> None:
    c = Conversation(stack)
    expect(c, c.say("Bonjour"), "assistant")
    expect(c, c.say("je voudrais prendre rendez-vous pour un passeport"), "combien de personnes")
    expect(c, c.say("2"), "pré-demande")
    expect(c, c.say("non"), "quel jour")
    proposals = c.say("le plus tôt possible")
    expect(c, proposals, "créneaux")
    expect(c, c.say("le premier"), "nom")
    expect(c, c.say("Marie Dupont"), "téléphone")
    expect(c, c.say("06 12 34 56 78"), "je récapitule", "passeport pour 2 personnes", "Marie Dupont",
            "06 12 34 56 78")
    done = c.say("oui")
    expect(c, done, "c'est réservé", "référence")
    reference = re.search(r"référence : ([2-9A-Z]{4})-([2-9A-Z]{4})", done)
    assert reference, c.transcript()
    assert f"/rendez-vous/{reference[1] + reference[2]}." in done, done  # the citizen's page, as ANTS has it
    with sqlite3.connect(stack.booking_db) as db:
        row = db.execute("SELECT name, phone, people, procedure, status, channel FROM appointments WHERE reference = ?",
                         (reference[1] + reference[2],)).fetchone()
    assert row == ("Marie Dupont", "+33612345678", 2, "passport", "booked", "chat"), c.transcript()


def test_on_the_phone_voice_wording_and_the_callers_number(stack: Stack) -> None:
    c = Conversation(stack, {"caller": "+33612345678", "call_id": "call-1"}, channel="voice")
    expect(c, c.say("je voudrais un rendez-vous pour un passeport"), "clavier")
    assert stack.last_headers.get("X-Guichet-Requested-Slot") == "people"  # recognition hints for the gateway
    c.say("deux")
    c.say("non")
    proposals = c.say("le plus tôt possible")
    expect(c, proposals, "premier,", "deuxième,", "taper 1, 2 ou 3")
    assert "[" not in proposals, c.transcript()  # no buttons on the phone
    c.say("1")
    expect(c, c.say("Marie Curie"), "se termine par 78")
    expect(c, c.say("oui"), "je récapitule", "06 12 34 56 78")
    done = c.say("oui")
    expect(c, done, "c'est réservé", "je répète")
    expect(c, c.say("merci au revoir"), "au revoir")
    assert stack.last_headers.get("X-Guichet-Ended") == "goodbye", c.transcript()
    assert "http" not in done and "-" not in done.split("référence est")[1][:30], c.transcript()
    with sqlite3.connect(stack.booking_db) as db:
        row = db.execute("SELECT phone, channel, name FROM appointments WHERE name = 'Marie Curie'").fetchone()
    assert row == ("+33612345678", "voice", "Marie Curie"), c.transcript()


def test_everything_said_at_once_is_not_asked_again(stack: Stack) -> None:
    c = Conversation(stack)
    # "la semaine prochaine" has one reading whatever day the test runs (services use the real clock).
    reply = c.say("bonjour je voudrais un rdv pour une carte d'identité pour 1 personne la semaine prochaine le matin")
    expect(c, reply, "pré-demande")
    reply = c.say("non")
    assert "quel jour" not in reply.lower(), c.transcript()
    expect(c, reply, "créneaux")
    offered = re.findall(r"\[([^\]]+)\]", reply)
    assert len(offered) == 4 and offered[3] == "D'autres créneaux", c.transcript()
    hours = [re.search(r"à (\d+) h", o) for o in offered[:3]]
    assert all(h and int(h[1]) < 12 for h in hours), c.transcript()  # mornings only
    items = stack.tracker(c.sender)["slots"]["proposals"]["items"]
    next_monday = date.today() + timedelta(days=7 - date.today().weekday())
    assert all(next_monday <= datetime.fromisoformat(i["start"]).date() < next_monday + timedelta(days=7)
               for i in items), items


def test_a_question_in_the_middle_of_a_booking_is_answered_and_the_booking_resumes(stack: Stack) -> None:
    c = Conversation(stack)
    expect(c, c.say("je veux un rendez-vous pour un passeport"), "combien de personnes")
    answer = c.say("au fait vous êtes ouverts le samedi ?")
    expect(c, answer, "samedi", "combien de personnes")


def test_asking_for_a_human_creates_a_callback_ticket(stack: Stack) -> None:
    c = Conversation(stack)
    expect(c, c.say("je voudrais parler à un agent"), "numéro")
    expect(c, c.say("0698765432"), "rappellera", "06 98 76 54 32")
    with sqlite3.connect(stack.tickets_db) as db:
        rows = db.execute("SELECT reason, phone, transcript FROM tickets WHERE conversation_id = ?",
                          (c.sender,)).fetchall()
    assert len(rows) == 1, c.transcript()
    reason, phone, transcript = rows[0]
    assert reason == "asked" and phone == "06 98 76 54 32"
    assert any("agent" in line["text"] for line in json.loads(transcript))


def test_on_the_phone_the_pre_application_number_is_read_back_and_said_again_when_misheard(stack: Stack) -> None:
    c = Conversation(stack, {"call_id": "call-readback"}, channel="voice")
    c.say("je voudrais un rendez-vous pour un passeport pour une personne")
    expect(c, c.say("oui c'est A B 1 D C D 3 4 E F"), "j'ai noté : AB1DCD34EF", "exact")  # the gateway spells it
    expect(c, c.say("non"), "mal noté", "numéro de pré-demande")
    expect(c, c.say("A B 1 2 C D 3 4 E F"), "j'ai noté : AB12CD34EF")
    expect(c, c.say("oui"), "quel jour")
    slots = stack.tracker(c.sender)["slots"]
    assert slots["predemande_ids"] == ["AB12CD34EF"] and slots["predemande_checked"] is True, c.transcript()


def test_cancel_with_reference_and_phone(stack: Stack) -> None:
    booker = Conversation(stack)
    for text in ("rendez-vous carte d'identité", "une personne", "non", "le plus tôt possible", "le deuxième",
                 "Paul Martin", "07 81 22 33 44"):
        booker.say(text)
    done = booker.say("oui")
    reference = re.search(r"référence : ([2-9A-Z]{4}-[2-9A-Z]{4})", done)
    assert reference, booker.transcript()
    c = Conversation(stack)
    expect(c, c.say("je veux annuler mon rendez-vous"), "référence")
    expect(c, c.say(reference[1]), "téléphone")
    expect(c, c.say("07 81 22 33 44"), "annuler")
    expect(c, c.say("oui"), "annulé")
    with sqlite3.connect(stack.booking_db) as db:
        status = db.execute("SELECT status FROM appointments WHERE reference = ?",
                            (reference[1].replace("-", ""),)).fetchone()
    assert status == ("cancelled",), c.transcript()


def test_garbled_input_gets_a_helpful_reprompt_then_a_human(stack: Stack) -> None:
    c = Conversation(stack)
    first = c.say("xqzw blorg fnarp")
    assert first.strip(), c.transcript()
    second = c.say("grmbl zzkx wqpt")
    assert "agent" in (first + second).lower() or "compris" in (first + second).lower(), c.transcript()



def _book(stack: Stack, phone: str, pick: str = "le premier") -> tuple[Conversation, str]:
    c = Conversation(stack)
    for text in ("je voudrais un rendez-vous pour une carte d'identité", "une personne", "non",
                 "le plus tôt possible", pick, "Jeanne Martin", phone):
        c.say(text)
    done = c.say("oui")
    reference = re.search(r"référence : ([2-9A-Z]{4}-[2-9A-Z]{4})", done)
    assert reference, c.transcript()
    return c, reference[1]


def test_a_correction_changes_only_the_day(stack: Stack) -> None:
    c = Conversation(stack)
    for text in ("rendez-vous passeport", "1", "non", "le plus tôt possible", "le premier", "Luc Bernard",
                 "06 55 44 33 22"):
        c.say(text)
    assert "je récapitule" in c.turns[-1][1].lower(), c.transcript()
    reply = c.say("non plutôt la semaine prochaine")
    expect(c, reply, "créneaux")
    assert "nom" not in reply.lower() and "téléphone" not in reply.lower(), c.transcript()
    recap = c.say("le deuxième")
    expect(c, recap, "je récapitule", "Luc Bernard", "06 55 44 33 22")
    slots = stack.tracker(c.sender)["slots"]
    next_monday = date.today() + timedelta(days=7 - date.today().weekday())
    chosen = datetime.fromisoformat(slots["chosen_slot"]["start"]).date()
    assert next_monday <= chosen < next_monday + timedelta(days=7), c.transcript()


def test_check_then_move_an_appointment(stack: Stack) -> None:
    _, reference = _book(stack, "06 44 33 22 11")
    c = Conversation(stack)
    expect(c, c.say("c'est quand mon rendez-vous ?"), "référence")
    expect(c, c.say(reference.lower()), "téléphone")
    expect(c, c.say("06 44 33 22 11"), "votre rendez-vous est", reference)
    m = Conversation(stack)
    expect(m, m.say("je voudrais déplacer mon rendez-vous"), "référence")
    m.say(reference)
    expect(m, m.say("0644332211"), "quel jour")
    expect(m, m.say("la semaine prochaine l'après-midi"), "créneaux")
    expect(m, m.say("le troisième"), "je déplace")
    expect(m, m.say("oui"), "c'est fait", reference)
    with sqlite3.connect(stack.booking_db) as db:
        start_at, status = db.execute("SELECT start_at, status FROM appointments WHERE reference = ?",
                                      (reference.replace("-", ""),)).fetchone()
    assert status == "booked"
    moved = datetime.fromtimestamp(start_at, tz=ZoneInfo("Europe/Paris"))
    assert moved.date() >= date.today() + timedelta(days=7 - date.today().weekday()), m.transcript()
    assert moved.hour >= 12, m.transcript()  # the afternoon


def test_zz_booking_backend_down_apology_callback_and_nothing_lost(stack: Stack) -> None:
    """Stops the booking backend of the shared stack, and starts it again for the modules after this one."""
    c = Conversation(stack)
    for text in ("je voudrais un rendez-vous pour un passeport", "2", "non"):
        c.say(text)
    stack.processes["booking"].terminate()
    stack.processes["booking"].wait(timeout=20)
    try:
        reply = c.say("le plus tôt possible")
        expect(c, reply, "ne répond pas", "agent")
        expect(c, c.say("06 21 43 65 87"), "rappellera", "06 21 43 65 87")
    finally:
        stack.restart("booking")
    with sqlite3.connect(stack.tickets_db) as db:
        reason, collected = db.execute("SELECT reason, collected FROM tickets WHERE conversation_id = ?",
                                       (c.sender,)).fetchone()
    assert reason == "booking_unavailable"
    kept = json.loads(collected)
    assert kept["procedure"] == "passport" and kept["people"] == 2 and kept["phone"] == "06 21 43 65 87", kept
    assert kept["when"]["earliest"] is True, kept

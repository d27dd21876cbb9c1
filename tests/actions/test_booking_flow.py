"""Booking, lookup, hand-off and fallback actions: a tracker in, the exact events and messages out."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, FollowupAction, SlotSet, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher

from actions.booking_actions import (
    ActionAskChosenSlot,
    ActionAskPhone,
    ActionAskPredemandeChecked,
    ActionBookAppointment,
    idempotency_key,
)
from actions.booking_form import ValidateBookingForm
from actions.deps import ActionSettings, Deps, use
from actions.fake_booking import FakeBooking
from actions.fallback import ActionFallback
from actions.handoff import ActionHandoff
from actions.manage import ValidateLookupForm
from actions.once_only import ActionValidateSlotMappings
from clients.tickets import SqliteTicketStore
from guichet.clock import PARIS, FrozenClock
from nlu.dates import resolve

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=PARIS)  # Wednesday


@pytest.fixture
def booking() -> FakeBooking:
    return FakeBooking.weekdays(date(2026, 11, 26))


@pytest.fixture(autouse=True)
def installed(booking: FakeBooking, tmp_path: Path) -> Iterator[Deps]:
    deps = Deps(ActionSettings(data_dir=tmp_path), clock=FrozenClock(NOW), booking=booking,
                tickets=SqliteTicketStore(tmp_path / "tickets.sqlite3"))
    use(deps)
    yield deps
    use(None)


def tracker(slots: dict[str, Any] | None = None, *, text: str = "", intent: str = "inform",
            entities: list[dict[str, Any]] | None = None, channel: str = "rest",
            events: list[dict[str, Any]] | None = None, metadata: dict[str, Any] | None = None,
            form: str | None = "booking_form") -> Tracker:
    latest = {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": entities or [],
              "metadata": metadata or {}}
    history = [*(events or []), {"event": "user", "text": text, "parse_data": latest, "input_channel": channel,
                                 "metadata": metadata or {}}]
    return Tracker("conv-1", slots or {}, latest, history, False, None, {"name": form} if form else {},
                   "action_listen")


def time_entity(text: str) -> dict[str, Any]:
    return {"entity": "time", "value": resolve(text, NOW).to_json(), "start": 0, "end": len(text)}


def texts(dispatcher: CollectingDispatcher) -> str:
    return "\n".join(m.get("text") or m.get("response") or "" for m in dispatcher.messages)


async def test_every_detail_of_a_message_fills_its_slot_whatever_was_asked() -> None:
    action = ActionValidateSlotMappings()
    t = tracker({"requested_slot": "people"}, text="moi et ma fille")
    assert await action.run(CollectingDispatcher(), t, {}) == [SlotSet("people", 2)]
    assert await action.run(CollectingDispatcher(), tracker({"requested_slot": "phone"}, text="2"), {}) == []
    opening = tracker(text="rendez-vous passeport et carte d'identité pour ma femme et moi sans pré-demande",
                      intent="book_appointment", form=None)
    assert await action.run(CollectingDispatcher(), opening, {}) == [
        SlotSet("procedure", "both"), SlotSet("people", 2), SlotSet("has_predemande", False)]


async def test_the_number_is_asked_after_saying_what_happens_next() -> None:
    dispatcher = CollectingDispatcher()
    await ActionAskPhone().run(dispatcher, tracker(form="handoff_form", intent="request_human"), {})
    said = texts(dispatcher)
    assert said.index("agent") < said.index("À quel numéro") and "rappellera" in said, said
    announced = tracker(form="handoff_form")  # the fallback has just said it, in this turn
    announced.events.append({"event": "bot", "text": "Je vais demander à un agent de la mairie de vous recontacter."})
    dispatcher = CollectingDispatcher()
    await ActionAskPhone().run(dispatcher, announced, {})
    assert texts(dispatcher).startswith("L'agent vous rappellera"), texts(dispatcher)


REQUIRED = ["procedure", "people", "has_predemande", "predemande_ids", "predemande_checked", "when", "chosen_slot",
            "person_name", "phone", "booking_confirmed"]


async def test_on_the_phone_the_pre_application_number_heard_is_read_back_before_going_on() -> None:
    form, heard = ValidateBookingForm(), {"predemande_ids": ["AB1DCD34EF"], "has_predemande": True}
    on_phone = await form.required_slots(REQUIRED, CollectingDispatcher(), tracker(heard, channel="voice"), {})
    in_chat = await form.required_slots(REQUIRED, CollectingDispatcher(), tracker(heard), {})
    assert "predemande_checked" in on_phone and "predemande_checked" not in in_chat
    none_yet = await form.required_slots(REQUIRED, CollectingDispatcher(), tracker(channel="voice"), {})
    assert "predemande_checked" not in none_yet  # nothing to read back yet
    dispatcher = CollectingDispatcher()
    await ActionAskPredemandeChecked().run(dispatcher, tracker(heard, channel="voice"), {})
    assert "J'ai noté : AB1DCD34EF. Est-ce exact ?" in texts(dispatcher) and "tapez 2" in texts(dispatcher)


async def test_a_misheard_number_is_asked_again_slower_then_left_for_the_counter() -> None:
    form = ValidateBookingForm()
    heard = {"predemande_ids": ["AB1DCD34EF"], "has_predemande": True, "requested_slot": "predemande_checked"}
    said_no = [{"event": "slot", "name": "predemande_checked", "value": False}]
    dispatcher = CollectingDispatcher()
    first = tracker(heard, text="non", intent="deny", channel="voice", events=said_no * 2)
    assert await form.validate_predemande_checked(False, dispatcher, first, {}) == {
        "predemande_ids": None, "predemande_checked": None}  # asked again
    assert "pause après chaque" in texts(dispatcher)
    dispatcher = CollectingDispatcher()
    twice = [*said_no, {"event": "user", "text": "non"}, *said_no, *said_no]  # Rasa sends the value twice a turn
    second = tracker(heard, text="non", intent="deny", channel="voice", events=twice)
    assert await form.validate_predemande_checked(False, dispatcher, second, {}) == {
        "predemande_ids": [], "predemande_checked": None}  # not booked with a wrong number
    assert "au rendez-vous" in texts(dispatcher)
    assert await form.validate_predemande_checked(True, CollectingDispatcher(), first, {}) == {
        "predemande_checked": True}
    # a new number in the answer (« non, c'est AB12CD34EF ») is read back in turn; a new one resets the check
    corrected = tracker(heard, text="non c'est AB12CD34EF", intent="deny", channel="voice")
    corrected.events += [*said_no, {"event": "slot", "name": "predemande_ids", "value": ["AB12CD34EF"]}]
    assert await form.validate_predemande_checked(False, CollectingDispatcher(), corrected, {}) == {
        "predemande_checked": None}
    assert (await form.validate_predemande_ids(["AB12CD34EF"], CollectingDispatcher(), corrected, {})).get(
        "predemande_checked", "kept") is None


async def test_too_many_people_is_refused_with_the_limit() -> None:
    dispatcher = CollectingDispatcher()
    assert await ValidateBookingForm().validate_people(9, dispatcher, tracker(), {}) == {"people": None}
    assert "1 à 6 personnes" in texts(dispatcher)


async def test_a_past_day_is_refused_and_asked_again() -> None:
    dispatcher = CollectingDispatcher()
    result = await ValidateBookingForm().validate_when(resolve("hier", NOW).to_json(), dispatcher, tracker(), {})
    assert result == {"when": None}
    assert "déjà passée" in texts(dispatcher)


async def test_an_ambiguous_day_is_confirmed_not_guessed() -> None:
    dispatcher = CollectingDispatcher()
    value = resolve("vendredi prochain", NOW).to_json()
    assert await ValidateBookingForm().validate_when(value, dispatcher, tracker(), {}) == {"when": None}
    assert texts(dispatcher) == "Voulez-vous dire vendredi 27 novembre ou vendredi 4 décembre ?"
    assert [b["title"] for b in dispatcher.messages[0]["buttons"]] == ["vendredi 27 novembre", "vendredi 4 décembre"]


async def test_a_new_day_drops_only_the_slot_picked_for_the_old_one() -> None:
    value = resolve("plutôt jeudi", NOW).to_json()
    result = await ValidateBookingForm().validate_when(value, CollectingDispatcher(), tracker(), {})
    assert result == {"when": value, "chosen_slot": None, "proposals": None}


async def test_three_real_slots_are_proposed_inside_the_wish() -> None:
    dispatcher = CollectingDispatcher()
    slots = {"procedure": "passport", "people": 1, "when": resolve("mardi prochain en fin de matinée", NOW).to_json()}
    events = await ActionAskChosenSlot().run(dispatcher, tracker(slots), {})
    offered = events[0]["value"]["items"]
    assert [o["start"] for o in offered] == ["2026-12-01T11:00:00+01:00", "2026-12-01T11:15:00+01:00",
                                             "2026-12-01T11:30:00+01:00"]
    assert [b["title"] for b in dispatcher.messages[0]["buttons"]][:1] == ["Mardi 1er décembre à 11 h"]
    assert dispatcher.messages[0]["buttons"][-1]["title"] == "D'autres créneaux"


async def test_on_the_phone_slots_are_said_with_ordinals_and_no_buttons() -> None:
    dispatcher = CollectingDispatcher()
    slots = {"procedure": "cni", "people": 1, "when": resolve("jeudi 10h", NOW).to_json()}
    await ActionAskChosenSlot().run(dispatcher, tracker(slots, channel="voice"), {})
    message = dispatcher.messages[0]
    assert message["buttons"] == []
    assert message["text"].startswith("Voici les créneaux libres : premier, demain, jeudi 26 novembre, à 10 h;")
    assert "taper 1, 2 ou 3" in message["text"]


async def test_when_nothing_is_free_the_next_slots_are_offered() -> None:
    dispatcher = CollectingDispatcher()
    slots = {"procedure": "passport", "people": 1, "when": resolve("samedi", NOW).to_json()}
    events = await ActionAskChosenSlot().run(dispatcher, tracker(slots), {})
    assert texts(dispatcher).startswith("Rien de libre à ce moment-là")
    assert events[0]["value"]["items"][0]["start"] == "2026-11-30T09:00:00+01:00"


def _offered(*starts: str) -> dict[str, Any]:
    return {"items": [{"id": f"hotel-de-ville.{s.replace('-', '').replace('T', '').replace(':', '')[:12]}",
                       "start": f"{s}:00+01:00", "end": f"{s}:00+01:00"} for s in starts], "after": None}


@pytest.mark.parametrize(("said", "entities", "picked"), [
    ("le deuxième", [{"entity": "ordinal", "value": "2"}], "2026-12-01T09:15"),
    ("2", [], "2026-12-01T09:15"),
    ("le dernier", [], "2026-12-01T11:00"),
    ("celui de 11h", [time_entity("celui de 11h")], "2026-12-01T11:00"),
])
async def test_the_pick_is_understood(said: str, entities: list[dict[str, Any]], picked: str) -> None:
    slots = {"requested_slot": "chosen_slot", "proposals": _offered("2026-12-01T09:00", "2026-12-01T09:15",
                                                                    "2026-12-01T11:00")}
    result = await ValidateBookingForm().extract_chosen_slot(CollectingDispatcher(), tracker(
        slots, text=said, entities=entities), {})
    assert result["chosen_slot"]["start"].startswith(picked)


async def test_asking_for_other_slots_moves_the_search_after_the_last_proposal() -> None:
    slots = {"requested_slot": "chosen_slot", "proposals": _offered("2026-12-01T09:00", "2026-12-01T09:15")}
    result = await ValidateBookingForm().extract_chosen_slot(CollectingDispatcher(), tracker(
        slots, text="vous n'avez rien d'autre ?"), {})
    assert result == {"proposals": {"items": [], "after": "2026-12-01T09:15:00+01:00"}}


def _ready_to_book(booking: FakeBooking) -> dict[str, Any]:
    slot = booking.slots[0]
    return {"procedure": "passport", "people": 2, "person_name": "Marie Dupont", "phone": "06 12 34 56 78",
            "booking_confirmed": True, "predemande_ids": [],
            "chosen_slot": {"id": slot.id, "start": slot.start.isoformat(), "end": slot.end.isoformat()}}


async def test_booking_gives_the_reference_and_the_documents(booking: FakeBooking) -> None:
    dispatcher = CollectingDispatcher()
    events = await ActionBookAppointment().run(dispatcher, tracker(_ready_to_book(booking), form=None), {})
    (reference,) = booking.appointments
    assert SlotSet("reference", reference) in events
    said = texts(dispatcher)
    assert "C'est réservé : demain, jeudi 26 novembre, à 9 h" in said
    assert f"{reference[:4]}-{reference[4:]}" in said
    assert f"sur la page de votre rendez-vous : http://127.0.0.1:8085/rendez-vous/{reference}." in said
    assert "À apporter" in said and "- " in said


async def test_the_idempotency_key_is_stable_for_one_conversation_and_slot(booking: FakeBooking) -> None:
    t = tracker(_ready_to_book(booking))
    assert idempotency_key(t, "a") == idempotency_key(t, "a") != idempotency_key(t, "b")


async def test_backend_down_hands_off_without_losing_anything(booking: FakeBooking) -> None:
    booking.down = True
    dispatcher = CollectingDispatcher()
    events = await ActionBookAppointment().run(dispatcher, tracker(_ready_to_book(booking), form=None), {})
    assert events == [ActiveLoop(None), SlotSet("requested_slot", None),
                      SlotSet("handoff_reason", "booking_unavailable"), FollowupAction("handoff_form")]
    assert "rien n'a été réservé" in texts(dispatcher)


async def test_a_slot_taken_meanwhile_goes_back_to_the_proposals(booking: FakeBooking) -> None:
    slots = _ready_to_book(booking)
    await ActionBookAppointment().run(CollectingDispatcher(), tracker(slots, form=None), {})
    dispatcher = CollectingDispatcher()
    events = await ActionBookAppointment().run(dispatcher, tracker({**slots, "phone": "07 00 00 00 01"}), {})
    assert FollowupAction("booking_form") in events and SlotSet("chosen_slot", None) in events
    assert "vient d'être pris" in texts(dispatcher)


async def test_fallback_reprompts_once_then_hands_off() -> None:
    fallback = {"event": "user", "text": "blorg", "parse_data": {"intent": {"name": "nlu_fallback"}}}
    dispatcher = CollectingDispatcher()
    assert await ActionFallback().run(dispatcher, tracker(intent="nlu_fallback", text="xqzw"), {}) == [
        UserUtteranceReverted()]
    assert dispatcher.messages[0]["response"] == "utter_please_rephrase"
    events = await ActionFallback().run(CollectingDispatcher(), tracker(intent="nlu_fallback", text="xqzw",
                                                                        events=[fallback]), {})
    assert FollowupAction("handoff_form") in events and SlotSet("handoff_reason", "not_understood") in events


async def test_handoff_stores_a_ticket_with_what_was_collected(tmp_path: Path) -> None:
    dispatcher = CollectingDispatcher()
    said = {"event": "user", "text": "je veux un passeport pour 2", "parse_data": {}}
    slots = {"phone": "06 98 76 54 32", "procedure": "passport", "people": 2, "handoff_reason": "not_understood"}
    await ActionHandoff().run(dispatcher, tracker(slots, events=[said], form=None), {})
    with sqlite3.connect(tmp_path / "tickets.sqlite3") as db:
        reason, phone, collected = db.execute("SELECT reason, phone, collected FROM tickets").fetchone()
    assert (reason, phone) == ("not_understood", "06 98 76 54 32")
    assert '"procedure": "passport"' in collected and '"people": 2' in collected
    assert "vous rappellera au 06 98 76 54 32" in texts(dispatcher)
    assert "mercredi" not in texts(dispatcher)  # the service is open now (Wednesday 10:00): no "next opening"


async def test_lookup_with_a_wrong_phone_finds_nothing_and_asks_again(booking: FakeBooking) -> None:
    booked = await booking.book(booking.slots[0].id, procedure="cni", people=1, name="Paul Martin",
                                phone="07 81 22 33 44", application_ids=[], channel="chat", idempotency_key="k")
    dispatcher = CollectingDispatcher()
    t = tracker({"reference": booked.reference, "requested_slot": "phone"}, form="lookup_form")
    result = await ValidateLookupForm().validate_phone("06 00 00 00 00", dispatcher, t, {})
    assert result == {"reference": None, "phone": None}
    assert "Je ne trouve pas" in texts(dispatcher)
    found = await ValidateLookupForm().validate_phone("07 81 22 33 44", CollectingDispatcher(), t, {})
    assert found["appointment"]["reference"] == booked.reference


@pytest.mark.parametrize(("value", "procedure"), [
    ("passport", "passport"), (["passport", "cni"], "both"), (["cni"], "cni"), ("both", "both"), ("permis", None)])
async def test_procedure_values(value: Any, procedure: str | None) -> None:
    result = await ValidateBookingForm().validate_procedure(value, CollectingDispatcher(), tracker(), {})
    assert result == {"procedure": procedure}


async def test_a_name_diet_cut_short_is_read_whole() -> None:
    form = ValidateBookingForm()
    cut = [{"entity": "person_name", "value": "Olivier"}]
    t = tracker({"requested_slot": "person_name"}, text="Olivier Boulanger", entities=cut)
    assert await form.extract_person_name(CollectingDispatcher(), t, {}) == {"person_name": "Olivier Boulanger"}
    whole = [{"entity": "person_name", "value": "Marie Dupont"}]
    t = tracker({"requested_slot": "person_name"}, text="je m'appelle Marie Dupont", entities=whole)
    assert await form.extract_person_name(CollectingDispatcher(), t, {}) == {}


async def test_lookup_names_the_conversation_and_stops_after_too_many_wrong_guesses(booking: FakeBooking) -> None:
    booked = await booking.book(booking.slots[0].id, procedure="cni", people=1, name="Paul Martin",
                                phone="07 81 22 33 44", application_ids=[], channel="chat", idempotency_key="k")
    t = tracker({"reference": booked.reference, "requested_slot": "phone"}, form="lookup_form")
    for n in range(booking.wrong_guesses_allowed):
        await ValidateLookupForm().validate_phone(f"06 00 00 00 0{n}", CollectingDispatcher(), t, {})
    dispatcher = CollectingDispatcher()
    result = await ValidateLookupForm().validate_phone("07 81 22 33 44", dispatcher, t, {})
    assert result == {"reference": None, "phone": None}
    assert "Trop d'essais" in texts(dispatcher) and "demandez un agent" in texts(dispatcher)
    assert set(booking.clients) == {t.sender_id}


async def test_a_message_the_dialogue_could_not_place_counts_as_misunderstood() -> None:
    """Markup read as a confident ``inform`` with no rule for it: Rasa's core fallback ran action_fallback."""
    earlier = [{"event": "user", "text": "<img src=x>", "parse_data": {"intent": {"name": "inform"}}},
               {"event": "action", "name": "action_fallback"}, {"event": "user_reverted"}]
    first = await ActionFallback().run(CollectingDispatcher(), tracker(intent="inform", text="<b>"), {})
    assert first == [UserUtteranceReverted()]
    second = await ActionFallback().run(CollectingDispatcher(), tracker(intent="inform", text="<b>", events=earlier),
                                        {})
    assert FollowupAction("handoff_form") in second
    understood = [{"event": "user", "text": "bonjour", "parse_data": {"intent": {"name": "greet"}}},
                  {"event": "action", "name": "utter_greet"}]
    again = await ActionFallback().run(CollectingDispatcher(), tracker(intent="inform", text="<b>", events=understood),
                                       {})
    assert again == [UserUtteranceReverted()]

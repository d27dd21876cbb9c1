"""The hand-off action and the desk client: live take-over in the site's chat, callback cases elsewhere, and the
outbox that keeps every hand-off while the desk is down (forwarded once it answers, against the real desk app)."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from rasa_sdk import Tracker
from rasa_sdk.events import ConversationPaused, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.deps import ActionSettings, Deps, use
from actions.fake_booking import FakeBooking
from actions.handoff import ActionHandoff
from clients.desk import CaseReceipt, DeskUnavailable, HttpDeskClient, ResilientDesk
from clients.tickets import SqliteTicketStore, Ticket
from guichet.clock import PARIS, FrozenClock
from web.app import create_app
from web.keys import STORE
from web.settings import DeskSettings

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=PARIS)
TOKEN = "desk-token"


class RecordingDesk:
    def __init__(self, receipt: CaseReceipt) -> None:
        self.receipt = receipt
        self.cases: list[tuple[Ticket, bool]] = []

    async def create_case(self, ticket: Ticket, *, callback_only: bool = False) -> CaseReceipt:
        self.cases.append((ticket, callback_only))
        return self.receipt


def tracker(channel: str) -> Tracker:
    slots = {"phone": "06 98 76 54 32", "procedure": "passport", "people": 2, "handoff_reason": "asked"}
    events = [{"event": "user", "text": "je voudrais parler à un agent", "input_channel": channel,
               "parse_data": {}}, {"event": "bot", "text": "À quel numéro ?"},
              {"event": "user", "text": "0698765432", "input_channel": channel, "parse_data": {}}]
    return Tracker("sio-1", slots, {"text": "0698765432", "intent": {"name": "inform"}, "entities": []}, events,
                   False, None, {}, "action_listen")


@pytest.fixture
def install(tmp_path: Path) -> Iterator[Callable[[Any], Deps]]:
    def make(desk: Any) -> Deps:
        deps = Deps(ActionSettings(data_dir=tmp_path), clock=FrozenClock(NOW), booking=FakeBooking.weekdays(
            NOW.date()), tickets=SqliteTicketStore(tmp_path / "tickets.sqlite3"), desk=desk)
        use(deps)
        return deps

    yield make
    use(None)


async def test_in_the_site_chat_with_an_agent_available_the_bot_pauses_and_says_so(
        install: Callable[[Any], Deps]) -> None:
    desk = RecordingDesk(CaseReceipt(42, live=True))
    install(desk)
    dispatcher = CollectingDispatcher()
    events = await ActionHandoff().run(dispatcher, tracker("socketio"), {})
    assert events == [SlotSet("handoff_reason", None), ConversationPaused()]
    assert "va vous répondre ici même" in dispatcher.messages[0]["text"]
    # Rasa's socket.io channel calls emit("bot_uttered", **custom): "data" is the payload the widget receives.
    assert dispatcher.messages[1]["custom"] == {"data": {"guichet": {"handoff": {"case_id": 42, "live": True}}}}
    ticket, callback_only = desk.cases[0]
    assert (ticket.channel, ticket.reason, ticket.phone, callback_only) == ("socketio", "asked", "06 98 76 54 32",
                                                                             False)
    assert ticket.collected["procedure"] == "passport" and ticket.collected["people"] == 2
    assert [line["from"] for line in ticket.transcript] == ["citoyen", "assistant", "citoyen"]


@pytest.mark.parametrize("channel, expected", [("rest", "rest"), ("voice", "voice"), ("cmdline", "rest")])
async def test_elsewhere_it_is_a_callback_case(install: Callable[[Any], Deps], channel: str, expected: str) -> None:
    desk = RecordingDesk(CaseReceipt(43, live=False))
    install(desk)
    dispatcher = CollectingDispatcher()
    events = await ActionHandoff().run(dispatcher, tracker(channel), {})
    assert events == [SlotSet("handoff_reason", None)]
    text = dispatcher.messages[0]["text"]
    assert "rappellera au 06 98 76 54 32" in text
    assert ("demande n° 43" in text) == (channel != "voice")
    assert desk.cases[0][0].channel == expected and desk.cases[0][1] is True


@pytest.fixture
async def desk_server(tmp_path: Path, aiohttp_server: Callable[..., Awaitable[TestServer]]) -> TestServer:
    settings = DeskSettings(database_url=f"sqlite:///{tmp_path / 'desk.sqlite3'}", desk_token=TOKEN,
                            rasa_token="r", staff_token="s")
    return await aiohttp_server(create_app(settings, clock=FrozenClock(NOW)))


def ticket(conversation: str) -> Ticket:
    return Ticket(conversation, "rest", "asked", NOW, "06 98 76 54 32", {"procedure": "cni"},
                  [{"from": "citoyen", "text": "un agent svp"}])


async def test_the_http_client_creates_a_case_on_the_real_desk(desk_server: TestServer) -> None:
    client = HttpDeskClient(str(desk_server.make_url("")), TOKEN, timeout_s=2)
    receipt = await client.create_case(ticket("conv-a"), callback_only=True)
    assert receipt == CaseReceipt(receipt.id, live=False) and receipt.id > 0
    assert await client.create_case(ticket("conv-a")) == receipt  # the same open case, not a duplicate
    case = await desk_server.app[STORE].case(receipt.id)
    assert case is not None and case.collected == {"procedure": "cni"} and case.callback_only
    with pytest.raises(DeskUnavailable):
        await HttpDeskClient(str(desk_server.make_url("")), "wrong", timeout_s=2).create_case(ticket("conv-b"))
    await client.close()


async def test_while_the_desk_is_down_hand_offs_wait_in_the_outbox_then_are_forwarded(
        tmp_path: Path, desk_server: TestServer) -> None:
    outbox = SqliteTicketStore(tmp_path / "tickets.sqlite3")
    down = ResilientDesk(HttpDeskClient("http://127.0.0.1:9", TOKEN, timeout_s=1), outbox)
    queued = await down.create_case(ticket("conv-down"))
    assert queued.queued and not queued.live
    assert [t.conversation_id for _, t in await outbox.open_tickets()] == ["conv-down"]

    up = ResilientDesk(HttpDeskClient(str(desk_server.make_url("")), TOKEN, timeout_s=2), outbox)
    receipt = await up.create_case(ticket("conv-up"))
    assert not receipt.queued
    assert up._flushing is not None
    await up._flushing
    assert await outbox.open_tickets() == []
    with sqlite3.connect(tmp_path / "tickets.sqlite3") as db:
        assert db.execute("SELECT status FROM tickets").fetchall() == [("forwarded",)]
    forwarded = await desk_server.app[STORE].open_case("conv-down")
    assert forwarded is not None and forwarded.callback_only and forwarded.phone == "06 98 76 54 32"


async def test_without_a_desk_configured_the_outbox_takes_the_hand_off(install: Callable[[Any], Deps],
                                                                       tmp_path: Path) -> None:
    deps = install(None)
    assert deps.settings.desk_url is None
    receipt = await deps.desk.create_case(ticket("conv-x"))
    assert receipt.queued and receipt.id == 1


def test_the_action_server_finds_the_desk_in_its_environment() -> None:
    settings = ActionSettings.from_env({"GUICHET_DESK_URL": "http://desk:8085", "GUICHET_DESK_TOKEN": "t"})
    assert (settings.desk_url, settings.desk_token) == ("http://desk:8085", "t")
    assert ActionSettings.from_env({}).desk_url == "http://127.0.0.1:8085"
    assert ActionSettings.from_env({"GUICHET_DESK_URL": "", "GUICHET_DESK_TIMEOUT_S": ""}).desk_timeout_s == 5.0

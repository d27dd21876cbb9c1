"""A call the bot cannot finish becomes a callback case on the real desk, or waits in the outbox if it is down."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

from aiohttp.test_utils import TestServer

from clients.desk import HttpDeskClient, ResilientDesk
from clients.tickets import SqliteTicketStore
from guichet.clock import PARIS, FrozenClock
from tests.integration.stack import free_port
from voice.callbacks import DeskCallbacks
from web.app import create_app
from web.keys import STORE
from web.settings import DeskSettings

TOKEN = "desk-token"
CLOCK = FrozenClock(datetime(2026, 11, 25, 10, 0, tzinfo=PARIS))


async def test_a_callback_case_reaches_the_desk_with_the_callers_number_and_words(
        tmp_path: Path, aiohttp_server: Callable[..., Awaitable[TestServer]]) -> None:
    settings = DeskSettings(database_url=f"sqlite:///{tmp_path / 'desk.sqlite3'}", desk_token=TOKEN,
                            rasa_token="r", staff_token="s")
    server = await aiohttp_server(create_app(settings, clock=CLOCK))
    http = HttpDeskClient(str(server.make_url("")), TOKEN, timeout_s=2)
    callbacks = DeskCallbacks(ResilientDesk(http, SqliteTicketStore(tmp_path / "tickets.sqlite3")), CLOCK)
    said = [("bot", "Bonjour."), ("caller", "je voudrais un passeport")]
    assert await callbacks.request("call-1", "+33612345678", said, "technical")
    case = await server.app[STORE].open_case("call-1")
    assert case is not None and case.channel == "voice" and case.callback_only and case.reason == "technical"
    assert case.phone == "+33612345678"
    messages = await server.app[STORE].messages(case.id)
    assert [m.text for m in messages] == ["Bonjour.", "je voudrais un passeport"]
    await http.close()


async def test_with_the_desk_down_the_callback_waits_in_the_outbox(tmp_path: Path) -> None:
    http = HttpDeskClient(f"http://127.0.0.1:{free_port()}", TOKEN, timeout_s=1)
    outbox = SqliteTicketStore(tmp_path / "tickets.sqlite3")
    callbacks = DeskCallbacks(ResilientDesk(http, outbox), CLOCK)
    assert await callbacks.request("call-2", "+33612345678", [("caller", "allô")], "technical")
    waiting = await outbox.open_tickets()
    assert [(t.conversation_id, t.phone, t.channel) for _, t in waiting] == [("call-2", "+33612345678", "voice")]
    await http.close()

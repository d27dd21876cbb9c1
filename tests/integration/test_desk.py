"""The desk in the real stack: a chat conversation that asks for a human becomes a case in the operator console,
with the transcript and what the bot collected; in the site's chat (Rasa's socket.io channel) an agent takes over
live and hands back to the bot; the console reads today's appointments from the booking backend."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from tests.integration.stack import Stack, running_stack

pytestmark = pytest.mark.rasa_env
PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("desk-stack"), desk=True) as running:
        running.add_operator("agent.dupont", PASSWORD, "agent")
        yield running


@pytest.fixture
async def console(stack: Stack) -> AsyncIterator[tuple[aiohttp.ClientSession, dict[str, str]]]:
    """A logged-in console session and the headers its state-changing requests need."""
    assert stack.desk_url
    async with aiohttp.ClientSession(base_url=stack.desk_url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get("/api/v1/console/login") as response:
            login_csrf = (await response.json())["csrf"]
        async with http.post("/api/v1/console/login", json={"username": "agent.dupont", "password": PASSWORD},
                             headers={"X-CSRF-Token": login_csrf}) as response:
            assert response.status == 200, await response.text()
            csrf = (await response.json())["csrf"]
        yield http, {"X-CSRF-Token": csrf}


def _say(stack: Stack, sender: str, text: str) -> str:
    return "\n".join(r.get("text", "") for r in stack.say(sender, text))


async def test_asking_for_a_human_in_chat_creates_a_case_the_console_shows(
        stack: Stack, console: tuple[aiohttp.ClientSession, dict[str, str]]) -> None:
    http, _ = console
    sender = f"desk-{uuid.uuid4().hex[:10]}"
    _say(stack, sender, "je voudrais un rendez-vous pour un passeport")
    _say(stack, sender, "2")
    asked = _say(stack, sender, "je voudrais parler à un agent")
    assert "numéro" in asked.lower(), asked
    done = _say(stack, sender, "0698765432")
    assert "rappellera" in done and "06 98 76 54 32" in done, done
    async with http.get("/api/v1/console/cases") as response:
        assert response.status == 200
        queue: list[dict[str, Any]] = (await response.json())["cases"]
    mine = [c for c in queue if c["conversation_id"] == sender]
    assert len(mine) == 1, queue
    assert mine[0]["channel"] == "rest" and mine[0]["reason"] == "asked" and mine[0]["live"] is False
    assert f"demande n° {mine[0]['id']}" in done, done
    async with http.get(f"/api/v1/console/cases/{mine[0]['id']}") as response:
        case = await response.json()
    said = [line["text"] for line in case["transcript"] if line["from"] == "citoyen"]
    assert said[:3] == ["je voudrais un rendez-vous pour un passeport", "2", "je voudrais parler à un agent"], case
    assert any(line["from"] == "assistant" for line in case["transcript"]), case
    known = {item["label"]: item["value"] for item in case["known"]}
    assert known.get("Démarche") == "Passeport" and known.get("Nombre de personnes") == "2 personnes", known
    assert known.get("Téléphone") == "06 98 76 54 32", known
    if stack.tickets_db.exists():  # nothing went to the fallback outbox (created on first use, if ever)
        with sqlite3.connect(stack.tickets_db) as db:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            assert "tickets" not in tables or db.execute("SELECT count(*) FROM tickets").fetchone() == (0,)


async def test_the_console_reads_todays_appointments_and_refuses_strangers(
        stack: Stack, console: tuple[aiohttp.ClientSession, dict[str, str]]) -> None:
    http, _ = console
    async with http.get("/api/v1/console/appointments/today") as response:
        assert response.status == 200, await response.text()
        assert isinstance((await response.json())["appointments"], list)
    async with http.get("/api/v1/console/appointments/ABCD-EFGH") as response:
        assert response.status == 404  # a well-formed reference the booking backend does not know
    async with aiohttp.ClientSession(base_url=str(stack.desk_url)) as stranger, \
            stranger.get("/api/v1/console/cases") as response:
        assert response.status == 401


class SocketIO:
    """Just enough of the socket.io protocol (Engine.IO 4 over a WebSocket) to talk to Rasa's channel as the
    widget does: session_request / session_confirm, user_uttered / bot_uttered."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    @classmethod
    async def connect(cls, http: aiohttp.ClientSession, rasa_url: str) -> SocketIO:
        ws = await http.ws_connect(rasa_url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket")
        assert (await ws.receive_str()).startswith("0")
        await ws.send_str("40")
        assert (await ws.receive_str()).startswith("40")
        return cls(ws)

    async def emit(self, event: str, data: Any) -> None:
        await self.ws.send_str("42" + json.dumps([event, data]))

    async def events(self, quiet_s: float, first_s: float = 60) -> list[tuple[str, Any]]:
        """Events until none came for ``quiet_s`` (the first may take ``first_s``); pings are answered."""
        loop = asyncio.get_running_loop()
        got: list[tuple[str, Any]] = []
        deadline = loop.time() + first_s
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    message = await self.ws.receive_str()
            except TimeoutError:
                return got
            if message == "2":
                await self.ws.send_str("3")
            elif message.startswith("42"):
                event, *args = json.loads(message[2:])
                got.append((event, args[0] if args else None))
                deadline = loop.time() + quiet_s


async def _receive(ws: aiohttp.ClientWebSocketResponse, kind: str, seconds: float = 10) -> dict[str, Any]:
    async with asyncio.timeout(seconds):
        while True:
            data: dict[str, Any] = await ws.receive_json()
            if data.get("type") == kind:
                return data


async def test_in_the_site_chat_an_agent_takes_over_live_then_hands_back_to_the_bot(
        stack: Stack, console: tuple[aiohttp.ClientSession, dict[str, str]]) -> None:
    http, headers = console
    session_id = f"sio{uuid.uuid4().hex[:12]}"
    queue = await http.ws_connect("/console/ws")  # an agent is at the console
    assert (await queue.receive_json())["type"] == "hello"
    chat = await SocketIO.connect(http, stack.rasa_url)
    await chat.emit("session_request", {"session_id": session_id})
    assert ("session_confirm", session_id) in await chat.events(quiet_s=0.5, first_s=10)

    async def say(text: str, quiet_s: float = 3, first_s: float = 60) -> list[Any]:
        await chat.emit("user_uttered", {"message": text, "session_id": session_id})
        return [data for event, data in await chat.events(quiet_s, first_s) if event == "bot_uttered"]

    asked = await say("je voudrais parler à un agent")
    assert any("numéro" in (m.get("text") or "") for m in asked), asked
    handed = await say("0698765432")
    texts = " ".join(m.get("text") or "" for m in handed)
    assert "ici même" in texts, handed
    custom = [m for m in handed if "guichet" in m]
    assert len(custom) == 1 and custom[0]["guichet"]["handoff"]["live"] is True, handed
    case_id = custom[0]["guichet"]["handoff"]["case_id"]
    created = (await _receive(queue, "case_created"))["case"]
    assert (created["id"], created["conversation_id"], created["live"]) == (case_id, session_id, True)
    assert stack.tracker(session_id)["paused"] is True
    assert await say("allô ?", first_s=6) == []  # paused: the bot stays silent while the agent has the chat

    widget = await http.ws_connect(f"{stack.desk_url}/chat/live?session={session_id}")
    assert (await widget.receive_json())["operator"] is False
    base = f"/api/v1/console/cases/{case_id}"
    assert (await http.post(f"{base}/claim", headers=headers)).status == 200
    assert (await _receive(widget, "operator_joined"))["operator_name"] == "agent.dupont"
    await http.post(f"{base}/reply", json={"text": "Bonjour, je suis là."}, headers=headers)
    assert (await _receive(widget, "operator_message"))["text"] == "Bonjour, je suis là."
    await widget.send_json({"type": "citizen_message", "text": "Merci !"})
    assert (await _receive(queue, "message"))["message"]["from"] == "agent"  # the reply, shown to every console
    heard = (await _receive(queue, "message"))["message"]
    assert (heard["from"], heard["text"]) == ("citoyen", "Merci !")

    back = await http.post(f"{base}/handback", headers=headers)
    assert back.status == 200, await back.text()
    assert await _receive(widget, "operator_left") == {"type": "operator_left"}
    assert stack.tracker(session_id)["paused"] is False
    again = await say("vous êtes ouverts le samedi ?")
    assert any("samedi" in (m.get("text") or "").lower() for m in again), again  # the bot answers again
    for ws in (queue, widget, chat.ws):
        await ws.close()

"""Live hand-over through the real app: the widget's and the console's WebSockets, and a small real aiohttp server
standing in for Rasa's HTTP API (tracker events) to check that handing back resumes the conversation."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from guichet.clock import FrozenClock
from tests.web.conftest import CASE, RASA_TOKEN, Client, FakeRasa, post_case
from web.keys import RASA
from web.rasa import RESUME
from web.watch import release_unanswered

Operator = Callable[[str], Awaitable[tuple[Client, dict[str, str]]]]
NewClient = Callable[[], Awaitable[Client]]
LIVE = {**CASE, "conversation_id": "sio-abc123", "channel": "socketio", "callback_only": False}


async def receive(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    """The next message of type ``kind`` (others are skipped), within two seconds."""
    async with asyncio.timeout(2):
        while True:
            data: dict[str, Any] = await ws.receive_json()
            if data.get("type") == kind:
                return data


async def test_a_web_chat_case_is_taken_over_live_and_handed_back_to_the_bot(
        as_operator: Operator, rasa: FakeRasa) -> None:
    alice, a = await as_operator("alice")
    console = await alice.ws_connect("/console/ws")
    assert (await console.receive_json())["type"] == "hello"
    widget = await alice.ws_connect(f"/chat/live?session={LIVE['conversation_id']}")
    assert await widget.receive_json() == {"type": "state", "operator": False, "operator_name": None, "messages": []}

    created = await post_case(alice, LIVE)
    assert (created.status, (await created.json())["live"]) == (201, True)  # an operator is at the console
    case = (await receive(console, "case_created"))["case"]
    assert case["conversation_id"] == "sio-abc123" and case["live"] is True and case["status"] == "open"
    base = f"/api/v1/console/cases/{case['id']}"

    await alice.post(f"{base}/claim", headers=a)
    assert await receive(widget, "operator_joined") == {"type": "operator_joined", "operator_name": "alice"}
    assert (await receive(console, "case_updated"))["case"]["claimed_by"] == "alice"

    hostile = "<img src=x onerror=alert(1)> مرحبا 😀"
    sent = await alice.post(f"{base}/reply", json={"text": hostile}, headers=a)
    assert sent.status == 201 and (await sent.json())["delivered"] is True
    to_widget = await receive(widget, "operator_message")
    assert to_widget["text"] == hostile and to_widget["at"]
    assert (await receive(console, "message"))["message"]["from"] == "agent"

    await widget.send_json({"type": "citizen_message", "text": "Merci, et pour ma fille ?"})
    heard = await receive(console, "message")
    assert heard["case_id"] == case["id"] and heard["message"]["from"] == "citoyen"
    assert heard["message"]["text"] == "Merci, et pour ma fille ?"
    await widget.send_json({"type": "citizen_message", "text": "x" * 2001})
    assert "2000" in (await receive(widget, "error"))["message"]

    reloaded = await alice.ws_connect(f"/chat/live?session={LIVE['conversation_id']}")  # the page was reloaded
    state = await reloaded.receive_json()
    assert state["operator"] is True and state["operator_name"] == "alice"
    assert [(m["from"], m["text"]) for m in state["messages"]] == [("operator", hostile),
                                                                   ("citizen", "Merci, et pour ma fille ?")]
    detail = await (await alice.get(base)).json()
    assert [(m["from"], m["text"]) for m in detail["transcript"]][-2:] == \
        [("agent", hostile), ("citoyen", "Merci, et pour ma fille ?")]

    assert rasa.events == []
    back = await alice.post(f"{base}/handback", headers=a)
    assert back.status == 200 and (await back.json())["live"] is False
    assert rasa.events == [("sio-abc123", RESUME)] and rasa.refused == 0
    assert await receive(widget, "operator_left") == {"type": "operator_left"}
    await widget.send_json({"type": "citizen_message", "text": "encore là ?"})
    assert "l'assistant" in (await receive(widget, "error"))["message"]  # the bot answers again, not the desk
    resolved = await alice.post(f"{base}/resolve", json={"outcome": "renseigne"}, headers=a)
    assert resolved.status == 200 and len(rasa.events) == 1  # already resumed: not twice
    for ws in (console, widget, reloaded):
        await ws.close()


async def test_resolving_a_live_case_resumes_the_bot_and_tells_the_widget(as_operator: Operator,
                                                                          rasa: FakeRasa) -> None:
    chef, c = await as_operator("chef")
    console = await chef.ws_connect("/console/ws")
    widget = await chef.ws_connect("/chat/live?session=sio-2")
    case_id = (await (await post_case(chef, {**LIVE, "conversation_id": "sio-2"})).json())["id"]
    await chef.post(f"/api/v1/console/cases/{case_id}/claim", headers=c)
    done = await chef.post(f"/api/v1/console/cases/{case_id}/resolve", json={"outcome": "rendez_vous_pris"}, headers=c)
    assert done.status == 200
    assert await receive(widget, "resolved") == {"type": "resolved"}
    assert rasa.events == [("sio-2", RESUME)]
    assert (await receive(console, "case_updated"))["case"]["status"] in ("claimed", "resolved")
    await console.close()
    await widget.close()


async def test_without_an_operator_at_the_console_a_web_chat_case_is_a_callback(new_client: NewClient) -> None:
    client = await new_client()
    created = await post_case(client, {**LIVE, "conversation_id": "sio-3"})
    assert (created.status, (await created.json())["live"]) == (201, False)
    phone = await post_case(client, {**CASE, "conversation_id": "call-1", "channel": "voice"})
    assert (await phone.json())["live"] is False


async def test_if_the_dialogue_server_refuses_the_hand_back_the_case_stays_live(
        as_operator: Operator, rasa: FakeRasa, server: TestServer) -> None:
    alice, a = await as_operator("alice")
    console = await alice.ws_connect("/console/ws")
    case_id = (await (await post_case(alice, {**LIVE, "conversation_id": "sio-4"})).json())["id"]
    await alice.post(f"/api/v1/console/cases/{case_id}/claim", headers=a)
    server.app[RASA].token = RASA_TOKEN + "-wrong"
    refused = await alice.post(f"/api/v1/console/cases/{case_id}/handback", headers=a)
    assert refused.status == 502 and "dialogue" in (await refused.json())["error"]["message"]
    assert rasa.refused == 1 and (await (await alice.get(f"/api/v1/console/cases/{case_id}")).json())["live"] is True
    await console.close()


async def test_the_console_socket_refuses_other_sites_and_anonymous_visitors(as_operator: Operator,
                                                                             new_client: NewClient) -> None:
    alice, _ = await as_operator("alice")
    other_site = await alice.get("/console/ws", headers={"Origin": "https://evil.example", "Upgrade": "websocket",
                                                         "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
                                                         "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    assert other_site.status == 403
    anonymous = await new_client()
    assert (await anonymous.get("/console/ws")).status == 401
    assert (await anonymous.get("/chat/live")).status == 400  # no session id


async def test_asking_again_after_a_hand_back_brings_the_same_agent_back(as_operator: Operator,
                                                                         rasa: FakeRasa) -> None:
    alice, a = await as_operator("alice")
    console = await alice.ws_connect("/console/ws")
    widget = await alice.ws_connect("/chat/live?session=sio-5")
    case_id = (await (await post_case(alice, {**LIVE, "conversation_id": "sio-5"})).json())["id"]
    await alice.post(f"/api/v1/console/cases/{case_id}/claim", headers=a)
    await alice.post(f"/api/v1/console/cases/{case_id}/handback", headers=a)
    await receive(widget, "operator_left")
    again = await post_case(alice, {**LIVE, "conversation_id": "sio-5"})
    assert (again.status, await again.json()) == (200, {"id": case_id, "live": True})
    assert await receive(widget, "operator_joined") == {"type": "operator_joined", "operator_name": "alice"}
    await console.close()
    await widget.close()


async def test_a_live_case_nobody_claims_goes_back_to_the_bot_as_a_callback(
        as_operator: Operator, rasa: FakeRasa, server: TestServer, desk_clock: FrozenClock) -> None:
    alice, _ = await as_operator("alice")
    console = await alice.ws_connect("/console/ws")
    widget = await alice.ws_connect("/chat/live?session=sio-6")
    case_id = (await (await post_case(alice, {**LIVE, "conversation_id": "sio-6"})).json())["id"]
    desk_clock.advance(timedelta(seconds=179))
    assert await release_unanswered(server.app) == 0
    desk_clock.advance(timedelta(seconds=2))
    assert await release_unanswered(server.app) == 1
    left = await receive(widget, "operator_left")
    assert left["reason"] == "no_agent" and "rappellera" in left["text"]
    assert rasa.events == [("sio-6", RESUME)]
    case = await (await alice.get(f"/api/v1/console/cases/{case_id}")).json()
    assert (case["live"], case["status"], case["callback_only"]) == (False, "open", True)
    assert await release_unanswered(server.app) == 0  # once
    await console.close()
    await widget.close()


async def test_the_widget_gets_stable_error_codes_it_can_act_on(new_client: NewClient) -> None:
    citizen = await new_client()
    widget = await citizen.ws_connect("/chat/live?session=sio-7")
    await widget.send_json({"type": "citizen_message", "text": "Allô ?"})  # no agent is with this conversation
    assert await receive(widget, "error") == {
        "type": "error", "code": "not_live",
        "message": "Aucun agent n'est en ligne avec vous : l'assistant vous répond."}
    await widget.send_json({"type": "citizen_message", "text": ""})
    assert (await receive(widget, "error"))["code"] == "invalid_text"
    await widget.send_json({"type": "hello"})
    assert (await receive(widget, "error"))["code"] == "unknown_message"
    await widget.close()

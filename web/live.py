"""Live hand-over: the widget's WebSocket (``/chat/live?session=…``) and the console's (``/console/ws``).

While an agent has a web-chat case, the dialogue is paused: the citizen's messages come here (stored, shown in the
console) and the agent's replies go to the widget. The console socket only receives: new cases, changes, messages.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import WSMsgType, web

from guichet.text import storable_json
from web.access import check_origin, operator_session
from web.http import DeskError
from web.keys import CLOCK, HUB, SETTINGS, STORE
from web.present import message_json, widget_message

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
HEARTBEAT_S = 25.0


async def widget_state(request: web.Request, conversation_id: str) -> dict[str, Any]:
    store = request.app[STORE]
    case = await store.open_case(conversation_id)
    if case is None or not case.live:
        return {"type": "state", "operator": False, "operator_name": None, "messages": []}
    messages = [widget_message(m) for m in await store.messages(case.id) if m.live]
    return {"type": "state", "operator": case.claimed_by is not None, "operator_name": case.claimed_by_name,
            "messages": messages}


async def citizen_message(request: web.Request, ws: web.WebSocketResponse, conversation_id: str,
                          data: Any) -> None:
    if not isinstance(data, dict) or data.get("type") != "citizen_message":
        await ws.send_json({"type": "error", "code": "unknown_message", "message": "Message non reconnu."})
        return
    text = data.get("text")
    limit = request.app[SETTINGS].max_text
    if not isinstance(text, str) or not text.strip() or len(text) > limit:
        await ws.send_json({"type": "error", "code": "invalid_text",
                            "message": f"Votre message doit faire de 1 à {limit} caractères."})
        return
    store = request.app[STORE]
    case = await store.open_case(conversation_id)
    if case is None or not case.live:
        await ws.send_json({"type": "error", "code": "not_live",
                            "message": "Aucun agent n'est en ligne avec vous : l'assistant vous répond."})
        return
    message = await store.add_message(case.id, "citoyen", text, request.app[CLOCK].now())
    await request.app[HUB].to_consoles({"type": "message", "case_id": case.id, "message": message_json(message)})


@routes.get("/chat/live")
async def widget_socket(request: web.Request) -> web.StreamResponse:
    conversation_id = request.query.get("session", "")
    if not conversation_id or len(conversation_id) > 128:
        raise DeskError("Paramètre « session » manquant ou invalide.", code="invalid_session")
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S, max_msg_size=64 * 1024)
    await ws.prepare(request)
    hub = request.app[HUB]
    hub.add_widget(conversation_id, ws)
    try:
        await ws.send_json(await widget_state(request, conversation_id))
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            try:
                data = storable_json(msg.json())
            except ValueError:
                data = None
            await citizen_message(request, ws, conversation_id, data)
    finally:
        hub.remove_widget(conversation_id, ws)
    return ws


@routes.get("/console/ws")
async def console_socket(request: web.Request) -> web.StreamResponse:
    check_origin(request)  # cookies ride along on WebSockets: refuse other sites' pages
    session = await operator_session(request)
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S, max_msg_size=4096)
    await ws.prepare(request)
    hub = request.app[HUB]
    hub.consoles[ws] = session.operator.id
    try:
        await ws.send_json({"type": "hello", "operator": session.operator.username})
        async for _msg in ws:
            pass  # the console acts through the JSON API; this socket only pushes
    finally:
        hub.consoles.pop(ws, None)
    return ws

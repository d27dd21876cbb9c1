"""The case API the action server calls when the bot hands a conversation over (bearer desk token)."""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from web.auth import same
from web.http import DeskError, json_body, json_response
from web.keys import CLOCK, HUB, SETTINGS, STORE
from web.present import case_summary
from web.store import NewCase

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
CHANNELS = ("socketio", "rest", "voice")
MAX_TRANSCRIPT = 500
MAX_COLLECTED = 20_000  # characters of JSON
CUT = " […]"


def authorize(request: web.Request) -> None:
    header = request.headers.get("Authorization", "")
    presented = header[7:].strip() if header.lower().startswith("bearer ") else None
    if not same(presented, request.app[SETTINGS].desk_token):
        raise DeskError("Jeton du service d'actions manquant ou invalide.", status=401, code="unauthorized",
                        headers={"WWW-Authenticate": "Bearer"})


def _short(value: Any, what: str, limit: int, *, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise DeskError(f"« {what} » doit être un texte de 1 à {limit} caractères.", code="invalid_field")
    return value


def parse_case(body: dict[str, Any], *, max_text: int) -> tuple[NewCase, bool]:
    """The new case and whether it may be taken over live, or a French reason (422)."""
    conversation_id = _short(body.get("conversation_id"), "conversation_id", 128)
    channel = body.get("channel")
    if channel not in CHANNELS:
        raise DeskError("« channel » vaut socketio, rest ou voice.", code="invalid_channel")
    reason = _short(body.get("reason"), "reason", 64)
    phone = _short(body.get("phone"), "phone", 64, required=False)
    collected = body.get("collected", {})
    if not isinstance(collected, dict) or len(json.dumps(collected, ensure_ascii=False)) > MAX_COLLECTED:
        raise DeskError(f"« collected » doit être un objet JSON de {MAX_COLLECTED} caractères au plus.",
                        code="invalid_collected")
    transcript = body.get("transcript", [])
    if not isinstance(transcript, list) or len(transcript) > MAX_TRANSCRIPT:
        raise DeskError(f"« transcript » doit être une liste de {MAX_TRANSCRIPT} lignes au plus.",
                        code="invalid_transcript")
    lines: list[tuple[str, str]] = []
    for line in transcript:
        if not isinstance(line, dict) or line.get("from") not in ("citoyen", "assistant") \
                or not isinstance(line.get("text"), str):
            raise DeskError("Chaque ligne de « transcript » est {\"from\": \"citoyen\"|\"assistant\", \"text\"}.",
                            code="invalid_transcript")
        text = line["text"]
        # What the citizen typed is kept (a hand-off is never refused for it), cut to the desk's bound.
        lines.append((line["from"], text if len(text) <= max_text else text[:max_text - len(CUT)] + CUT))
    callback_only = body.get("callback_only", False)
    if not isinstance(callback_only, bool):
        raise DeskError("« callback_only » vaut true ou false.", code="invalid_field")
    assert conversation_id is not None and reason is not None
    return NewCase(conversation_id, str(channel), reason, phone, collected, lines, callback_only, False), \
        channel == "socketio" and not callback_only


@routes.post("/api/v1/cases")
async def create_case(request: web.Request) -> web.Response:
    authorize(request)
    new, may_be_live = parse_case(await json_body(request), max_text=request.app[SETTINGS].max_text)
    hub = request.app[HUB]
    live = may_be_live and hub.operators_available()
    new = NewCase(new.conversation_id, new.channel, new.reason, new.phone, new.collected, new.transcript,
                  new.callback_only, live)
    store, now = request.app[STORE], request.app[CLOCK].now()
    case, created = await store.create_case(new, now)
    if not created:
        if live and not case.live:  # asked again after a hand-back: the agent takes the chat over again
            await store.update_case(case.id, now, expect_status=("open", "claimed"), live=True)
            case = await store.case(case.id) or case
            await hub.to_consoles({"type": "case_updated", "case": case_summary(case)})
            if case.claimed_by_name:
                await hub.to_widget(case.conversation_id, {"type": "operator_joined",
                                                           "operator_name": case.claimed_by_name})
        return json_response({"id": case.id, "live": case.live}, status=200)
    log.info("case %s created (%s, %s, live=%s)", case.id, case.channel, case.reason, case.live)
    await hub.to_consoles({"type": "case_created", "case": case_summary(case)})
    return json_response({"id": case.id, "live": case.live}, status=201)

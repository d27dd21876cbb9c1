"""The console's JSON API: the queue, a case with what the bot knows, claim, reply, hand back, resolve; today's
appointments and lookup by reference (booking staff API); operators (supervisors only)."""

from __future__ import annotations

import logging
import re

from aiohttp import web

from web import labels
from web.access import operator_session, require_owner, require_supervisor
from web.auth import check_password_rules
from web.http import DeskError, bounded_text, integer, json_body, json_response
from web.keys import CLOCK, HUB, PASSWORDS, RASA, SETTINGS, STAFF, STORE
from web.present import case_detail, case_summary, message_json
from web.rasa import DialogueUnavailable
from web.store import ROLES, Case, Session

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
_REFERENCE = re.compile(r"^[2-9A-Za-z]{4}-?[2-9A-Za-z]{4}$")
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")


async def _case(request: web.Request) -> Case:
    case = await request.app[STORE].case(integer(request.match_info["case_id"], "case_id"))
    if case is None:
        raise DeskError("Dossier introuvable.", status=404, code="case_not_found")
    return case


async def _changed(request: web.Request, case_id: int) -> Case:
    case = await request.app[STORE].case(case_id)
    assert case is not None
    await request.app[HUB].to_consoles({"type": "case_updated", "case": case_summary(case)})
    return case


async def _resume(request: web.Request, case: Case) -> None:
    try:
        await request.app[RASA].resume(case.conversation_id)
    except DialogueUnavailable:
        raise DeskError("Le serveur de dialogue ne répond pas : la conversation n'a pas pu être rendue à "
                        "l'assistant. Réessayez dans un instant.", status=502, code="dialogue_unavailable") from None


@routes.get("/api/v1/console/cases")
async def queue(request: web.Request) -> web.Response:
    session = await operator_session(request)
    resolved = request.query.get("status") == "resolved"
    if resolved:
        require_supervisor(session)
    cases = await request.app[STORE].cases(resolved=resolved)
    return json_response({"cases": [case_summary(c) for c in cases]})


@routes.get("/api/v1/console/cases/{case_id}")
async def detail(request: web.Request) -> web.Response:
    await operator_session(request)
    case = await _case(request)
    return json_response(case_detail(case, await request.app[STORE].messages(case.id)))


@routes.post("/api/v1/console/cases/{case_id}/claim")
async def claim(request: web.Request) -> web.Response:
    session = await operator_session(request)
    case = await _case(request)
    me = session.operator
    if case.status == "resolved":
        raise DeskError("Ce dossier est déjà résolu.", status=409, code="case_resolved")
    if case.claimed_by not in (None, me.id) and not me.supervisor:
        raise DeskError(f"Ce dossier est déjà pris en charge par {case.claimed_by_name}.", status=409,
                        code="claimed_by_another")
    expected = ("open",) if case.claimed_by is None else ("claimed",)
    if not await request.app[STORE].update_case(case.id, request.app[CLOCK].now(), expect_status=expected,
                                                status="claimed", claimed_by=me.id):
        raise DeskError("Quelqu'un vient de prendre ce dossier : rechargez la file.", status=409, code="conflict")
    case = await _changed(request, case.id)
    if case.live:
        await request.app[HUB].to_widget(case.conversation_id, {"type": "operator_joined",
                                                                "operator_name": me.username})
    log.info("case %s claimed by operator %s", case.id, me.id)
    return json_response(case_summary(case))


@routes.post("/api/v1/console/cases/{case_id}/reply")
async def reply(request: web.Request) -> web.Response:
    session = await operator_session(request)
    case = await _case(request)
    require_owner(session, case, action="répondre")
    body = await json_body(request)
    text = bounded_text(body.get("text"), "text", limit=request.app[SETTINGS].max_text)
    if not case.live:
        raise DeskError("Ce citoyen n'est plus en ligne avec un agent : rappelez-le au numéro indiqué.",
                        status=409, code="not_live")
    message = await request.app[STORE].add_message(case.id, "agent", text, request.app[CLOCK].now(),
                                                   operator_id=session.operator.id)
    hub = request.app[HUB]
    await hub.to_widget(case.conversation_id, {"type": "operator_message", "text": text,
                                               "at": message.at.isoformat()})
    shown = {**message_json(message), "operator": session.operator.username}
    await hub.to_consoles({"type": "message", "case_id": case.id, "message": shown})
    return json_response({"message": shown, "delivered": hub.widget_connected(case.conversation_id)}, status=201)


@routes.post("/api/v1/console/cases/{case_id}/handback")
async def handback(request: web.Request) -> web.Response:
    session = await operator_session(request)
    case = await _case(request)
    require_owner(session, case, action="rendre la conversation")
    if not case.live:
        raise DeskError("L'assistant répond déjà à cette conversation.", status=409, code="not_live")
    await _resume(request, case)
    await request.app[STORE].update_case(case.id, request.app[CLOCK].now(), live=False)
    await request.app[HUB].to_widget(case.conversation_id, {"type": "operator_left"})
    return json_response(case_summary(await _changed(request, case.id)))


@routes.post("/api/v1/console/cases/{case_id}/resolve")
async def resolve(request: web.Request) -> web.Response:
    session = await operator_session(request)
    case = await _case(request)
    require_owner(session, case, action="clore ce dossier")
    body = await json_body(request)
    outcome = body.get("outcome")
    if outcome not in labels.OUTCOMES:
        raise DeskError("Choisissez l'issue du dossier : " + ", ".join(labels.OUTCOMES) + ".", code="invalid_outcome")
    note = bounded_text(body.get("note"), "note", limit=request.app[SETTINGS].max_text, required=False) or None
    if case.live:
        await _resume(request, case)
    if not await request.app[STORE].update_case(case.id, request.app[CLOCK].now(), expect_status=("claimed",),
                                                status="resolved", outcome=outcome, note=note, live=False):
        raise DeskError("Ce dossier a changé entre-temps : rechargez-le.", status=409, code="conflict")
    if case.live:
        await request.app[HUB].to_widget(case.conversation_id, {"type": "resolved"})
    log.info("case %s resolved (%s) by operator %s", case.id, outcome, session.operator.id)
    return json_response(case_summary(await _changed(request, case.id)))


@routes.get("/api/v1/console/appointments/today")
async def today(request: web.Request) -> web.Response:
    await operator_session(request)
    return json_response(await request.app[STAFF].today())


@routes.get("/api/v1/console/appointments/{reference}")
async def find(request: web.Request) -> web.Response:
    await operator_session(request)
    reference = request.match_info["reference"].strip()
    if not _REFERENCE.match(reference):
        raise DeskError("Une référence s'écrit en 8 caractères, par exemple K7PD-X4M2.", code="invalid_reference")
    return json_response(await request.app[STAFF].find(reference.replace("-", "").upper()))


@routes.get("/api/v1/console/operators")
async def list_operators(request: web.Request) -> web.Response:
    require_supervisor(await operator_session(request))
    return json_response({"operators": [{"username": o.username, "role": o.role}
                                        for o in await request.app[STORE].operators()]})


@routes.post("/api/v1/console/operators")
async def add_operator(request: web.Request) -> web.Response:
    session: Session = await operator_session(request)
    require_supervisor(session)
    body = await json_body(request)
    username, password, role = body.get("username"), body.get("password"), body.get("role", "agent")
    if not isinstance(username, str) or not _USERNAME.match(username):
        raise DeskError("Identifiant : 2 à 32 caractères parmi a-z, 0-9, « . », « _ », « - ».",
                        code="invalid_username")
    if role not in ROLES:
        raise DeskError("Le rôle vaut agent ou superviseur.", code="invalid_role")
    problem = check_password_rules(password) if isinstance(password, str) else "Indiquez un mot de passe."
    if problem:
        raise DeskError(problem, code="weak_password")
    store = request.app[STORE]
    if await store.operator(username=username):
        raise DeskError("Cet identifiant existe déjà.", status=409, code="username_taken")
    operator = await store.add_operator(username, await request.app[PASSWORDS].hash(str(password)), str(role),
                                        request.app[CLOCK].now())
    return json_response({"username": operator.username, "role": operator.role}, status=201)

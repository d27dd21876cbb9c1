"""Console login and logout: pre-session CSRF token, rate-limited password check, the session cookie."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from aiohttp import web

from web import labels
from web.access import check_origin, operator_session
from web.auth import CSRF_HEADER, LOGIN_COOKIE, SESSION_COOKIE, same
from web.http import DeskError, json_body, json_response
from web.keys import LIMITER, PASSWORDS, SESSIONS, SETTINGS, STORE
from web.store import Operator

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


def _cookie(request: web.Request, response: web.Response, name: str, value: str, *, max_age: int | None) -> None:
    response.set_cookie(name, value, httponly=True, samesite="Strict", secure=request.app[SETTINGS].secure_cookies,
                        path="/", max_age=max_age)


def operator_json(operator: Operator) -> dict[str, Any]:
    return {"username": operator.username, "role": operator.role}


@routes.get("/api/v1/console/login")
async def login_form(request: web.Request) -> web.Response:
    """A token the login request must echo in its header (double submit: another site cannot read it)."""
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    response = json_response({"csrf": token})
    _cookie(request, response, LOGIN_COOKIE, token, max_age=3600)
    response.headers["Cache-Control"] = "no-store"
    return response


@routes.post("/api/v1/console/login")
async def login(request: web.Request) -> web.Response:
    check_origin(request)
    if not same(request.headers.get(CSRF_HEADER), request.cookies.get(LOGIN_COOKIE)):
        raise DeskError("Jeton anti-CSRF de connexion manquant : rechargez la page.", status=403, code="csrf_failed")
    body = await json_body(request)
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str) or not username or not password \
            or len(username) > 64 or len(password) > 256:
        raise DeskError("Indiquez votre identifiant et votre mot de passe.", code="invalid_credentials_format")
    limiter = request.app[LIMITER]
    keys = {"user": username.lower(), "client": request.remote or "?"}
    wait = await limiter.retry_after(keys)
    if wait is not None:
        minutes = max(1, round(wait / 60))
        raise DeskError(f"Trop de tentatives de connexion : réessayez dans {minutes} minute"
                        f"{'s' if minutes > 1 else ''}.", status=429, code="too_many_attempts",
                        headers={"Retry-After": str(int(wait) + 1)})
    operator = await request.app[STORE].operator(username=username)
    if not await request.app[PASSWORDS].verify(operator.password_hash if operator else None, password) \
            or operator is None:
        await limiter.failed(keys)
        log.info("failed console login")
        raise DeskError("Identifiant ou mot de passe incorrect.", status=401, code="bad_credentials")
    opened = await request.app[SESSIONS].open(operator)
    log.info("operator %s logged in", operator.id)
    response = json_response({"operator": operator_json(operator), "csrf": opened.csrf,
                              "outcomes": labels.OUTCOMES})
    _cookie(request, response, SESSION_COOKIE, opened.token, max_age=None)
    response.del_cookie(LOGIN_COOKIE, path="/")
    return response


@routes.post("/api/v1/console/logout")
async def logout(request: web.Request) -> web.Response:
    await operator_session(request)
    await request.app[SESSIONS].close(request.cookies.get(SESSION_COOKIE))
    response = json_response({"ok": True})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


@routes.get("/api/v1/console/me")
async def me(request: web.Request) -> web.Response:
    session = await operator_session(request)
    response = json_response({"operator": operator_json(session.operator), "csrf": session.csrf,
                              "outcomes": labels.OUTCOMES})
    response.headers["Cache-Control"] = "no-store"
    return response

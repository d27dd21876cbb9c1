"""Application factory of the desk: resources opened in ``cleanup_ctx``, state in ``AppKey``s, static pages."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiohttp
from aiohttp import web

from guichet.clock import Clock, SystemClock
from guichet.metrics import instrument
from guichet.ratelimit import FailureLimiter, Rule
from knowledge.loader import load_facts, load_town
from web import cases, citizen, console, live, login, stats
from web.appointments import CitizenAppointments
from web.auth import Passwords, Sessions
from web.http import CSP, error_middleware, json_response
from web.hub import Hub
from web.keys import (
    APPOINTMENTS,
    CLOCK,
    FACTS,
    HTTP,
    HUB,
    LIMITER,
    PASSWORDS,
    RASA,
    SESSIONS,
    SETTINGS,
    STAFF,
    STORE,
    TOWN,
)
from web.rasa import RasaClient
from web.settings import DeskSettings
from web.staff import StaffClient
from web.store import DeskStore, open_store
from web.watch import watching

WEB = Path(__file__).resolve().parent
STATIC = WEB / "static"
SOCKET_IO = WEB / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"
MAX_BODY = 256 * 1024


def _file(path: Path, *, page: bool = False, cors: bool = False) -> web.Response | web.FileResponse:
    if not path.is_file():
        return json_response({"error": {"code": "not_found", "message": "Fichier absent de cette installation."}},
                             status=404)
    response = web.FileResponse(path, headers={"Cache-Control": "no-cache"})
    if page:
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Frame-Options"] = "DENY"
    if cors:
        response.headers["Access-Control-Allow-Origin"] = "*"
    return response


async def health(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def widget_config(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    return json_response({"dialogue_url": settings.dialogue_public_url, "socketio_path": "/socket.io",
                          "desk_url": settings.public_url or f"{request.scheme}://{request.host}",
                          "town": settings.town}, headers={"Access-Control-Allow-Origin": "*"})


async def demo(request: web.Request) -> web.StreamResponse:
    return _file(STATIC / "demo.html", page=True)


async def widget_js(request: web.Request) -> web.StreamResponse:
    return _file(STATIC / "widget.js", cors=True)


async def socket_io(request: web.Request) -> web.StreamResponse:
    return _file(SOCKET_IO, cors=True)


async def console_page(request: web.Request) -> web.StreamResponse:
    return _file(STATIC / "console" / "index.html", page=True)


async def static(request: web.Request) -> web.StreamResponse:
    relative = request.match_info["path"]
    path = (STATIC / relative).resolve()
    if STATIC.resolve() not in path.parents:
        raise web.HTTPNotFound()
    return _file(path, cors=relative.startswith("widget"))


def create_app(settings: DeskSettings, *, clock: Clock | None = None, store: DeskStore | None = None,
               passwords: Passwords | None = None) -> web.Application:
    """Build the app; the store is opened at start-up unless given (tests)."""
    app = web.Application(middlewares=[error_middleware], client_max_size=MAX_BODY)
    app[SETTINGS] = settings
    app[CLOCK] = clock or SystemClock()
    app[PASSWORDS] = passwords or Passwords()
    app[HUB] = Hub()
    app[FACTS] = load_facts()  # the documents checklist of the citizen's page, as the bot gives it
    app[TOWN] = load_town()  # its deadlines to cancel or move online, and the town hall's number
    rules = [Rule("user", settings.login_limit_user), Rule("client", settings.login_limit_client)]
    app[LIMITER] = FailureLimiter(rules, storage_uri=settings.ratelimit_storage)

    async def resources(app: web.Application) -> AsyncIterator[None]:
        db = store or open_store(settings.database_url)
        await db.migrate()
        app[STORE] = db
        app[SESSIONS] = Sessions(db, app[CLOCK], timedelta(seconds=settings.session_idle_s))
        session = aiohttp.ClientSession()
        app[HTTP] = session
        app[RASA] = RasaClient(session, settings.dialogue_url, settings.rasa_token, timeout_s=settings.http_timeout_s)
        app[STAFF] = StaffClient(session, settings.booking_url, settings.staff_token,
                                 timeout_s=settings.http_timeout_s)
        app[APPOINTMENTS] = CitizenAppointments(session, settings.booking_url, timeout_s=settings.http_timeout_s)
        yield
        await session.close()
        if store is None:
            await db.close()

    async def retention(app: web.Application) -> AsyncIterator[None]:
        """Daily (and at start-up): resolved cases and idle conversations past the retention period are deleted."""
        from guichet.gdpr.operations import desk_retention

        task = asyncio.create_task(desk_retention(app[STORE], settings.tracker_url, app[CLOCK],
                                                  settings.retention_days))
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def close_sockets(app: web.Application) -> None:
        await app[HUB].close_all()  # open WebSockets would otherwise hold the shutdown until its timeout

    app.cleanup_ctx.append(resources)
    app.cleanup_ctx.append(watching)
    app.cleanup_ctx.append(retention)
    app.on_shutdown.append(close_sockets)
    app.router.add_get("/health", health)
    app.router.add_get("/", demo)
    app.router.add_get("/widget.js", widget_js)
    app.router.add_get("/static/vendor/socket.io.min.js", socket_io)
    app.router.add_get("/static/{path:.+}", static)
    app.router.add_get("/console", console_page)
    app.router.add_get("/api/v1/widget/config", widget_config)
    app.add_routes(cases.routes)
    app.add_routes(login.routes)
    app.add_routes(console.routes)
    app.add_routes(live.routes)
    app.add_routes(stats.routes)
    app.add_routes(citizen.routes)
    instrument(app, "desk")
    return app

"""Application factory of the booking backend: resources opened in ``cleanup_ctx``, state in ``AppKey``s."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from booking.ants import editor
from booking.ants.client import AntsCoordination, DisabledAnts, HttpAnts
from booking.guard import limiter_for
from booking.http import error_middleware
from booking.keys import LIMITER, SERVICE, SETTINGS
from booking.openapi import openapi_routes
from booking.personal import retention
from booking.routes import routes as public_routes
from booking.service import BookingService
from booking.settings import BookingSettings
from booking.staff import routes as staff_routes
from booking.store import Store, open_store
from guichet.clock import Clock, SystemClock
from guichet.metrics import instrument
from knowledge.loader import load_town

MAX_BODY = 64 * 1024


def create_app(settings: BookingSettings, *, clock: Clock | None = None, store: Store | None = None,
               ants: AntsCoordination | None = None) -> web.Application:
    """Build the app; the store and ANTS client are opened at start-up unless given (tests, benchmarks)."""
    app = web.Application(middlewares=[error_middleware], client_max_size=MAX_BODY)
    app[SETTINGS] = settings
    app[LIMITER] = limiter_for(settings)
    town = load_town(settings.knowledge_dir)

    async def resources(app: web.Application) -> AsyncIterator[None]:
        own_store = store is None
        db = store or open_store(settings.database_url)
        await db.migrate()
        session = aiohttp.ClientSession()
        coordination = ants or (HttpAnts(session, settings.ants_url, settings.ants_token or "",
                                         timeout_s=settings.ants_timeout_s) if settings.ants_url else DisabledAnts())
        app[SERVICE] = BookingService(town, db, clock or SystemClock(), coordination,
                                      public_url=settings.public_url)
        yield
        await session.close()
        if own_store:
            await db.close()

    app.cleanup_ctx.append(resources)
    app.cleanup_ctx.append(retention)
    app.add_routes(public_routes)
    app.add_routes(staff_routes)
    app.add_routes(editor.routes)
    app.add_routes(openapi_routes)
    instrument(app, "booking")
    return app

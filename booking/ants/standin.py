"""A local stand-in for the ANTS coordination API, for development and tests (the real one is not reachable).

``python -m booking.ants.standin --port 8099``. Every number is ``validated`` unless seeded otherwise with
``POST /_standin/applications {"ABCDE12345": "consumed"}``; declared appointments make a number ``declared``.
"""

from __future__ import annotations

import argparse
import hmac
from dataclasses import dataclass, field

from aiohttp import web

from booking.ants.client import STATUSES
from booking.http import Handler


@dataclass
class StandinState:
    token: str
    default_status: str = "validated"
    statuses: dict[str, str] = field(default_factory=dict)
    appointments: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)


STATE = web.AppKey("state", StandinState)


@web.middleware
async def _auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith("/api/"):
        presented = request.headers.get("x-rdv-opt-auth-token", "")
        if not hmac.compare_digest(presented.encode(), request.app[STATE].token.encode()):
            return web.json_response({"error": "unauthorized"}, status=401)
        request.app[STATE].calls.append(f"{request.method} {request.path}")
    return await handler(request)


async def status(request: web.Request) -> web.Response:
    state = request.app[STATE]
    answer = {}
    for application_id in request.query.getall("application_ids", []):
        declared = state.appointments.get(application_id, [])
        base = state.statuses.get(application_id, state.default_status)
        answer[application_id] = {"status": "declared" if declared and base == "validated" else base,
                                  "appointments": declared}
    return web.json_response(answer)


async def declare(request: web.Request) -> web.Response:
    state, q = request.app[STATE], request.query
    missing = [k for k in ("application_id", "meeting_point", "appointment_date", "management_url") if k not in q]
    if missing:
        return web.json_response({"error": f"missing {missing}"}, status=400)
    entry = {"meeting_point": q["meeting_point"], "appointment_date": q["appointment_date"],
             "management_url": q["management_url"]}
    state.appointments.setdefault(q["application_id"], []).append(entry)
    return web.json_response({"success": True})


async def delete(request: web.Request) -> web.Response:
    state, q = request.app[STATE], request.query
    kept = [a for a in state.appointments.get(q.get("application_id", ""), [])
            if not (a["meeting_point"] == q.get("meeting_point")
                    and a["appointment_date"] == q.get("appointment_date"))]
    state.appointments[q.get("application_id", "")] = kept
    return web.json_response({"success": True})


async def seed(request: web.Request) -> web.Response:
    body = await request.json()
    if not isinstance(body, dict) or any(v not in STATUSES for v in body.values()):
        return web.json_response({"error": f"statuses are {STATUSES}"}, status=400)
    request.app[STATE].statuses.update(body)
    return web.json_response({"seeded": len(body)})


def create_standin(token: str = "standin-token") -> web.Application:
    app = web.Application(middlewares=[_auth])
    app[STATE] = StandinState(token=token)
    app.router.add_get("/api/status", status)
    app.router.add_post("/api/appointments", declare)
    app.router.add_delete("/api/appointments", delete)
    app.router.add_post("/_standin/applications", seed)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m booking.ants.standin")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--token", default="standin-token")
    args = parser.parse_args()
    web.run_app(create_standin(args.token), host=args.host, port=args.port)


if __name__ == "__main__":
    main()

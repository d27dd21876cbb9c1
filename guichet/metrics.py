"""Prometheus metrics shared by every service (prometheus-client, default registry, one process = one target).

The whole API — use these names so dashboards and alerts work across services:

``instrument(app, service)``
    aiohttp services (booking, desk, voice's HTTP side): adds ``GET /metrics`` and a middleware counting
    ``guichet_http_requests_total{service,method,route,status}`` and timing
    ``guichet_http_request_duration_seconds{service,method,route}``. ``route`` is the route *template*
    (``/api/v1/appointments/{reference}``), never the raw path: no personal data, bounded cardinality.
    Call it before the app starts (it appends to ``app.middlewares``).
``metrics_handler``
    the bare aiohttp handler behind ``/metrics`` (to mount it elsewhere yourself).
``serve(port, host="127.0.0.1")``
    for processes that are not aiohttp apps (the rasa-sdk action server, a CLI): starts prometheus-client's own
    HTTP server once, in a daemon thread; later calls are no-ops. Call it lazily (first use), never at import.
Domain metrics, labelled by ``channel`` (``"socketio"``, ``"rest"``, ``"voice"``, …):
    ``CONVERSATIONS``  (Counter ``guichet_conversations_total{channel}``): a conversation or call started;
    ``TURNS``          (Counter ``guichet_turns_total{channel}``): one citizen utterance answered;
    ``TURN_SECONDS``   (Histogram ``guichet_turn_duration_seconds{channel}``): utterance → answer;
    ``ESCALATIONS``    (Counter ``guichet_escalations_total{channel,reason}``): handed to a human
                       (``reason`` is a short fixed code: "demande", "incompris", "plainte", …);
    ``BOOKINGS``       (Counter ``guichet_bookings_total{channel}``): appointments booked;
    ``CANCELLATIONS``  (Counter ``guichet_cancellations_total{channel}``): appointments cancelled;
    ``CONTAINED``      (Counter ``guichet_conversations_contained_total{channel}``): conversations that ended
                       resolved without a human; containment rate = rate(CONTAINED) / rate(CONVERSATIONS);
    ``ERRORS``         (Counter ``guichet_errors_total{service,kind}``): unexpected errors (``kind``: a short
                       fixed code such as "internal", "booking_unavailable", "stt").
``LATENCY_BUCKETS``: the seconds buckets used by both histograms (10 ms … 10 s).

Label values must come from small fixed sets — never a phone number, name, reference or conversation id.
Who records what today: booking (``instrument`` + BOOKINGS/CANCELLATIONS by the appointment's channel field:
api, chat, voice, operator); the action server (actions/metrics.py: BOOKINGS, CONTAINED, ESCALATIONS, ERRORS,
and ``guichet_dialogue_*`` — sessions, turns and turn latency of every channel, read from Rasa's tracker store).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest, start_http_server

__all__ = ["BOOKINGS", "CANCELLATIONS", "CONTAINED", "CONVERSATIONS", "ERRORS", "ESCALATIONS", "LATENCY_BUCKETS",
           "TURNS", "TURN_SECONDS", "instrument", "metrics_handler", "serve"]

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0)

HTTP_REQUESTS = Counter("guichet_http_requests", "HTTP requests answered", ["service", "method", "route", "status"])
HTTP_SECONDS = Histogram("guichet_http_request_duration_seconds", "HTTP request latency",
                         ["service", "method", "route"], buckets=LATENCY_BUCKETS)
CONVERSATIONS = Counter("guichet_conversations", "Conversations and calls started", ["channel"])
TURNS = Counter("guichet_turns", "Citizen turns answered", ["channel"])
TURN_SECONDS = Histogram("guichet_turn_duration_seconds", "Latency from utterance to answer", ["channel"],
                         buckets=LATENCY_BUCKETS)
ESCALATIONS = Counter("guichet_escalations", "Conversations handed to a human", ["channel", "reason"])
BOOKINGS = Counter("guichet_bookings", "Appointments booked", ["channel"])
CANCELLATIONS = Counter("guichet_cancellations", "Appointments cancelled", ["channel"])
CONTAINED = Counter("guichet_conversations_contained", "Conversations resolved without a human", ["channel"])
ERRORS = Counter("guichet_errors", "Unexpected errors", ["service", "kind"])

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def metrics_handler(request: web.Request) -> web.Response:
    """Prometheus text exposition of this process's default registry."""
    response = web.Response(body=generate_latest())
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


def instrument(app: web.Application, service: str) -> None:
    """Expose ``GET /metrics`` and count/time every request of ``app`` under ``service``."""

    @web.middleware
    async def measure(request: web.Request, handler: Handler) -> web.StreamResponse:
        info = request.match_info.route.resource
        route = info.canonical if info is not None else "unmatched"
        if route == "/metrics":
            return await handler(request)
        start = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            HTTP_REQUESTS.labels(service, request.method, route, str(status)).inc()
            HTTP_SECONDS.labels(service, request.method, route).observe(time.perf_counter() - start)
            if status >= 500:
                ERRORS.labels(service, "http_5xx").inc()

    app.middlewares.insert(0, measure)  # outermost: sees the status the error middleware produced
    app.router.add_get("/metrics", metrics_handler)


_served: set[int] = set()
_serve_lock = threading.Lock()


def serve(port: int, host: str = "127.0.0.1") -> bool:
    """Start prometheus-client's HTTP server on ``host:port`` once per process; True if started by this call."""
    with _serve_lock:
        if port in _served:
            return False
        start_http_server(port, addr=host)
        _served.add(port)
        return True

"""Metrics of the action server, recorded from the action code.

Two ways to expose them, nothing happens at import:

* ``GET /metrics`` on the action server itself (port 5055), through rasa-sdk's plugin hook
  (``attach_sanic_app_extensions``): rasa-sdk imports a top-level package ``rasa_sdk_plugins`` if there is one and
  calls its ``init_hooks(manager)``; that package only needs ``from actions.metrics import init_hooks``.
* otherwise, the first recorded event starts prometheus-client's own HTTP server on
  ``GUICHET_ACTIONS_METRICS_PORT`` (host ``GUICHET_ACTIONS_METRICS_HOST``, default 127.0.0.1), in a daemon thread
  of the worker process. Unset or empty port: nothing is served that way.

What the action code sees soundly: bookings made in conversation, hand-offs (escalations) with their reason,
misunderstandings, and conversations that ended with a booking and no human (``CONTAINED``). Conversations, turns
and turn latency of every channel come from Rasa's SQL tracker store, the source of truth the dialogue replicas
share (:class:`TrackerStats`, read at scrape time, only the events added since the previous scrape): the tracker
URL is ``GUICHET_RASA_TRACKER_URL`` (scale-out), else ``$GUICHET_DATA_DIR/rasa-tracker.db`` (``make run``). Every
action-server replica reports the same totals: aggregate them with ``max``, not ``sum``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pluggy
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.metrics_core import Metric
from rasa_sdk import Tracker

from guichet import metrics, tracker_store
from guichet.tracker_store import Row

log = logging.getLogger(__name__)

MISUNDERSTOOD = Counter("guichet_misunderstandings", "Citizen messages the assistant did not understand",
                        ["channel"])
_started = False
hookimpl = pluggy.HookimplMarker("rasa_sdk")


def init_hooks(manager: pluggy.PluginManager) -> None:
    """rasa-sdk's plugin entry point (``rasa_sdk_plugins.init_hooks``): registers the ``/metrics`` route below."""
    manager.register(sys.modules[__name__])


@hookimpl
def attach_sanic_app_extensions(app: Any) -> None:
    """``GET /metrics`` on the action server's own Sanic app (each worker process serves its own counts)."""
    from sanic import response

    async def metrics_route(request: Any) -> Any:
        body = await asyncio.get_running_loop().run_in_executor(None, generate_latest)  # reads the tracker store
        return response.raw(body, content_type=CONTENT_TYPE_LATEST)

    app.add_route(metrics_route, "/metrics", methods=["GET"], name="guichet_metrics")
    register_tracker_stats(os.environ)


def channel(tracker: Tracker) -> str:
    """A bounded label: socketio (site chat), voice, or rest (anything else)."""
    name = tracker.get_latest_input_channel()
    return str(name) if name in ("socketio", "voice") else "rest"


def _serve() -> None:
    global _started
    if _started:
        return
    _started = True
    port = os.environ.get("GUICHET_ACTIONS_METRICS_PORT", "").strip()
    if not port:
        return
    try:
        register_tracker_stats(os.environ)
        metrics.serve(int(port), os.environ.get("GUICHET_ACTIONS_METRICS_HOST", "127.0.0.1"))
        log.info("action metrics on port %s", port)
    except (OSError, ValueError) as exc:  # a metrics port problem must never break a conversation
        log.warning("action metrics not served on port %r: %s", port, exc)


def escalated(tracker: Tracker, reason: str) -> None:
    """A conversation was handed to a human (``reason``: the handoff_reason slot, a short fixed code)."""
    _serve()
    metrics.ESCALATIONS.labels(channel(tracker), reason).inc()


def booked(tracker: Tracker) -> None:
    """An appointment was booked in this conversation; contained if no hand-off happened before."""
    _serve()
    label = channel(tracker)
    metrics.BOOKINGS.labels(label).inc()
    if not any(e.get("event") == "action" and e.get("name") == "action_handoff" for e in tracker.events):
        metrics.CONTAINED.labels(label).inc()


def cancelled(tracker: Tracker) -> None:
    _serve()
    metrics.CANCELLATIONS.labels(channel(tracker)).inc()


def misunderstood(tracker: Tracker) -> None:
    _serve()
    MISUNDERSTOOD.labels(channel(tracker)).inc()


def failed(kind: str) -> None:
    """An unexpected failure inside an action (``kind``: short fixed code, e.g. "booking_unavailable")."""
    _serve()
    metrics.ERRORS.labels("actions", kind).inc()


# --- conversations, turns and turn latency from Rasa's tracker store ----------------------------------------------

_WANTED = ("SELECT id, sender_id, type_name, action_name, timestamp, CASE WHEN type_name = 'user' THEN data END "
           "FROM events WHERE id > {a} AND id <= {b} AND (type_name IN ('session_started', 'user') OR "
           "(type_name = 'action' AND action_name IN ('action_listen', 'action_handoff'))) ORDER BY id")


class TrackerStats:
    """A prometheus collector: sessions, turns by channel, turn latency and hand-offs, from the tracker store.

    Counts start when the collector is registered (events already stored are not replayed); each scrape reads
    only the rows added since the previous one. Turn latency: a user event's timestamp to the ``action_listen``
    that ends the bot's answer to it (inside the dialogue server; the HTTP round trip is not included).
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.sessions = Counter("guichet_dialogue_sessions", "Conversation sessions started", registry=r)
        self.turns = Counter("guichet_dialogue_turns", "Citizen messages received", ["channel"], registry=r)
        self.seconds = Histogram("guichet_dialogue_turn_duration_seconds", "Message received to answer done",
                                 ["channel"], buckets=metrics.LATENCY_BUCKETS, registry=r)
        self.handoffs = Counter("guichet_dialogue_handoffs", "Hand-offs to a human (action_handoff runs)",
                                registry=r)
        self._last: int | None = None
        self._pending: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            try:
                self.refresh()
            except Exception as exc:  # a scrape must not fail because the tracker store is away
                log.warning("tracker store not readable for metrics: %s", exc)
            yield from self.registry.collect()

    def refresh(self) -> None:
        newest = self._query("SELECT max(id) FROM events")
        top = int(newest[0][0] or 0) if newest else 0
        if self._last is None:
            self._last = top
            return
        if top <= self._last:
            return
        rows = self._query(_WANTED.format(a=int(self._last), b=top))
        self._last = top
        for _, sender, kind, action, timestamp, data in rows:
            if kind == "session_started":
                self.sessions.inc()
            elif kind == "user":
                label = _channel_of(data)
                self.turns.labels(label).inc()
                if len(self._pending) < 100_000:
                    self._pending[sender] = (float(timestamp or 0), label)
            elif action == "action_handoff":
                self.handoffs.inc()
            elif action == "action_listen" and sender in self._pending:
                started, label = self._pending.pop(sender)
                self.seconds.labels(label).observe(max(0.0, float(timestamp or 0) - started))

    def _query(self, sql: str) -> list[Row]:
        path = tracker_store.sqlite_path(self.url)
        if path is not None:
            return tracker_store.read_sqlite(path, sql)
        return asyncio.run(tracker_store.read_postgres(self.url, sql))


def _channel_of(data: str | None) -> str:
    name = tracker_store.input_channel(data)
    return name if name in ("socketio", "voice") else "rest"


_stats: TrackerStats | None = None


def register_tracker_stats(env: Any, registry: CollectorRegistry = REGISTRY) -> TrackerStats:
    """Once per process: add :class:`TrackerStats` for this deployment's tracker store to ``registry``."""
    global _stats
    if _stats is None:
        data = env.get("GUICHET_DATA_DIR") or "data"
        url = env.get("GUICHET_RASA_TRACKER_URL") or f"sqlite:///{Path(data).resolve() / 'rasa-tracker.db'}"
        _stats = TrackerStats(url)
        try:
            _stats.refresh()  # the starting point: events stored before are not counted
        except Exception as exc:  # the tracker store may come up later: the next scrapes will read it
            log.warning("tracker store not readable for metrics yet: %s", exc)
        registry.register(_stats)
    return _stats

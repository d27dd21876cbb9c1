"""Prometheus metrics of the voice gateway, and the ``GET /metrics`` endpoint that exposes them.

`VoiceMetrics` is a :class:`~voice.session.CallObserver`: every `CallSession` tells it when a call starts and ends
(and how), each answered caller turn with its latency, each barge-in and each escalation. Its registry is its own
(not the process-wide default), so that tests and several gateways in one process do not mix their counts.
Labels are closed sets (gateway names, outcomes): never a call id or a number.
"""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.2, 0.4, 0.6, 0.8, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
"""Seconds; the target is 0.6 s at the median and 1 s at the 95th percentile."""
OUTCOMES = ("caller", "bot", "silence", "unavailable", "transfer", "error")


class VoiceMetrics:
    """The gateway's counters, gauge and histogram, in one registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.calls_started = Counter("guichet_voice_calls_started", "Calls answered", ["gateway"], registry=r)
        self.calls_ended = Counter("guichet_voice_calls_ended", "Calls ended, by outcome", ["outcome"], registry=r)
        self.active_calls = Gauge("guichet_voice_active_calls", "Calls in progress", registry=r)
        self.turns = Counter("guichet_voice_turns", "Caller turns answered by the bot", registry=r)
        self.turn_latency = Histogram("guichet_voice_turn_latency_seconds",
                                      "End of the caller's speech (detected) to the first audio of the answer",
                                      buckets=LATENCY_BUCKETS, registry=r)
        self.barge_ins = Counter("guichet_voice_barge_ins", "Bot playback stopped by the caller", ["by"], registry=r)
        self.escalations = Counter("guichet_voice_escalations", "Hand-offs to an operator, by what the gateway did",
                                   ["result"], registry=r)

    # --- CallObserver -----------------------------------------------------------------------------------------

    def call_started(self, gateway: str) -> None:
        self.calls_started.labels(gateway).inc()
        self.active_calls.inc()

    def call_ended(self, outcome: str) -> None:
        self.calls_ended.labels(outcome if outcome in OUTCOMES else "error").inc()
        self.active_calls.dec()

    def turn_answered(self, latency_ms: float) -> None:
        self.turns.inc()
        self.turn_latency.observe(latency_ms / 1000)

    def barge_in(self, by: str) -> None:
        self.barge_ins.labels(by).inc()

    def escalation(self, transferred: bool) -> None:
        self.escalations.labels("transfer" if transferred else "callback").inc()

    # --- exposition -------------------------------------------------------------------------------------------

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)

    async def handle(self, request: web.Request) -> web.Response:
        """``GET /metrics``."""
        return web.Response(body=self.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})


def metrics_app(metrics: VoiceMetrics) -> web.Application:
    """A tiny application with ``GET /metrics`` only (``python -m voice serve --metrics HOST:PORT``)."""
    app = web.Application()
    app.router.add_get("/metrics", metrics.handle)
    return app

"""The operators' statistics page: figures from Rasa's tracker store, the desk's cases and the booking backend.

- conversations per hour (last 24 h) on the site's chat and on the phone: distinct conversations with a citizen
  message in that hour, from the tracker store's ``events`` table (read-only);
- containment (last 7 days): the share of conversations that ended without a hand-off to a human;
- turn latency (last 24 h): from a citizen's message to the end of the bot's answer (``action_listen``), p50/p95;
- escalations by reason (last 7 days), from the desk's cases;
- bookings and cancellations per day (last 14 days), from the booking backend's staff API.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from guichet.tracker_store import Row, input_channel, read_postgres, read_sqlite, sqlite_path
from web.access import operator_session
from web.http import json_response
from web.keys import CLOCK, SETTINGS, STAFF, STORE

routes = web.RouteTableDef()
_QUERY = ("SELECT sender_id, type_name, action_name, timestamp, CASE WHEN type_name = 'user' THEN data END "
          "FROM events WHERE timestamp >= {since} AND (type_name = 'user' OR (type_name = 'action' AND "
          "action_name IN ('action_listen', 'action_handoff'))) ORDER BY id")


@dataclass(frozen=True)
class Conversations:
    per_hour: list[dict[str, Any]]  # {"hour": iso, "chat": n, "phone": n}
    conversations: int  # last 7 days
    escalated: int
    latency_ms: dict[str, float | None]  # p50, p95 over the last 24 h


def _channel(data: str | None) -> str:
    return "phone" if input_channel(data) == "voice" else "chat"


def _percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def summarize(rows: Sequence[Row], now: datetime) -> Conversations:
    """Figures from tracker-store rows ``(sender, type, action, timestamp, user data)`` of the last 7 days."""
    day_ago = (now - timedelta(hours=24)).timestamp()
    first_hour = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=23)
    hours = [first_hour + timedelta(hours=n) for n in range(24)]
    seen: dict[tuple[int, str], set[str]] = {}
    senders: set[str] = set()
    escalated: set[str] = set()
    waiting: dict[str, float] = {}
    latencies: list[float] = []
    for sender, kind, action, timestamp, data in rows:
        moment = float(timestamp or 0)
        if kind == "user":
            senders.add(sender)
            slot = int((moment - first_hour.timestamp()) // 3600)
            if 0 <= slot < 24:
                seen.setdefault((slot, _channel(data)), set()).add(sender)
            waiting[sender] = moment
        elif action == "action_handoff":
            escalated.add(sender)
        elif action == "action_listen" and sender in waiting:
            started = waiting.pop(sender)
            if started >= day_ago:
                latencies.append((moment - started) * 1000)
    per_hour = [{"hour": hour.isoformat(), "chat": len(seen.get((n, "chat"), ())),
                 "phone": len(seen.get((n, "phone"), ()))} for n, hour in enumerate(hours)]
    return Conversations(per_hour, len(senders), len(escalated & senders),
                         {"p50": _percentile(latencies, 0.5), "p95": _percentile(latencies, 0.95)})


async def tracker_rows(url: str, since: datetime) -> list[Row]:
    """The tracker store's rows since ``since``; a store not there yet has none."""
    sql = _QUERY.format(since=float(since.timestamp()))
    path = sqlite_path(url)
    if path is not None:
        return await asyncio.get_running_loop().run_in_executor(None, read_sqlite, path, sql)
    return await read_postgres(url, sql)


@routes.get("/api/v1/console/stats")
async def stats(request: web.Request) -> web.Response:
    await operator_session(request)
    now = request.app[CLOCK].now()
    week_ago = now - timedelta(days=7)
    problems = []
    try:
        conversations = summarize(await tracker_rows(request.app[SETTINGS].tracker_url, week_ago), now)
    except Exception:
        conversations = summarize([], now)
        problems.append("Les conversations ne sont pas lisibles pour le moment.")
    reasons = Counter(case.reason for case in await request.app[STORE].cases_since(week_ago))
    try:
        bookings = (await request.app[STAFF].stats(days=14))["days"]
    except Exception:
        bookings = []
        problems.append("Le service de rendez-vous ne répond pas : réservations indisponibles.")
    contained = None
    if conversations.conversations:
        contained = round(1 - conversations.escalated / conversations.conversations, 3)
    return json_response({
        "generated_at": now.isoformat(),
        "conversations_per_hour": conversations.per_hour,
        "week": {"conversations": conversations.conversations, "escalated": conversations.escalated,
                 "containment": contained},
        "latency_ms": conversations.latency_ms,
        "escalations_by_reason": [{"reason": r, "count": n} for r, n in reasons.most_common()],
        "bookings_per_day": bookings,
        "problems": problems,
    })

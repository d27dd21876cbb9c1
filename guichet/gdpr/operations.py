"""The three operations on every store: export (one JSON document), erase, and the retention purge (also run daily
by the desk process, web/app.py)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from clients.tickets import SqliteTicketStore
from guichet.clock import PARIS, Clock
from guichet.gdpr.citizen import Citizen
from guichet.gdpr.stores import LABELS, Stores, find, guarded, staff_call
from guichet.tracker_purge import Event, TrackerEvents
from web.store import DeskStore

log = logging.getLogger(__name__)


@dataclass
class Report:
    lines: dict[str, str] = field(default_factory=dict)  # store key → what was done, in French
    failures: dict[str, str] = field(default_factory=dict)


def _when(moment: datetime) -> str:
    return moment.astimezone(PARIS).isoformat()


def _event_json(event: Event) -> dict[str, Any]:
    item: dict[str, Any] = {"at": datetime.fromtimestamp(event.timestamp, PARIS).isoformat(),
                            "type": event.type_name}
    data = event.data
    if event.type_name in ("user", "bot"):
        item["text"] = data.get("text")
    if event.type_name == "user":
        item.update(intent=event.intent_name, channel=data.get("input_channel"), metadata=data.get("metadata"))
    elif event.type_name == "slot":
        item.update(slot=data.get("name"), value=data.get("value"))
    elif event.action_name:
        item["action"] = event.action_name
    return item


async def export(stores: Stores, citizen: Citizen, desk: DeskStore | None, tracker: TrackerEvents,
                 outbox: SqliteTicketStore | None, clock: Clock) -> tuple[dict[str, Any], dict[str, str]]:
    """The JSON document of everything found, and the stores that failed."""
    found = await find(citizen, desk, tracker, outbox)
    failures = found.failures
    document: dict[str, Any] = {"phone": citizen.phone, "exported_at": _when(clock.now())}
    booking = await guarded("booking", failures, staff_call(stores, "GET", "/api/v1/staff/personal-data",
                                                            params={"phone": citizen.phone}))
    document["booking"] = {"appointments": (booking or {}).get("appointments", [])}
    cases: list[dict[str, Any]] = []
    if desk is not None and found.case_ids:
        async def read_cases() -> None:
            for case in await desk.cases_by_id(found.case_ids):
                cases.append({"id": case.id, "conversation_id": case.conversation_id, "channel": case.channel,
                              "reason": case.reason, "status": case.status, "outcome": case.outcome,
                              "phone": case.phone, "collected": case.collected, "note": case.note,
                              "created_at": _when(case.created_at), "updated_at": _when(case.updated_at),
                              "messages": [{"from": m.sender, "text": m.text, "at": _when(m.at)}
                                           for m in await desk.messages(case.id)]})
        await guarded("desk", failures, read_cases())
    document["desk"] = {"cases": cases}
    conversations: dict[str, list[dict[str, Any]]] = {}
    if found.conversations and "tracker" not in failures:
        events = await guarded("tracker", failures, tracker.events_of(sorted(found.conversations))) or []
        for event in events:
            conversations.setdefault(event.sender_id, []).append(_event_json(event))
    document["tracker"] = {"conversations": [{"sender_id": s, "events": e} for s, e in conversations.items()]}
    document["outbox"] = {"tickets": [{"number": t.number, "status": t.status, "conversation_id":
                                       t.ticket.conversation_id, "channel": t.ticket.channel,
                                       "reason": t.ticket.reason, "created_at": _when(t.ticket.created_at),
                                       "phone": t.ticket.phone, "collected": t.ticket.collected,
                                       "transcript": t.ticket.transcript} for t in found.tickets]}
    document["counts"] = {"appointments": len(document["booking"]["appointments"]), "cases": len(cases),
                          "messages": sum(len(c["messages"]) for c in cases),
                          "conversations": len(conversations),
                          "events": sum(len(e) for e in conversations.values()), "tickets": len(found.tickets)}
    document["errors"] = {LABELS[k]: v for k, v in failures.items()}
    return document, failures


async def erase(stores: Stores, citizen: Citizen, desk: DeskStore | None, tracker: TrackerEvents,
                outbox: SqliteTicketStore | None, clock: Clock) -> Report:
    found = await find(citizen, desk, tracker, outbox)
    report = Report(failures=found.failures)
    done = await guarded("booking", report.failures, staff_call(stores, "POST", "/api/v1/staff/personal-data/erase",
                                                                json={"phone": citizen.phone}))
    if done is not None:
        report.lines["booking"] = (f"{len(done.get('erased', []))} rendez-vous effacé(s), dont "
                                   f"{len(done.get('cancelled', []))} à venir annulé(s)")
    if desk is not None and "desk" not in report.failures:
        gone = await guarded("desk", report.failures, desk.erase_cases(found.case_ids, clock.now())) \
            if found.case_ids else 0
        if gone is not None:
            report.lines["desk"] = f"{len(found.case_ids)} dossier(s) anonymisé(s), {gone} message(s) supprimé(s)"
    if "tracker" not in report.failures:
        deleted = await guarded("tracker", report.failures, tracker.delete(sorted(found.conversations)))
        if deleted is not None:
            report.lines["tracker"] = f"{deleted[0]} conversation(s) supprimée(s) ({deleted[1]} événement(s))"
    if outbox is not None and "outbox" not in report.failures:
        tickets = await guarded("outbox", report.failures, outbox.delete([t.number for t in found.tickets]))
        if tickets is not None:
            report.lines["outbox"] = f"{tickets} demande(s) de rappel supprimée(s)"
    return report


async def purge(desk: DeskStore | None, tracker: TrackerEvents, outbox: SqliteTicketStore | None, now: datetime,
                days: int) -> Report:
    """Resolved cases, idle conversations and forwarded tickets older than ``days`` are deleted."""
    before = now - timedelta(days=days)
    report = Report()
    if desk is not None:
        purged = await guarded("desk", report.failures, desk.purge_resolved(before))
        if purged is not None:
            report.lines["desk"] = f"{purged[0]} dossier(s) résolu(s) supprimé(s), {purged[1]} message(s)"
    idle = await guarded("tracker", report.failures, tracker.purge_idle(before.timestamp()))
    if idle is not None:
        report.lines["tracker"] = f"{idle[0]} conversation(s) supprimée(s) ({idle[1]} événement(s))"
    if outbox is not None:
        tickets = await guarded("outbox", report.failures, outbox.purge_forwarded(before))
        if tickets is not None:
            report.lines["outbox"] = f"{tickets} demande(s) de rappel transmise(s) supprimée(s)"
    if any(report.lines.values()):
        log.info("retention (%d days): %s", days, "; ".join(report.lines.values()))
    return report


async def desk_retention(store: DeskStore, tracker_url: str, clock: Clock, days: int) -> None:
    """The desk process's daily purge (web/app.py): its cases and Rasa's conversations; never raises."""
    while True:
        report = await purge(store, TrackerEvents(tracker_url), None, clock.now(), days)
        await asyncio.sleep(3600 if report.failures else 24 * 3600)  # a failed purge is retried in an hour

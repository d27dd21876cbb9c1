"""A citizen's rights over everything the guichet keeps about them, by phone number, and the retention purge.

``python -m guichet.gdpr export --phone NUMBER [--out FILE]`` prints one JSON document with what every store holds
about that number; ``erase --phone NUMBER --yes`` erases it everywhere; ``purge`` applies the retention period
(``GUICHET_RETENTION_DAYS``, 180 days) to the desk, the conversations and the outbox. Settings are read as the desk
reads them (environment, then ``.env``): the booking backend's URL and staff token, the desk database, Rasa's
tracker store, the data folder holding the outbox.

The stores, and what erasure does in each:

- **booking backend**, over HTTP (its staff endpoint): future appointments cancelled, then name, phone, e-mail and
  pré-demande numbers removed from all of them (booking/personal.py);
- **desk** (cases and their messages): the messages are deleted — the transcript is the personal data, and an
  anonymized sentence is still what the citizen said — while the case row is kept, its phone, collected data and
  note cleared (an open case is closed « sans suite »), so the statistics keep their counts;
- **Rasa's tracker store**: the citizen's conversations are deleted, all their events;
- **outbox** of hand-off tickets (``data/tickets.sqlite3``): their tickets are deleted.

A citizen's conversations are those with a ``phone`` slot set to the number, a message from that caller
(``metadata.caller``, phone calls) or a message saying it (digits compared after normalization: « 06 12 34 56 78 »,
« +33 6 12 34 56 78 », « zéro six douze… » are one number), plus the conversations of their desk cases and outbox
tickets; their cases and tickets are those naming the number or belonging to one of these conversations.

Every store is processed even when another fails; a store that cannot be reached is named, in French, and the
command exits with 1. The phone number never reaches a log or this command's own messages unmasked.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import sys
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO, TypeVar

import aiohttp

from actions.extract import digits
from actions.tickets import SqliteTicketStore, StoredTicket
from booking.domain import InvalidRequest
from booking.validation import phone as e164
from guichet.clock import PARIS, Clock, SystemClock
from guichet.config import VARIABLES, read_env_file
from guichet.privacy import mask_phone, mask_text
from guichet.tracker_purge import Event, TrackerEvents
from guichet.tracker_store import sqlite_path
from web.store import DeskStore, open_store

log = logging.getLogger(__name__)
T = TypeVar("T")
PHONE_SLOT = "phone"  # bot/domain/core.yml
LABELS = {"booking": "service de rendez-vous", "desk": "guichet des agents (dossiers)",
          "tracker": "conversations de l'assistant (Rasa)", "outbox": "boîte d'envoi des demandes de rappel"}


class ConfigError(ValueError):
    """A setting the command cannot work with (French message)."""


def retention_days(env: Mapping[str, str]) -> int:
    """``GUICHET_RETENTION_DAYS`` (1 to 3650 days, as the booking backend accepts it)."""
    value = env.get("GUICHET_RETENTION_DAYS") or VARIABLES["GUICHET_RETENTION_DAYS"].default
    if not value.isdigit() or not 1 <= int(value) <= 3650:
        raise ConfigError(f"GUICHET_RETENTION_DAYS doit être un nombre de jours entre 1 et 3650, pas {value!r}.")
    return int(value)


@dataclass(frozen=True)
class Stores:
    booking_url: str
    staff_token: str
    desk_database: str
    tracker_url: str
    outbox: Path
    retention_days: int
    timeout_s: float = 10.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Stores:
        from web.settings import SettingsError, load_settings

        # Tokens are not created here: only the staff token is needed, and only if it exists somewhere.
        unused = dict.fromkeys(("GUICHET_DESK_TOKEN", "GUICHET_RASA_TOKEN", "GUICHET_STAFF_TOKEN"), "-")
        try:
            desk = load_settings([], {**env, **unused})
        except SettingsError as exc:
            raise ConfigError(str(exc)) from None
        token_file = desk.data_dir / "staff.token"
        staff = env.get("GUICHET_STAFF_TOKEN") or (token_file.read_text(encoding="utf-8").strip()
                                                   if token_file.exists() else "")
        return cls(desk.booking_url, staff, desk.database_url, desk.tracker_url, desk.data_dir / "tickets.sqlite3",
                   retention_days(env), desk.http_timeout_s)


class Citizen:
    """One phone number, and how to recognize it however it was written or said."""

    def __init__(self, phone: str) -> None:
        self.phone = e164(phone)  # InvalidRequest, with a French message, when it is not a phone number
        import phonenumbers

        parsed = phonenumbers.parse(self.phone)
        national = str(parsed.national_number)
        self._forms = (f"0{national}", f"{parsed.country_code}{national}")

    @property
    def masked(self) -> str:
        return mask_phone(self.phone)

    def is_number(self, value: Any) -> bool:
        try:
            return isinstance(value, str) and e164(value) == self.phone
        except InvalidRequest:
            return False

    def said_in(self, text: Any) -> bool:
        """The number is in this text: typed with any separators, or said in words (voice)."""
        if not isinstance(text, str) or not text:
            return False
        for run in re.findall(r"\+?\d[\d\s.\-/]*", digits(text.lower())):
            plain = re.sub(r"\D", "", run)
            if any(form in plain for form in self._forms):
                return True
        return False

    def in_values(self, data: Any) -> bool:
        """Some value of this JSON (collected data, transcript) is or mentions the number."""
        if isinstance(data, dict):
            return any(self.in_values(v) for v in data.values())
        if isinstance(data, list):
            return any(self.in_values(v) for v in data)
        return self.is_number(data) or self.said_in(data)

    def in_event(self, event: Event) -> bool:
        data = event.data
        if event.type_name == "slot":
            return data.get("name") == PHONE_SLOT and (self.is_number(data.get("value"))
                                                      or self.said_in(data.get("value")))
        metadata = data.get("metadata")
        caller = metadata.get("caller") if isinstance(metadata, dict) else None
        return self.is_number(caller) or self.said_in(data.get("text"))


@dataclass
class Found:
    """What belongs to one citizen, and the stores that could not be searched (French reasons)."""

    conversations: set[str] = field(default_factory=set)
    case_ids: list[int] = field(default_factory=list)
    tickets: list[StoredTicket] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    text = re.sub(r"://([^:/@\s]+):[^@\s]+@", r"://\1:***@", text)  # no database password on the screen
    return mask_text(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)[:300]


async def _guarded(key: str, failures: dict[str, str], work: Awaitable[T]) -> T | None:
    try:
        return await work
    except Exception as exc:  # any failure of one store is reported, the others go on
        failures[key] = _reason(exc)
        log.warning("gdpr: %s failed: %s", key, failures[key])
        return None


def _absent(url_or_path: str | Path) -> Path | None:
    """The SQLite file when it does not exist (nothing stored there yet), else None."""
    path = url_or_path if isinstance(url_or_path, Path) else sqlite_path(url_or_path)
    return path if path is not None and not path.exists() else None


async def find(citizen: Citizen, desk: DeskStore | None, tracker: TrackerEvents, outbox: SqliteTicketStore | None,
               ) -> Found:
    found = Found()
    senders = await _guarded("tracker", found.failures, tracker.senders(citizen.in_event, ("slot", "user")))
    found.conversations |= senders or set()
    contacts: list[tuple[int, str, str | None, dict[str, Any]]] = []
    direct: set[int] = set()
    if desk is not None:
        async def search_desk() -> set[int]:
            contacts.extend(await desk.case_contacts())
            said = {case_id for case_id, text in await desk.citizen_texts() if citizen.said_in(text)}
            return said | {i for i, _, phone, collected in contacts
                           if citizen.is_number(phone) or citizen.in_values(collected)}
        direct = await _guarded("desk", found.failures, search_desk()) or set()
        found.conversations |= {conv for i, conv, _, _ in contacts if i in direct}
    tickets = (await _guarded("outbox", found.failures, outbox.tickets()) or []) if outbox is not None else []
    mine = [t for t in tickets if citizen.is_number(t.ticket.phone) or citizen.in_values(t.ticket.collected)
            or citizen.in_values(t.ticket.transcript)]
    found.conversations |= {t.ticket.conversation_id for t in mine}
    if desk is not None and "desk" not in found.failures:
        found.case_ids = [i for i, conv, _, _ in contacts if i in direct or conv in found.conversations]
    found.tickets = [t for t in tickets if t in mine or t.ticket.conversation_id in found.conversations]
    return found


# --- the booking backend, over its staff endpoints --------------------------------------------------------------


async def _booking(stores: Stores, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    timeout = aiohttp.ClientTimeout(total=stores.timeout_s)
    headers = {"Authorization": f"Bearer {stores.staff_token}"}
    async with aiohttp.ClientSession(timeout=timeout) as session, \
            session.request(method, f"{stores.booking_url}{path}", headers=headers, **kwargs) as response:
        body = await response.json(content_type=None)
        if response.status != 200 or not isinstance(body, dict):
            message = body.get("error", {}).get("message") if isinstance(body, dict) else None
            raise RuntimeError(f"HTTP {response.status} {message or ''}".strip())
        return body


# --- the three commands -------------------------------------------------------------------------------------------


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
    booking = await _guarded("booking", failures, _booking(stores, "GET", "/api/v1/staff/personal-data",
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
        await _guarded("desk", failures, read_cases())
    document["desk"] = {"cases": cases}
    conversations: dict[str, list[dict[str, Any]]] = {}
    if found.conversations and "tracker" not in failures:
        events = await _guarded("tracker", failures, tracker.events_of(sorted(found.conversations))) or []
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
    done = await _guarded("booking", report.failures, _booking(stores, "POST", "/api/v1/staff/personal-data/erase",
                                                                json={"phone": citizen.phone}))
    if done is not None:
        report.lines["booking"] = (f"{len(done.get('erased', []))} rendez-vous effacé(s), dont "
                                   f"{len(done.get('cancelled', []))} à venir annulé(s)")
    if desk is not None and "desk" not in report.failures:
        gone = await _guarded("desk", report.failures, desk.erase_cases(found.case_ids, clock.now())) \
            if found.case_ids else 0
        if gone is not None:
            report.lines["desk"] = f"{len(found.case_ids)} dossier(s) anonymisé(s), {gone} message(s) supprimé(s)"
    if "tracker" not in report.failures:
        deleted = await _guarded("tracker", report.failures, tracker.delete(sorted(found.conversations)))
        if deleted is not None:
            report.lines["tracker"] = f"{deleted[0]} conversation(s) supprimée(s) ({deleted[1]} événement(s))"
    if outbox is not None and "outbox" not in report.failures:
        tickets = await _guarded("outbox", report.failures, outbox.delete([t.number for t in found.tickets]))
        if tickets is not None:
            report.lines["outbox"] = f"{tickets} demande(s) de rappel supprimée(s)"
    return report


async def purge(desk: DeskStore | None, tracker: TrackerEvents, outbox: SqliteTicketStore | None, now: datetime,
                days: int) -> Report:
    """Resolved cases, idle conversations and forwarded tickets older than ``days`` are deleted."""
    before = now - timedelta(days=days)
    report = Report()
    if desk is not None:
        purged = await _guarded("desk", report.failures, desk.purge_resolved(before))
        if purged is not None:
            report.lines["desk"] = f"{purged[0]} dossier(s) résolu(s) supprimé(s), {purged[1]} message(s)"
    idle = await _guarded("tracker", report.failures, tracker.purge_idle(before.timestamp()))
    if idle is not None:
        report.lines["tracker"] = f"{idle[0]} conversation(s) supprimée(s) ({idle[1]} événement(s))"
    if outbox is not None:
        tickets = await _guarded("outbox", report.failures, outbox.purge_forwarded(before))
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


# --- command line -------------------------------------------------------------------------------------------------

_COUNTS = {"appointments": "rendez-vous", "cases": "dossier(s)", "messages": "message(s)",
           "conversations": "conversation(s)", "events": "événement(s)", "tickets": "demande(s) de rappel"}


def _print_report(title: str, report: Report, notes: dict[str, str], *, out: TextIO = sys.stdout) -> int:
    print(title, file=out)
    for key, label in LABELS.items():
        if key in report.failures:
            print(f"  - {label} : NON TRAITÉ — {report.failures[key]}", file=out)
        elif key in report.lines or key in notes:
            print(f"  - {label} : {notes.get(key) or report.lines[key]}", file=out)
    for key in report.failures:
        print(f"Attention : {LABELS[key]} est injoignable ou en erreur ; rien n'y a été fait. Les autres stockages "
              "ont été traités ; relancez la commande quand il répondra de nouveau.", file=sys.stderr)
    return 1 if report.failures else 0


async def _run(args: argparse.Namespace, stores: Stores, clock: Clock) -> int:
    notes: dict[str, str] = {}
    desk: DeskStore | None = None
    outbox: SqliteTicketStore | None = None
    if (missing := _absent(stores.desk_database)) is not None:
        notes["desk"] = f"aucune donnée ({missing} n'existe pas)"
    else:
        desk = open_store(stores.desk_database)
    if (missing := _absent(stores.tracker_url)) is not None:
        notes["tracker"] = f"aucune donnée ({missing} n'existe pas)"
    if stores.outbox.exists():
        outbox = SqliteTicketStore(stores.outbox, retention_days=stores.retention_days, clock=clock)
    else:
        notes["outbox"] = f"aucune donnée ({stores.outbox} n'existe pas)"
    tracker = TrackerEvents(stores.tracker_url)
    try:
        if args.command == "purge":
            report = await purge(desk, tracker, outbox, clock.now(), stores.retention_days)
            notes["booking"] = "purgé chaque jour par le service de rendez-vous lui-même"
            return _print_report(f"Durée de conservation : {stores.retention_days} jours.", report, notes)
        citizen = Citizen(args.phone)
        if args.command == "erase":
            report = await erase(stores, citizen, desk, tracker, outbox, clock)
            return _print_report(f"Effacement des données du {citizen.masked} :", report, notes)
        document, failures = await export(stores, citizen, desk, tracker, outbox, clock)
        text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
        if args.out is not None:
            args.out.write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
        counts = ", ".join(f"{n} {_COUNTS[k]}" for k, n in document["counts"].items())
        where = f" dans {args.out}" if args.out is not None else ""
        return _print_report(f"Export des données du {citizen.masked}{where} : {counts}.",
                             Report(failures=failures), {}, out=sys.stderr)
    finally:
        if desk is not None:
            await desk.close()


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None,
         clock: Clock | None = None) -> int:
    from guichet.logs import configure_logging

    parser = argparse.ArgumentParser(prog="python -m guichet.gdpr",
                                     description="Données personnelles : accès, effacement, durée de conservation")
    parser.add_argument("--env-file", type=Path, default=Path(".env"), help="fichier .env (comme make run)")
    commands = parser.add_subparsers(dest="command", required=True)
    export_cmd = commands.add_parser("export", help="tout ce qui est conservé sur un numéro de téléphone (JSON)")
    export_cmd.add_argument("--phone", required=True, help="numéro de téléphone du citoyen")
    export_cmd.add_argument("--out", type=Path, help="fichier où écrire le JSON (défaut : la sortie standard)")
    erase_cmd = commands.add_parser("erase", help="effacer partout les données d'un numéro de téléphone")
    erase_cmd.add_argument("--phone", required=True, help="numéro de téléphone du citoyen")
    erase_cmd.add_argument("--yes", action="store_true", help="confirmer l'effacement (irréversible)")
    commands.add_parser("purge", help="supprimer ce qui dépasse la durée de conservation")
    args = parser.parse_args(argv)
    configure_logging("ERROR")
    if args.command == "erase" and not args.yes:
        print("Effacement refusé : il est définitif (rendez-vous à venir annulés, dossiers, conversations et "
              "demandes de rappel effacés). Vérifiez le numéro, puis relancez la commande avec --yes.",
              file=sys.stderr)
        return 2
    env = {**(os.environ if environ is None else environ), **read_env_file(args.env_file)}
    try:
        stores = Stores.from_env(env)
        if args.command != "purge":
            Citizen(args.phone)
    except (ConfigError, InvalidRequest) as exc:
        print(f"{exc.message if isinstance(exc, InvalidRequest) else exc}", file=sys.stderr)
        return 2
    return asyncio.run(_run(args, stores, clock or SystemClock()))


if __name__ == "__main__":
    sys.exit(main())

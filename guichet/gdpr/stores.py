"""Where a citizen's data is (settings read as the services read them) and finding it in each store; a store that
fails is named with a French reason and the others go on."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

from clients.tickets import SqliteTicketStore, StoredTicket
from guichet.gdpr.citizen import Citizen
from guichet.privacy import mask_text
from guichet.tracker_purge import TrackerEvents
from guichet.tracker_store import sqlite_path
from web.store import DeskStore

log = logging.getLogger(__name__)
T = TypeVar("T")
LABELS = {"booking": "service de rendez-vous", "desk": "guichet des agents (dossiers)",
          "tracker": "conversations de l'assistant (Rasa)", "outbox": "boîte d'envoi des demandes de rappel"}


class ConfigError(ValueError):
    """A setting the command cannot work with (French message)."""


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
                   desk.retention_days, desk.http_timeout_s)


@dataclass
class Found:
    """What belongs to one citizen, and the stores that could not be searched (French reasons)."""

    conversations: set[str] = field(default_factory=set)
    case_ids: list[int] = field(default_factory=list)
    tickets: list[StoredTicket] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)


def reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    text = re.sub(r"://([^:/@\s]+):[^@\s]+@", r"://\1:***@", text)  # no database password on the screen
    return mask_text(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)[:300]


async def guarded(key: str, failures: dict[str, str], work: Awaitable[T]) -> T | None:
    try:
        return await work
    except Exception as exc:  # any failure of one store is reported, the others go on
        failures[key] = reason(exc)
        log.warning("gdpr: %s failed: %s", key, failures[key])
        return None


def absent(url_or_path: str | Path) -> Path | None:
    """The SQLite file when it does not exist (nothing stored there yet), else None."""
    path = url_or_path if isinstance(url_or_path, Path) else sqlite_path(url_or_path)
    return path if path is not None and not path.exists() else None


async def find(citizen: Citizen, desk: DeskStore | None, tracker: TrackerEvents, outbox: SqliteTicketStore | None,
               ) -> Found:
    found = Found()
    senders = await guarded("tracker", found.failures, tracker.senders(citizen.in_event, ("slot", "user")))
    found.conversations |= senders or set()
    contacts: list[tuple[int, str, str | None, dict[str, Any]]] = []
    direct: set[int] = set()
    if desk is not None:
        async def search_desk() -> set[int]:
            contacts.extend(await desk.case_contacts())
            said = {case_id for case_id, text in await desk.citizen_texts() if citizen.said_in(text)}
            return said | {i for i, _, phone, collected in contacts
                           if citizen.is_number(phone) or citizen.in_values(collected)}
        direct = await guarded("desk", found.failures, search_desk()) or set()
        found.conversations |= {conv for i, conv, _, _ in contacts if i in direct}
    tickets = (await guarded("outbox", found.failures, outbox.tickets()) or []) if outbox is not None else []
    mine = [t for t in tickets if citizen.is_number(t.ticket.phone) or citizen.in_values(t.ticket.collected)
            or citizen.in_values(t.ticket.transcript)]
    found.conversations |= {t.ticket.conversation_id for t in mine}
    if desk is not None and "desk" not in found.failures:
        found.case_ids = [i for i, conv, _, _ in contacts if i in direct or conv in found.conversations]
    found.tickets = [t for t in tickets if t in mine or t.ticket.conversation_id in found.conversations]
    return found


# --- the booking backend, over its staff endpoints --------------------------------------------------------------


async def staff_call(stores: Stores, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    timeout = aiohttp.ClientTimeout(total=stores.timeout_s)
    headers = {"Authorization": f"Bearer {stores.staff_token}"}
    async with aiohttp.ClientSession(timeout=timeout) as session, \
            session.request(method, f"{stores.booking_url}{path}", headers=headers, **kwargs) as response:
        body = await response.json(content_type=None)
        if response.status != 200 or not isinstance(body, dict):
            message = body.get("error", {}).get("message") if isinstance(body, dict) else None
            raise RuntimeError(f"HTTP {response.status} {message or ''}".strip())
        return body

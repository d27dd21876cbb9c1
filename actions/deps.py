"""The action server's composition: settings from the environment, and the objects every action uses.

rasa-sdk instantiates actions without arguments, so they ask `deps()` for their collaborators. Nothing is opened
at import time; tests install their own `Deps` with `use()`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import get_args

from actions.booking_client import BookingClient, HttpBookingClient
from clients.desk import DeskClient, HttpDeskClient, ResilientDesk
from clients.tickets import SqliteTicketStore, TicketStore
from guichet.clock import Clock, SystemClock
from knowledge.facts import Facts
from knowledge.faq import CACHE_DIR, FAQ_DIR, FaqIndex, Retriever, load_faq
from knowledge.loader import DEFAULT_DIR, load_facts, load_town
from knowledge.town import TownFile

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class ActionSettings:
    booking_url: str = "http://127.0.0.1:8081"
    booking_timeout_s: float = 5.0
    knowledge_dir: Path = DEFAULT_DIR
    data_dir: Path = ROOT / "data"
    desk_url: str | None = None  # None: no desk, hand-offs stay in the outbox (data/tickets.sqlite3)
    desk_token: str | None = None  # None: data/desk.token (shared with the desk, created by whichever starts first)
    desk_timeout_s: float = 5.0
    retention_days: int = 180  # forwarded tickets are deleted from the outbox after this (GUICHET_RETENTION_DAYS)
    cache_dir: Path = CACHE_DIR  # the questions classifier and its embeddings, fitted once (GUICHET_CACHE_DIR)
    faq_retriever: Retriever = "auto"  # GUICHET_FAQ_RETRIEVER: auto (the classifier when installed), classifier, tfidf

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> ActionSettings:
        env = dict(os.environ if env is None else env)
        return cls(
            booking_url=env.get("GUICHET_BOOKING_URL", cls.booking_url),
            booking_timeout_s=float(env.get("GUICHET_BOOKING_TIMEOUT_S", cls.booking_timeout_s)),
            knowledge_dir=Path(env.get("GUICHET_KNOWLEDGE_DIR", str(cls.knowledge_dir))),
            data_dir=Path(env.get("GUICHET_DATA_DIR", str(cls.data_dir))),
            desk_url=env.get("GUICHET_DESK_URL") or "http://127.0.0.1:8085",
            desk_token=env.get("GUICHET_DESK_TOKEN") or None,
            desk_timeout_s=float(env.get("GUICHET_DESK_TIMEOUT_S") or cls.desk_timeout_s),
            retention_days=int(env.get("GUICHET_RETENTION_DAYS") or cls.retention_days),
            cache_dir=Path(env.get("GUICHET_CACHE_DIR") or cls.cache_dir),
            faq_retriever=_retriever(env.get("GUICHET_FAQ_RETRIEVER") or cls.faq_retriever),
        )


def _retriever(value: str) -> Retriever:
    if value not in get_args(Retriever):
        raise ValueError(f"GUICHET_FAQ_RETRIEVER: {', '.join(get_args(Retriever))}, pas {value!r}")
    return value  # type: ignore[return-value]


class Deps:
    """Collaborators of the actions, built on first use from the settings (or given, in tests)."""

    def __init__(self, settings: ActionSettings, *, clock: Clock | None = None,
                 booking: BookingClient | None = None, tickets: TicketStore | None = None,
                 town: TownFile | None = None, facts: Facts | None = None, desk: DeskClient | None = None,
                 faq: FaqIndex | None = None) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self._booking = booking
        self._tickets = tickets
        self._town = town
        self._facts = facts
        self._desk = desk
        self._faq = faq

    @cached_property
    def booking(self) -> BookingClient:
        return self._booking or HttpBookingClient(self.settings.booking_url,
                                                  timeout_s=self.settings.booking_timeout_s)

    @cached_property
    def tickets(self) -> TicketStore:
        return self._tickets or SqliteTicketStore(self.settings.data_dir / "tickets.sqlite3",
                                                   retention_days=self.settings.retention_days)

    @cached_property
    def desk(self) -> DeskClient:
        """Cases go to the desk over HTTP, or to the outbox when it does not answer (or none is configured)."""
        if self._desk is not None:
            return self._desk
        http = None
        if self.settings.desk_url:
            from guichet.tokens import stored_token

            token = self.settings.desk_token or stored_token(self.settings.data_dir / "desk.token")
            http = HttpDeskClient(self.settings.desk_url, token, timeout_s=self.settings.desk_timeout_s)
        return ResilientDesk(http, self.tickets)

    @cached_property
    def town(self) -> TownFile:
        return self._town or load_town(self.settings.knowledge_dir)

    @cached_property
    def facts(self) -> Facts:
        return self._facts or load_facts(self.settings.knowledge_dir / "facts.yaml")

    @cached_property
    def faq(self) -> FaqIndex:
        """The citizens' questions of ``knowledge/faq/`` (the classifier, loaded from its cache or fitted, once)."""
        if self._faq is not None:
            return self._faq
        folder = self.settings.knowledge_dir / "faq"
        index = load_faq(folder if folder.is_dir() else FAQ_DIR, retriever=self.settings.faq_retriever,
                         cache_dir=self.settings.cache_dir)
        for entry in index.entries:
            if entry.answer is not None:
                self.facts.answer(entry.answer)  # an unknown ready answer fails here, naming it
        return index


_current: Deps | None = None


def deps() -> Deps:
    global _current
    if _current is None:
        _current = Deps(ActionSettings.from_env())
    return _current


def use(new: Deps | None) -> None:
    """Install collaborators (tests); ``None`` goes back to the environment's."""
    global _current
    _current = new

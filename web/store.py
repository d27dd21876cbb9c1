"""The desk's database: operators, console sessions, escalation cases and their messages (SQLAlchemy Core, async).

SQLite (``sqlite:///data/desk.sqlite3``, the default) or PostgreSQL (``postgresql://…``). One open case per
conversation is enforced by a partial unique index, so two hand-offs racing for one conversation make one case.

Personal data (``python -m guichet.gdpr``): a citizen's cases are erased by deleting their messages and clearing each
case row's phone, collected data and note (the row stays, for the statistics); resolved cases older than the
retention period are deleted with their messages (``purge_resolved``, daily from the desk process).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

ROLES = ("agent", "superviseur")


class UtcDateTime(sa.TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (no time zones) as on PostgreSQL."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC).replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = sa.MetaData()
operators = sa.Table(
    "operators", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(256), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False))
sessions = sa.Table(
    "sessions", metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("operator_id", sa.Integer, sa.ForeignKey("operators.id"), nullable=False),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("last_seen", UtcDateTime(), nullable=False))
cases = sa.Table(
    "cases", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("conversation_id", sa.String(128), nullable=False),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(64), nullable=False),
    sa.Column("phone", sa.String(64)),
    sa.Column("collected", sa.Text, nullable=False),
    sa.Column("callback_only", sa.Boolean, nullable=False),
    sa.Column("live", sa.Boolean, nullable=False),  # the conversation is paused, waiting for / talking to an agent
    sa.Column("status", sa.String(16), nullable=False),  # open, claimed, resolved
    sa.Column("claimed_by", sa.Integer, sa.ForeignKey("operators.id")),
    sa.Column("outcome", sa.String(32)),
    sa.Column("note", sa.Text),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.Index("one_open_case_per_conversation", "conversation_id", unique=True,
             sqlite_where=sa.text("status != 'resolved'"), postgresql_where=sa.text("status != 'resolved'")))
messages = sa.Table(
    "messages", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.Integer, sa.ForeignKey("cases.id"), nullable=False, index=True),
    sa.Column("sender", sa.String(16), nullable=False),  # citoyen, assistant, agent
    sa.Column("operator_id", sa.Integer, sa.ForeignKey("operators.id")),
    sa.Column("live", sa.Boolean, nullable=False),  # exchanged through the desk (not the bot's transcript)
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("at", UtcDateTime(), nullable=False))


@dataclass(frozen=True)
class Operator:
    id: int
    username: str
    role: str
    password_hash: str = field(repr=False)

    @property
    def supervisor(self) -> bool:
        return self.role == "superviseur"


@dataclass(frozen=True)
class Session:
    token_hash: str
    operator: Operator
    csrf: str
    created_at: datetime
    last_seen: datetime


@dataclass(frozen=True)
class Case:
    id: int
    conversation_id: str
    channel: str
    reason: str
    phone: str | None
    collected: dict[str, Any]
    callback_only: bool
    live: bool
    status: str
    claimed_by: int | None
    claimed_by_name: str | None
    outcome: str | None
    note: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Message:
    id: int
    case_id: int
    sender: str
    text: str
    at: datetime
    live: bool
    operator_name: str | None = None


@dataclass(frozen=True)
class NewCase:
    conversation_id: str
    channel: str
    reason: str
    phone: str | None
    collected: dict[str, Any]
    transcript: list[tuple[str, str]]
    callback_only: bool
    live: bool


def _new_id(result: Any) -> int:
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


class DeskStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def migrate(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(metadata.create_all)

    async def close(self) -> None:
        await self.engine.dispose()

    # Operators and sessions
    async def add_operator(self, username: str, password_hash: str, role: str, now: datetime) -> Operator:
        async with self.engine.begin() as conn:
            result = await conn.execute(operators.insert().values(
                username=username, password_hash=password_hash, role=role, created_at=now))
            return Operator(_new_id(result), username, role, password_hash)

    async def set_password(self, username: str, password_hash: str, role: str) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(operators.update().where(operators.c.username == username)
                                        .values(password_hash=password_hash, role=role))
            return bool(result.rowcount)

    async def operator(self, *, username: str | None = None, id: int | None = None) -> Operator | None:
        where = operators.c.username == username if username is not None else operators.c.id == id
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(operators).where(where))).first()
        return Operator(row.id, row.username, row.role, row.password_hash) if row else None

    async def operators(self) -> list[Operator]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(sa.select(operators).order_by(operators.c.username))).all()
        return [Operator(r.id, r.username, r.role, r.password_hash) for r in rows]

    async def add_session(self, token_hash: str, operator_id: int, csrf: str, now: datetime) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(sessions.insert().values(token_hash=token_hash, operator_id=operator_id, csrf=csrf,
                                                        created_at=now, last_seen=now))

    async def session(self, token_hash: str) -> Session | None:
        query = sa.select(sessions, operators).join(operators, operators.c.id == sessions.c.operator_id) \
            .where(sessions.c.token_hash == token_hash)
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        operator = Operator(row.id, row.username, row.role, row.password_hash)
        return Session(row.token_hash, operator, row.csrf, row.created_at, row.last_seen)

    async def touch_session(self, token_hash: str, now: datetime) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(sessions.update().where(sessions.c.token_hash == token_hash).values(last_seen=now))

    async def drop_session(self, token_hash: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(sessions.delete().where(sessions.c.token_hash == token_hash))

    async def drop_idle_sessions(self, before: datetime) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(sessions.delete().where(sessions.c.last_seen < before))

    # Cases
    async def create_case(self, new: NewCase, now: datetime) -> tuple[Case, bool]:
        """The new case and True, or the conversation's open case and False (never two open cases)."""
        existing = await self.open_case(new.conversation_id)
        if existing:
            return existing, False
        try:
            async with self.engine.begin() as conn:
                result = await conn.execute(cases.insert().values(
                    conversation_id=new.conversation_id, channel=new.channel, reason=new.reason, phone=new.phone,
                    collected=json.dumps(new.collected, ensure_ascii=False), callback_only=new.callback_only,
                    live=new.live, status="open", created_at=now, updated_at=now))
                case_id = _new_id(result)
                if new.transcript:
                    await conn.execute(messages.insert(), [
                        {"case_id": case_id, "sender": sender, "text": text, "at": now, "live": False}
                        for sender, text in new.transcript])
        except IntegrityError:
            raced = await self.open_case(new.conversation_id)
            if raced is None:
                raise
            return raced, False
        created = await self.case(case_id)
        assert created is not None
        return created, True

    def _case_query(self) -> sa.Select[Any]:
        claimer = operators.alias("claimer")
        return sa.select(cases, claimer.c.username.label("claimer_name")) \
            .select_from(cases.outerjoin(claimer, claimer.c.id == cases.c.claimed_by))

    @staticmethod
    def _case(row: Any) -> Case:
        return Case(row.id, row.conversation_id, row.channel, row.reason, row.phone, json.loads(row.collected),
                    bool(row.callback_only), bool(row.live), row.status, row.claimed_by, row.claimer_name,
                    row.outcome, row.note, row.created_at, row.updated_at)

    async def case(self, case_id: int) -> Case | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(self._case_query().where(cases.c.id == case_id))).first()
        return self._case(row) if row else None

    async def open_case(self, conversation_id: str) -> Case | None:
        query = self._case_query().where(cases.c.conversation_id == conversation_id, cases.c.status != "resolved")
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return self._case(row) if row else None

    async def cases(self, *, resolved: bool = False, limit: int = 200) -> list[Case]:
        where = cases.c.status == "resolved" if resolved else cases.c.status != "resolved"
        order = cases.c.updated_at.desc() if resolved else cases.c.id
        async with self.engine.connect() as conn:
            rows = (await conn.execute(self._case_query().where(where).order_by(order).limit(limit))).all()
        return [self._case(r) for r in rows]

    async def cases_since(self, moment: datetime) -> list[Case]:
        """Every case created since ``moment``, open or resolved (the statistics page)."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(self._case_query().where(cases.c.created_at >= moment)
                                       .order_by(cases.c.id))).all()
        return [self._case(r) for r in rows]

    async def update_case(self, case_id: int, now: datetime, *, expect_status: tuple[str, ...] | None = None,
                          **values: Any) -> bool:
        """Change a case if it is (still) in one of ``expect_status``; False if someone changed it first."""
        query = cases.update().where(cases.c.id == case_id)
        if expect_status is not None:
            query = query.where(cases.c.status.in_(expect_status))
        async with self.engine.begin() as conn:
            result = await conn.execute(query.values(updated_at=now, **values))
        return bool(result.rowcount)

    async def add_message(self, case_id: int, sender: str, text: str, now: datetime, *,
                          operator_id: int | None = None, live: bool = True) -> Message:
        async with self.engine.begin() as conn:
            result = await conn.execute(messages.insert().values(case_id=case_id, sender=sender, text=text, at=now,
                                                                 operator_id=operator_id, live=live))
        return Message(_new_id(result), case_id, sender, text, now, live)

    async def messages(self, case_id: int) -> list[Message]:
        query = sa.select(messages, operators.c.username).select_from(
            messages.outerjoin(operators, operators.c.id == messages.c.operator_id)) \
            .where(messages.c.case_id == case_id).order_by(messages.c.id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [Message(r.id, r.case_id, r.sender, r.text, r.at, bool(r.live), r.username) for r in rows]

    # Personal data: access, erasure, retention
    async def case_contacts(self) -> list[tuple[int, str, str | None, dict[str, Any]]]:
        """``(id, conversation id, phone, collected)`` of every case, to find a citizen's."""
        query = sa.select(cases.c.id, cases.c.conversation_id, cases.c.phone, cases.c.collected).order_by(cases.c.id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [(r.id, r.conversation_id, r.phone, json.loads(r.collected)) for r in rows]

    async def citizen_texts(self) -> list[tuple[int, str]]:
        """``(case id, text)`` of every message the citizens wrote, to find a phone number said in one."""
        query = sa.select(messages.c.case_id, messages.c.text).where(messages.c.sender == "citoyen") \
            .order_by(messages.c.id)
        async with self.engine.connect() as conn:
            return [(r.case_id, r.text) for r in (await conn.execute(query)).all()]

    async def cases_by_id(self, ids: Sequence[int]) -> list[Case]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(self._case_query().where(cases.c.id.in_(list(ids))).order_by(cases.c.id))).all()
        return [self._case(r) for r in rows]

    async def erase_cases(self, ids: Sequence[int], now: datetime) -> int:
        """Delete these cases' messages and clear their personal data (phone, collected, note); a case still open
        is closed « sans suite ». How many messages were deleted."""
        chosen = list(ids)
        async with self.engine.begin() as conn:
            deleted = await conn.execute(messages.delete().where(messages.c.case_id.in_(chosen)))
            await conn.execute(cases.update().where(cases.c.id.in_(chosen), cases.c.status != "resolved")
                               .values(status="resolved", outcome="sans_suite"))
            await conn.execute(cases.update().where(cases.c.id.in_(chosen)).values(
                phone=None, collected="{}", note=None, live=False, updated_at=now))
        return int(deleted.rowcount)

    async def purge_resolved(self, before: datetime) -> tuple[int, int]:
        """Delete the cases resolved (last changed) before ``before`` and their messages: ``(cases, messages)``."""
        async with self.engine.begin() as conn:
            old = [r.id for r in (await conn.execute(sa.select(cases.c.id).where(
                cases.c.status == "resolved", cases.c.updated_at < before))).all()]
            if not old:
                return 0, 0
            gone = await conn.execute(messages.delete().where(messages.c.case_id.in_(old)))
            await conn.execute(cases.delete().where(cases.c.id.in_(old)))
        return len(old), int(gone.rowcount)


def open_store(database_url: str) -> DeskStore:
    """``sqlite:///path/desk.sqlite3`` or ``postgresql://user@host:port/db``."""
    if database_url.startswith("sqlite:///"):
        path = Path(database_url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        return DeskStore(create_async_engine(f"sqlite+aiosqlite:///{path}", connect_args={"timeout": 30},
                                             hide_parameters=True))
    if database_url.startswith(("postgresql://", "postgres://", "postgresql+asyncpg://")):
        url = database_url.split("://", 1)[1]
        return DeskStore(create_async_engine(f"postgresql+asyncpg://{url}", hide_parameters=True))
    raise ValueError(f"URL de base de données non reconnue : {database_url!r}")

"""The desk store on SQLite and PostgreSQL: one open case per conversation (even when two hand-offs race), aware
times kept as given, messages in order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from guichet.clock import FrozenClock
from web.store import DeskStore, NewCase, open_store


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[DeskStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'desk.sqlite3'}"
    else:
        url = request.getfixturevalue("pg_database")
    db = open_store(url)
    await db.migrate()
    if request.param == "postgres":
        async with db.engine.begin() as conn:
            await conn.execute(text("TRUNCATE messages, sessions, cases, operators RESTART IDENTITY CASCADE"))
    yield db
    await db.close()


def new(conversation: str) -> NewCase:
    return NewCase(conversation, "socketio", "asked", "06 98 76 54 32", {"people": 2, "nom": "Zoé 😀"},
                   [("citoyen", "<b>bonjour</b>"), ("assistant", "Bonjour !")], False, True)


async def test_two_hand_offs_racing_for_one_conversation_make_one_case(store: DeskStore, clock: FrozenClock) -> None:
    results = await asyncio.gather(*(store.create_case(new("conv-race"), clock.now()) for _ in range(5)))
    assert len({case.id for case, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    case = results[0][0]
    assert case.collected == {"people": 2, "nom": "Zoé 😀"} and case.live and case.status == "open"
    assert case.created_at == clock.now() and case.created_at.utcoffset() == timedelta(0)
    assert [(m.sender, m.text) for m in await store.messages(case.id)] == [("citoyen", "<b>bonjour</b>"),
                                                                            ("assistant", "Bonjour !")]
    operator = await store.add_operator("alice", "hash", "agent", clock.now())
    assert await store.update_case(case.id, clock.now(), expect_status=("open",), status="claimed",
                                   claimed_by=operator.id)
    assert not await store.update_case(case.id, clock.now(), expect_status=("open",), status="claimed")
    claimed = await store.case(case.id)
    assert claimed is not None and claimed.claimed_by_name == "alice"
    await store.update_case(case.id, clock.now(), status="resolved", outcome="renseigne")
    again, created = await store.create_case(new("conv-race"), clock.now())
    assert created and again.id != case.id
    assert [c.id for c in await store.cases(resolved=True)] == [case.id]

"""The lock store several dialogue servers share: no ticket is lost when they take tickets at the same instant.

Needs the Redis server at 127.0.0.1:6379 (database 15, cleaned here).
"""

from __future__ import annotations

import socket
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from rasa.core.lock_store import RedisLockStore
from rasa.utils.endpoints import EndpointConfig

from bot.lock_store import AtomicRedisLockStore

THREADS, ROUNDS = 8, 25


def _redis_reachable() -> None:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=2).close()
    except OSError as exc:
        pytest.fail(f"Redis is not reachable at 127.0.0.1:6379 ({exc}): start it (see the README)")


def _store() -> AtomicRedisLockStore:
    _redis_reachable()
    return AtomicRedisLockStore(EndpointConfig(url="127.0.0.1", port=6379, db=15, key_prefix="locktest"))


def _hammer(store: RedisLockStore, conversation: str) -> list[int]:
    """THREADS servers each take ROUNDS tickets on one conversation at once; the tickets left in the lock."""
    def take(_: int) -> None:
        for _ in range(ROUNDS):
            store.issue_ticket(conversation)

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(take, range(THREADS)))
    lock = store.get_lock(conversation)
    assert lock is not None
    return [ticket.number for ticket in lock.tickets]


def test_tickets_taken_at_the_same_instant_are_all_kept() -> None:
    store = _store()
    conversation = f"c{uuid.uuid4().hex}"
    numbers = _hammer(store, conversation)
    assert sorted(numbers) == list(range(THREADS * ROUNDS)), "every ticket kept, each number once"
    store.delete_lock(conversation)


def test_rasas_own_redis_lock_store_loses_tickets_that_way() -> None:
    """Why bot/lock_store.py exists: the same hammering on Rasa's store loses tickets."""
    _redis_reachable()
    store = RedisLockStore(host="127.0.0.1", port=6379, db=15, key_prefix="locktest")
    conversation = f"c{uuid.uuid4().hex}"
    numbers = _hammer(store, conversation)
    assert len(numbers) < THREADS * ROUNDS or len(set(numbers)) < len(numbers)
    store.delete_lock(conversation)


def test_giving_a_ticket_back_keeps_the_lock_while_someone_waits() -> None:
    store = _store()
    conversation = f"c{uuid.uuid4().hex}"
    first, second = store.issue_ticket(conversation), store.issue_ticket(conversation)
    store.cleanup(conversation, first)
    lock = store.get_lock(conversation)
    assert lock is not None and not lock.is_locked(second), "the second ticket is now served"
    store.cleanup(conversation, second)
    assert store.get_lock(conversation) is None, "nobody left: the lock is gone"

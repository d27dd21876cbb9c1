"""A Redis lock store that several dialogue servers can really share.

Rasa 3.6's ``RedisLockStore`` reads a conversation's ticket lock, changes it in Python and writes it back. Two
servers doing that at once overwrite each other: a ticket disappears, or a lock is deleted while another server is
waiting on it (that server then drops the message with a ``LockError``). Our scale-out test lost a message that way
when two messages of one conversation reached both servers at the same instant. Rasa's concurrent lock store is
not in the open-source edition, so here every read-modify-write of a lock is one Redis transaction (WATCH/MULTI,
retried when the lock changed underneath). The stored format is Rasa's own.

``deploy/endpoints.scale.yml``: ``lock_store: {type: bot.lock_store.AtomicRedisLockStore, url: …, port: …}``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

log = logging.getLogger(__name__)
T = TypeVar("T")
Change = Callable[[TicketLock | None], tuple[TicketLock | None, T]]


class AtomicRedisLockStore(RedisLockStore):
    def __init__(self, endpoint_config: EndpointConfig) -> None:
        super().__init__(host=endpoint_config.url, **endpoint_config.kwargs)

    def _atomically(self, conversation_id: str, change: Change[T]) -> T:
        """Apply ``change`` to the stored lock in one transaction; ``None`` back means delete it."""
        key = self.key_prefix + conversation_id

        def transaction(pipe: Any) -> T:
            raw = pipe.get(key)
            current = TicketLock.from_dict(json.loads(raw)) if raw else None
            changed, result = change(current)
            pipe.multi()
            if changed is None:
                pipe.delete(key)
            else:
                pipe.set(key, changed.dumps())
            return result

        result: T = self.red.transaction(transaction, key, value_from_callable=True)
        return result

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        def change(lock: TicketLock | None) -> tuple[TicketLock | None, int]:
            lock = lock or TicketLock(conversation_id)
            return lock, lock.issue_ticket(lock_lifetime)

        try:
            return self._atomically(conversation_id, change)
        except Exception as exc:
            raise LockError(f"Error while acquiring lock. Error:\n{exc}") from exc

    def update_lock(self, conversation_id: str) -> None:
        def change(lock: TicketLock | None) -> tuple[TicketLock | None, None]:
            if lock is not None:
                lock.remove_expired_tickets()
            return lock, None

        self._atomically(conversation_id, change)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Give the ticket back; the lock goes only if nobody else holds a ticket on it (in the same step)."""

        def change(lock: TicketLock | None) -> tuple[TicketLock | None, None]:
            if lock is not None:
                lock.remove_ticket_for(ticket_number)
                if not lock.is_someone_waiting():
                    return None, None
            return lock, None

        self._atomically(conversation_id, change)

"""Rate limits: failed attempts (wrong guesses) or every request are counted per key, and a key over its limit is
refused for a while.

Built on the ``limits`` library (moving windows). Storage comes from a URI: ``memory://`` (default, one process) or
a shared store such as ``redis://127.0.0.1:6379`` (needs ``coredis``) when several replicas must share counts.
Where only failures are counted, a citizen who types the right reference and phone number is never slowed down.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string


@dataclass(frozen=True)
class Rule:
    """``limit`` in the library's notation (``"5 per 15 minutes"``) applied to keys of one ``scope``."""

    scope: str
    limit: str


class _Limiter:
    def __init__(self, rules: Sequence[Rule], *, storage_uri: str = "memory://") -> None:
        self._items: dict[str, RateLimitItem] = {rule.scope: parse(rule.limit) for rule in rules}
        # The library's asynchronous storages are named ``async+<scheme>``.
        storage = storage_from_string(storage_uri if storage_uri.startswith("async+") else f"async+{storage_uri}")
        if not isinstance(storage, Storage):
            raise ValueError(f"{storage_uri!r} n'est pas un stockage asynchrone de limites")
        self._storage = storage  # the 2.x limiter holds its storage by a weak reference only
        self._limiter = MovingWindowRateLimiter(storage)

    async def _wait(self, scope: str, key: str) -> float:
        """Seconds until ``key`` is under its limit again (at least one)."""
        # A (reset time, remaining) pair: a named tuple in recent releases, a plain one in 2.x (the dialogue
        # server's environment, whose pins allow no newer release).
        reset_time = (await self._limiter.get_window_stats(self._items[scope], scope, key))[0]
        return max(reset_time - time.time(), 1.0)


class FailureLimiter(_Limiter):
    """Only failures are counted (``failed``); ``retry_after`` only looks."""

    async def retry_after(self, keys: dict[str, str]) -> float | None:
        """Seconds to wait if any of ``{scope: key}`` is over its limit, else ``None``."""
        wait = 0.0
        for scope, key in keys.items():
            if not await self._limiter.test(self._items[scope], scope, key):
                wait = max(wait, await self._wait(scope, key))
        return wait or None

    async def failed(self, keys: dict[str, str]) -> None:
        """Count one failure against each key."""
        for scope, key in keys.items():
            await self._limiter.hit(self._items[scope], scope, key)


class HitLimiter(_Limiter):
    """Every request is counted: ``hit`` counts one against each key and says how long to wait if one is over."""

    async def hit(self, keys: dict[str, str]) -> float | None:
        wait = 0.0
        for scope, key in keys.items():
            if not await self._limiter.hit(self._items[scope], scope, key):
                wait = max(wait, await self._wait(scope, key))
        return wait or None


def validate_limit(text: str, name: str) -> str:
    """The limit string if the library can read it; a French error naming the setting otherwise."""
    try:
        parse(text)
    except ValueError:
        raise ValueError(f"{name} : « {text} » n'est pas une limite lisible (exemple : « 5 per 15 minutes »)") \
            from None
    return text

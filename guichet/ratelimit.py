"""Failed-attempt limits: wrong guesses are counted per key, and a key over its limit is refused for a while.

Built on the ``limits`` library (moving windows). Storage comes from a URI: ``memory://`` (default, one process) or
a shared store such as ``redis://127.0.0.1:6379`` (needs ``coredis``) when several replicas must share counts.
Only failures are counted, so a citizen who types the right reference and phone number is never slowed down.
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


class FailureLimiter:
    def __init__(self, rules: Sequence[Rule], *, storage_uri: str = "memory://") -> None:
        self._items: dict[str, RateLimitItem] = {rule.scope: parse(rule.limit) for rule in rules}
        # The library's asynchronous storages are named ``async+<scheme>``.
        storage = storage_from_string(storage_uri if storage_uri.startswith("async+") else f"async+{storage_uri}")
        if not isinstance(storage, Storage):
            raise ValueError(f"{storage_uri!r} n'est pas un stockage asynchrone de limites")
        self._limiter = MovingWindowRateLimiter(storage)

    async def retry_after(self, keys: dict[str, str]) -> float | None:
        """Seconds to wait if any of ``{scope: key}`` is over its limit, else ``None``."""
        wait = 0.0
        for scope, key in keys.items():
            item = self._items[scope]
            if not await self._limiter.test(item, scope, key):
                stats = await self._limiter.get_window_stats(item, scope, key)
                wait = max(wait, stats.reset_time - time.time(), 1.0)
        return wait or None

    async def failed(self, keys: dict[str, str]) -> None:
        """Count one failure against each key."""
        for scope, key in keys.items():
            await self._limiter.hit(self._items[scope], scope, key)


def validate_limit(text: str, name: str) -> str:
    """The limit string if the library can read it; a French error naming the setting otherwise."""
    try:
        parse(text)
    except ValueError:
        raise ValueError(f"{name} : « {text} » n'est pas une limite lisible (exemple : « 5 per 15 minutes »)") \
            from None
    return text

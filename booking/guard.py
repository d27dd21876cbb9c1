"""Wrong guesses on appointment lookup, cancel and reschedule are limited per reference and per client.

A reference has about 39 bits of randomness and must come with its phone number, so guessing is already hopeless;
the limits make it visibly so, and stop someone who holds a reference from trying phone numbers. The client is the
remote address, or, for a trusted caller such as the action server, the conversation it names in ``X-Guichet-Client``
(every citizen reaches the backend through the action server's one address).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from aiohttp import web

from booking.domain import AppointmentNotFound, BookingError
from booking.settings import BookingSettings
from guichet.ratelimit import FailureLimiter, Rule

T = TypeVar("T")
CLIENT_HEADER = "X-Guichet-Client"


class TooManyAttempts(BookingError):
    code = "too_many_attempts"
    status = 429

    def __init__(self, retry_after_s: float) -> None:
        minutes = max(1, round(retry_after_s / 60))
        super().__init__(f"Trop d'essais infructueux. Par sécurité, réessayez dans {minutes} minute"
                         f"{'s' if minutes > 1 else ''}.")
        self.headers = {"Retry-After": str(max(1, round(retry_after_s)))}


def limiter_for(settings: BookingSettings) -> FailureLimiter:
    return FailureLimiter([Rule("reference", settings.lookup_limit_reference),
                           Rule("client", settings.lookup_limit_client)], storage_uri=settings.ratelimit_storage)


def client_key(request: web.Request, trusted: tuple[str, ...]) -> str:
    named = request.headers.get(CLIENT_HEADER, "").strip()
    if named and request.remote in trusted:
        return f"named:{named[:200]}"
    return f"ip:{request.remote or 'unknown'}"


async def guarded(limiter: FailureLimiter, request: web.Request, reference: str, trusted: tuple[str, ...],
                  operation: Awaitable[T]) -> T:
    """Run ``operation`` unless the reference or the client is over its limit; count it if nothing matched."""
    keys = {"reference": reference, "client": client_key(request, trusted)}
    wait = await limiter.retry_after(keys)
    if wait is not None:
        if hasattr(operation, "close"):
            operation.close()  # a coroutine never awaited
        raise TooManyAttempts(wait)
    try:
        return await operation
    except AppointmentNotFound:
        await limiter.failed(keys)
        raise

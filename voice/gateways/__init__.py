"""Telephony gateways: each module turns one wire protocol into `voice.call.CallIO` objects.

Every gateway module offers the same entry point::

    server = await serve(host, port, handler)   # port 0 picks a free port (tests)
    ...
    await server.close()

`handler(call)` runs once per call in its own task; when it returns the gateway ends the call on the wire.
A handler's exception is logged with the call id and never affects the server or other calls.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from voice.call import CallIO

CallHandler = Callable[[CallIO], Awaitable[None]]
"""What a gateway runs for each call (in production: a `CallSession`)."""


class Server(Protocol):
    """A running gateway: the port it listens on and a way to stop it (ending every call in progress)."""

    @property
    def port(self) -> int: ...

    async def close(self) -> None: ...


async def run_handler(handler: CallHandler, call: CallIO, log: logging.Logger) -> None:
    """Run one call's handler; its failure is logged with the call id only (no caller number) and swallowed."""
    try:
        await handler(call)
    except Exception:
        log.exception("call %s: handler failed", call.call_id)

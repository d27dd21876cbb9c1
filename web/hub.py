"""The live hub: the open WebSockets of citizens' widgets (by conversation) and of operators' consoles."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)


class Hub:
    def __init__(self) -> None:
        self.widgets: dict[str, set[web.WebSocketResponse]] = defaultdict(set)
        self.consoles: dict[web.WebSocketResponse, int] = {}  # socket → operator id

    def operators_available(self) -> bool:
        """An operator has the console open: a web-chat hand-off can be taken over live."""
        return any(not ws.closed for ws in self.consoles)

    def widget_connected(self, conversation_id: str) -> bool:
        return any(not ws.closed for ws in self.widgets.get(conversation_id, ()))

    async def _send(self, sockets: list[web.WebSocketResponse], message: dict[str, Any]) -> None:
        async def one(ws: web.WebSocketResponse) -> None:
            try:
                await ws.send_json(message)
            except (ConnectionError, RuntimeError):
                log.info("a live socket went away while sending")

        await asyncio.gather(*(one(ws) for ws in sockets if not ws.closed))

    async def to_widget(self, conversation_id: str, message: dict[str, Any]) -> None:
        await self._send(list(self.widgets.get(conversation_id, ())), message)

    async def to_consoles(self, message: dict[str, Any]) -> None:
        await self._send(list(self.consoles), message)

    def add_widget(self, conversation_id: str, ws: web.WebSocketResponse) -> None:
        self.widgets[conversation_id].add(ws)

    def remove_widget(self, conversation_id: str, ws: web.WebSocketResponse) -> None:
        sockets = self.widgets.get(conversation_id)
        if sockets is not None:
            sockets.discard(ws)
            if not sockets:
                del self.widgets[conversation_id]

    async def close_all(self) -> None:
        sockets = [ws for group in self.widgets.values() for ws in group] + list(self.consoles)
        await asyncio.gather(*(ws.close(code=1001, message=b"shutdown") for ws in sockets), return_exceptions=True)

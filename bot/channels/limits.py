"""What the public chat channels let through, and the answers to what they refuse.

- **Origin.** Browsers may open the socket.io channel only from the town's site (``GUICHET_ALLOWED_ORIGINS``,
  space-separated, ``*`` for any; default: the desk's own pages). Rasa's ``--cors`` covers plain HTTP, but a
  WebSocket is not subject to CORS, and Rasa creates its socket.io server with origin checks disabled.
- **Pace.** Messages are counted per conversation (``GUICHET_CHAT_LIMIT_SENDER``) and per client address
  (``GUICHET_CHAT_LIMIT_CLIENT``; the addresses of ``GUICHET_TRUSTED_CLIENTS`` are not counted). Over a limit, the
  citizen reads why and how long to wait; nothing reaches the dialogue.
- **Size.** A REST request body is at most ``MAX_BODY`` bytes and must be ``{"sender": str, "message": str}``.
- **Typed commands.** Text starting with ``/`` is Rasa's way of naming an intent directly: buttons rely on it. A
  citizen who types it gets it read as words, unless it is a button the bot has just offered (or ``/greet``, which
  the widget sends when it opens).

Behind a reverse proxy, tell Sanic which header carries the client's address (``SANIC_PROXIES_COUNT=1`` or
``SANIC_REAL_IP_HEADER=X-Real-IP``, see deploy/README.md); otherwise every citizen has the proxy's address.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from guichet.ratelimit import HitLimiter, Rule, validate_limit

MAX_BODY = 16 * 1024
MAX_SENDER = 128
ALWAYS_ALLOWED_COMMANDS = frozenset({"/greet"})
SLOW_DOWN = "Vous envoyez beaucoup de messages en peu de temps. Patientez {wait}, puis écrivez-moi à nouveau."


@dataclass(frozen=True)
class ChatPolicy:
    origins: frozenset[str]  # empty: any origin
    sender_limit: str
    client_limit: str
    trusted: frozenset[str]
    storage: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ChatPolicy:
        env = os.environ if env is None else env
        desk = env.get("GUICHET_DESK_PORT") or "8085"
        origins = (env.get("GUICHET_ALLOWED_ORIGINS") or f"http://127.0.0.1:{desk} http://localhost:{desk}").split()
        return cls(
            origins=frozenset() if "*" in origins else frozenset(o.rstrip("/") for o in origins),
            sender_limit=validate_limit(env.get("GUICHET_CHAT_LIMIT_SENDER") or "20 per minute",
                                        "GUICHET_CHAT_LIMIT_SENDER"),
            client_limit=validate_limit(env.get("GUICHET_CHAT_LIMIT_CLIENT") or "120 per minute",
                                        "GUICHET_CHAT_LIMIT_CLIENT"),
            trusted=frozenset(a.strip() for a in (env.get("GUICHET_TRUSTED_CLIENTS") or "127.0.0.1,::1").split(",")
                              if a.strip()),
            storage=env.get("GUICHET_RATELIMIT_STORAGE") or "memory://",
        )

    def origin_allowed(self, origin: str | None) -> bool:
        """A request without ``Origin`` does not come from a web page (no browser to protect); others must match."""
        return not origin or not self.origins or origin.rstrip("/") in self.origins

    def limiter(self) -> ChatLimiter:
        return ChatLimiter(self)


class ChatLimiter:
    def __init__(self, policy: ChatPolicy) -> None:
        self._trusted = policy.trusted
        self._hits = HitLimiter([Rule("chat-sender", policy.sender_limit), Rule("chat-client", policy.client_limit)],
                                storage_uri=policy.storage)

    async def retry_after(self, sender: str, client: str | None) -> float | None:
        """Counts one message; seconds to wait when the conversation or the client is over its limit."""
        keys = {"chat-sender": sender}
        if client and client not in self._trusted:
            keys["chat-client"] = client
        return await self._hits.hit(keys)


def slow_down(seconds: float) -> str:
    whole = max(1, round(seconds))
    return SLOW_DOWN.format(wait=f"{whole} seconde{'s' if whole > 1 else ''}")


def read_as_words(text: str, offered: Iterable[str]) -> str:
    """The text Rasa should read: a typed ``/command`` loses its slashes unless it was offered as a button."""
    stripped = text.strip()
    if not stripped.startswith("/") or stripped in ALWAYS_ALLOWED_COMMANDS or stripped in set(offered):
        return text
    return stripped.lstrip("/").strip()


def offered_payloads(events: Iterable[Any]) -> list[str]:
    """Button payloads the bot sent since the citizen's last message (``events``: a tracker's, oldest first)."""
    payloads: list[str] = []
    for event in reversed(list(events)):
        if getattr(event, "type_name", None) == "user":
            break
        if getattr(event, "type_name", None) == "bot":
            data = getattr(event, "data", None) or {}
            for button in data.get("buttons") or ():
                if isinstance(button, dict) and isinstance(button.get("payload"), str):
                    payloads.append(button["payload"].strip())
    return payloads


def rest_body_problem(body: Any) -> str | None:
    """Why a REST webhook body cannot be read (French), or ``None``."""
    if not isinstance(body, dict):
        return "JSON attendu : {\"sender\": \"…\", \"message\": \"…\"}"
    sender, message = body.get("sender"), body.get("message")
    if not isinstance(sender, str) or not sender.strip() or len(sender) > MAX_SENDER:
        return f"« sender » doit être un texte de 1 à {MAX_SENDER} caractères"
    if not isinstance(message, str):
        return "« message » doit être un texte"
    if "metadata" in body and not isinstance(body["metadata"], dict):
        return "« metadata » doit être un objet JSON"
    return None

"""Operators' authentication: Argon2 password hashes, server-side sessions, CSRF tokens, login rate limits.

The session token lives only in an HttpOnly, SameSite=Strict cookie (Secure when configured) and is stored hashed;
a session ends after ``idle`` without activity. Every state-changing console request carries the session's CSRF
token in ``X-CSRF-Token``. The login itself needs a pre-session CSRF token (cookie + header, double submit) and an
Origin header, when present, naming this site; wrong passwords are counted per user name and per client.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from yarl import URL

from guichet.clock import Clock
from web.store import DeskStore, Operator, Session

SESSION_COOKIE = "guichet_session"
LOGIN_COOKIE = "guichet_login"
CSRF_HEADER = "X-CSRF-Token"
TOUCH_EVERY = timedelta(minutes=1)
# Verified when the user name is unknown, so a wrong name costs as much time as a wrong password.
_DUMMY_PASSWORD = "guichet-dummy-password"


class Passwords:
    """Argon2id hashing in a worker thread (about 50 ms of CPU each with the library's defaults)."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self.hasher = hasher or PasswordHasher()
        self._dummy: str | None = None

    def hash_now(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify_now(self, password_hash: str | None, password: str) -> bool:
        if self._dummy is None:
            self._dummy = self.hasher.hash(_DUMMY_PASSWORD)
        try:
            return bool(self.hasher.verify(password_hash or self._dummy, password)) and password_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    async def hash(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(None, self.hash_now, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        return await asyncio.get_running_loop().run_in_executor(None, self.verify_now, password_hash, password)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a).encode(), str(b).encode())


def check_password_rules(password: str) -> str | None:
    """A French reason if the password is too weak, else None."""
    if len(password) < 10:
        return "Le mot de passe doit faire au moins 10 caractères."
    if len(password) > 256:
        return "Le mot de passe doit faire 256 caractères au plus."
    return None


@dataclass(frozen=True)
class Opened:
    token: str
    csrf: str


class Sessions:
    """Server-side sessions in the desk store, expiring after ``idle`` without a request (clock injected)."""

    def __init__(self, store: DeskStore, clock: Clock, idle: timedelta) -> None:
        self.store = store
        self.clock = clock
        self.idle = idle

    async def open(self, operator: Operator) -> Opened:
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = self.clock.now()
        await self.store.drop_idle_sessions(now - self.idle)
        await self.store.add_session(hash_token(token), operator.id, csrf, now)
        return Opened(token, csrf)

    async def find(self, token: str | None) -> Session | None:
        if not token or len(token) > 200:
            return None
        session = await self.store.session(hash_token(token))
        if session is None:
            return None
        now = self.clock.now()
        if now - session.last_seen > self.idle:
            await self.store.drop_session(session.token_hash)
            return None
        if now - session.last_seen > TOUCH_EVERY:
            await self.store.touch_session(session.token_hash, now)
        return session

    async def close(self, token: str | None) -> None:
        if token:
            await self.store.drop_session(hash_token(token))


def origin_allowed(origin: str | None, host_origin: str, public_url: str | None) -> bool:
    """No Origin header (same-origin GET, old browsers, tests) or this site's own origin."""
    if origin is None:
        return True
    allowed = {host_origin.rstrip("/")}
    if public_url:
        allowed.add(str(URL(public_url).origin()).rstrip("/"))
    return origin.rstrip("/") in allowed

"""Fixtures of the desk tests: the real app on loopback (aiohttp test server), a frozen clock, fast Argon2, a
small real aiohttp server standing in for Rasa's HTTP API, and logged-in console clients."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from argon2 import PasswordHasher

from guichet.clock import FrozenClock
from web.app import create_app
from web.auth import Passwords
from web.keys import PASSWORDS, STORE
from web.settings import DeskSettings

DESK_TOKEN = "desk-token-for-tests"
RASA_TOKEN = "rasa-token-for-tests"
PASSWORD = "mot-de-passe-solide"
CASE = {"conversation_id": "conv-1", "channel": "rest", "reason": "asked", "phone": "06 98 76 54 32",
        "collected": {"procedure": "passport", "people": 2, "phone": "06 98 76 54 32"},
        "transcript": [{"from": "citoyen", "text": "je voudrais parler à un agent"},
                       {"from": "assistant", "text": "À quel numéro ?"}], "callback_only": True}


@pytest.fixture(scope="session")
def passwords() -> Passwords:
    return Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@dataclass
class FakeRasa:
    """Records the tracker events posted to it; answers 200 only with the right token."""

    url: str = ""
    events: list[tuple[str, Any]] = field(default_factory=list)
    refused: int = 0


@pytest.fixture
async def rasa(aiohttp_server: Callable[..., Awaitable[TestServer]]) -> FakeRasa:
    fake = FakeRasa()

    async def events(request: web.Request) -> web.Response:
        if request.query.get("token") != RASA_TOKEN:
            fake.refused += 1
            return web.json_response({"message": "unauthorized"}, status=401)
        fake.events.append((request.match_info["sender"], await request.json()))
        return web.json_response({"sender_id": request.match_info["sender"]})

    app = web.Application()
    app.router.add_post("/conversations/{sender}/tracker/events", events)
    server = await aiohttp_server(app)
    fake.url = str(server.make_url("")).rstrip("/")
    return fake


@pytest.fixture
def settings(tmp_path: Path, rasa: FakeRasa) -> DeskSettings:
    return DeskSettings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'desk.sqlite3'}",
                        desk_token=DESK_TOKEN, staff_token="staff-token", rasa_token=RASA_TOKEN,
                        booking_url="http://127.0.0.1:9", dialogue_url=rasa.url, http_timeout_s=2,
                        tracker_url=f"sqlite:///{tmp_path / 'rasa-tracker.db'}",
                        login_limit_user="3 per 15 minutes", login_limit_client="50 per 15 minutes")


@pytest.fixture
def desk_clock(clock: FrozenClock) -> FrozenClock:
    return clock


@pytest.fixture
async def server(settings: DeskSettings, desk_clock: FrozenClock, passwords: Passwords,
                 aiohttp_server: Callable[..., Awaitable[TestServer]]) -> TestServer:
    app = create_app(settings, clock=desk_clock, passwords=passwords)
    started = await aiohttp_server(app)
    store = app[STORE]
    for name, role in (("alice", "agent"), ("bruno", "agent"), ("chef", "superviseur")):
        await store.add_operator(name, app[PASSWORDS].hash_now(PASSWORD), role, desk_clock.now())
    return started


Client = TestClient[web.Request, web.Application]


@pytest.fixture
def new_client(server: TestServer, aiohttp_client: Callable[..., Awaitable[Client]]) -> Callable[[], Awaitable[Client]]:
    async def make() -> Client:
        return await aiohttp_client(server)

    return make


async def login(client: Client, username: str, password: str = PASSWORD) -> dict[str, str]:
    """Log in as the console page does; the headers state-changing requests then need."""
    response = await client.get("/api/v1/console/login")
    token = (await response.json())["csrf"]
    response = await client.post("/api/v1/console/login", json={"username": username, "password": password},
                                 headers={"X-CSRF-Token": token})
    assert response.status == 200, await response.text()
    return {"X-CSRF-Token": (await response.json())["csrf"]}


LoggedIn = Callable[[str], Awaitable[tuple[Client, dict[str, str]]]]


@pytest.fixture
def as_operator(new_client: Callable[[], Awaitable[Client]]) -> LoggedIn:
    async def make(username: str) -> tuple[Client, dict[str, str]]:
        client = await new_client()
        return client, await login(client, username)

    return make


async def post_case(client: Client, body: dict[str, Any] | None = None, *, token: str = DESK_TOKEN) -> Any:
    return await client.post("/api/v1/cases", json=body or CASE, headers={"Authorization": f"Bearer {token}"})

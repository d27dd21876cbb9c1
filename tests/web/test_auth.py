"""Units of the desk's authentication: Argon2 hashes, session idle expiry (injected clock), CSRF and origin checks,
shared tokens and settings."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from guichet.clock import FrozenClock
from guichet.tokens import stored_token
from web.auth import Passwords, Sessions, hash_token, origin_allowed, same
from web.settings import SettingsError, load_settings
from web.store import DeskStore, open_store


def test_a_password_is_stored_as_an_argon2id_hash_that_only_the_right_password_matches(passwords: Passwords) -> None:
    hashed = passwords.hash_now("mot-de-passe-solide")
    assert hashed.startswith("$argon2id$") and "mot-de-passe-solide" not in hashed
    assert passwords.verify_now(hashed, "mot-de-passe-solide")
    assert not passwords.verify_now(hashed, "mot-de-passe-solidE")
    assert not passwords.verify_now(None, "mot-de-passe-solide")  # unknown user: a dummy hash is checked
    assert not passwords.verify_now("not a hash", "mot-de-passe-solide")
    assert passwords.hash_now("x" * 12) != passwords.hash_now("x" * 12)  # salted


@pytest.fixture
async def store(tmp_path: Path) -> DeskStore:
    db = open_store(f"sqlite:///{tmp_path / 'desk.sqlite3'}")
    await db.migrate()
    return db


async def test_a_session_ends_after_eight_idle_hours_and_activity_keeps_it_alive(
        store: DeskStore, clock: FrozenClock, passwords: Passwords) -> None:
    operator = await store.add_operator("alice", passwords.hash_now("mot-de-passe-solide"), "agent", clock.now())
    sessions = Sessions(store, clock, timedelta(hours=8))
    opened = await sessions.open(operator)
    assert (await store.session(opened.token)) is None  # stored hashed, never as the cookie's value
    found = await sessions.find(opened.token)
    assert found is not None and found.operator.username == "alice" and found.csrf == opened.csrf
    clock.advance(timedelta(hours=7, minutes=59))
    assert await sessions.find(opened.token) is not None  # activity: the idle timer starts again
    clock.advance(timedelta(hours=7, minutes=59))
    assert await sessions.find(opened.token) is not None
    clock.advance(timedelta(hours=8, seconds=1))
    assert await sessions.find(opened.token) is None
    assert await store.session(hash_token(opened.token)) is None  # and it is gone from the database
    await store.close()


async def test_sessions_are_distinct_and_closing_one_keeps_the_other(store: DeskStore, clock: FrozenClock) -> None:
    operator = await store.add_operator("bruno", "hash", "agent", clock.now())
    sessions = Sessions(store, clock, timedelta(hours=8))
    first, second = await sessions.open(operator), await sessions.open(operator)
    assert first.token != second.token and first.csrf != second.csrf
    await sessions.close(first.token)
    assert await sessions.find(first.token) is None and await sessions.find(second.token) is not None
    assert await sessions.find("") is None and await sessions.find("x" * 500) is None
    await store.close()


def test_csrf_comparison_and_origin_rules() -> None:
    assert same("abc", "abc") and not same("abc", "abd") and not same("", "") and not same(None, None)
    assert origin_allowed(None, "http://desk.local:8085", None)
    assert origin_allowed("http://desk.local:8085", "http://desk.local:8085", None)
    assert not origin_allowed("https://evil.example", "http://desk.local:8085", None)
    assert origin_allowed("https://guichet.mairie.fr", "http://127.0.0.1:8085", "https://guichet.mairie.fr/")


def test_a_shared_token_is_created_once_and_then_reused(tmp_path: Path) -> None:
    first = stored_token(tmp_path / "data" / "desk.token")
    assert len(first) >= 40 and stored_token(tmp_path / "data" / "desk.token") == first
    assert (tmp_path / "data" / "desk.token").stat().st_mode & 0o077 == 0
    assert list((tmp_path / "data").iterdir()) == [tmp_path / "data" / "desk.token"]


def test_settings_come_from_the_environment(tmp_path: Path) -> None:
    env = {"GUICHET_DATA_DIR": str(tmp_path), "GUICHET_DESK_TOKEN": "d", "GUICHET_DIALOGUE_URL": "http://r:5005/",
           "GUICHET_DESK_SESSION_IDLE_S": "60", "GUICHET_DESK_SECURE_COOKIES": "1"}
    settings = load_settings(["--port", "9000"], env)
    assert (settings.port, settings.desk_token, settings.dialogue_url, settings.dialogue_public_url) == \
        (9000, "d", "http://r:5005", "http://r:5005")
    assert settings.session_idle_s == 60 and settings.secure_cookies
    assert settings.database_url == f"sqlite:///{tmp_path / 'desk.sqlite3'}"
    assert settings.rasa_token == (tmp_path / "rasa.token").read_text().strip()
    with pytest.raises(SettingsError, match="port"):
        load_settings(["--port", "http"], env)
    with pytest.raises(SettingsError, match="GUICHET_DESK_SESSION_IDLE_S"):
        load_settings([], {**env, "GUICHET_DESK_SESSION_IDLE_S": "bientôt"})
    assert settings.retention_days == 180
    assert load_settings([], {**env, "GUICHET_RETENTION_DAYS": "30"}).retention_days == 30
    with pytest.raises(SettingsError, match="GUICHET_RETENTION_DAYS"):
        load_settings([], {**env, "GUICHET_RETENTION_DAYS": "0"})


def test_empty_variables_mean_the_default(tmp_path: Path) -> None:
    settings = load_settings([], {"GUICHET_DATA_DIR": str(tmp_path), "GUICHET_DESK_SESSION_IDLE_S": "",
                                  "GUICHET_DESK_LOGIN_LIMIT_USER": "", "GUICHET_DESK_PORT": ""})
    assert (settings.session_idle_s, settings.login_limit_user, settings.port) == (8 * 3600, "5 per 15 minutes", 8085)

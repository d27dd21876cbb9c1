"""Settings of the desk service: defaults, then environment (``GUICHET_*``), then command-line flags.

Read only by the composition root (``web.__main__``); library code receives a ``DeskSettings``.
Tokens shared with other services come from the environment, else from a file of the data folder created once.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from guichet.ratelimit import validate_limit
from guichet.tokens import stored_token


@dataclass(frozen=True)
class DeskSettings:
    host: str = "127.0.0.1"
    port: int = 8085
    data_dir: Path = Path("data")
    database_url: str = "sqlite:///data/desk.sqlite3"
    desk_token: str = ""  # the action server presents it to the case API
    staff_token: str = ""  # the desk presents it to the booking backend's staff API
    rasa_token: str = ""  # Rasa's --auth-token (tracker events: resume a paused conversation)
    booking_url: str = "http://127.0.0.1:8081"
    dialogue_url: str = "http://127.0.0.1:5005"
    dialogue_public_url: str = "http://127.0.0.1:5005"  # the socket.io server as browsers reach it
    public_url: str | None = None  # the desk's public origin; None = the origin of each request
    session_idle_s: float = 8 * 3600.0
    live_wait_s: float = 180.0  # a live web-chat case nobody claims in this time goes back to the bot (callback)
    secure_cookies: bool = False
    login_limit_user: str = "5 per 15 minutes"
    login_limit_client: str = "30 per 15 minutes"
    ratelimit_storage: str = "memory://"
    http_timeout_s: float = 5.0
    max_text: int = 2000
    town: str = "Villeneuve-sur-Mauldre"
    log_level: str = "INFO"
    # Rasa's tracker store, read for the statistics page and purged daily of conversations past the retention
    # period: the SQLite file of `make run`, or the PostgreSQL database of the scale-out mode
    # (GUICHET_RASA_TRACKER_URL; its user needs DELETE on the events table).
    tracker_url: str = "sqlite:///data/rasa-tracker.db"
    retention_days: int = 180  # GUICHET_RETENTION_DAYS, as the booking backend


class SettingsError(ValueError):
    """A setting has a value the service cannot start with."""


def token(env: Mapping[str, str], name: str, data: Path, file: str) -> str:
    return env.get(name) or stored_token(data / file)


def _port(value: str, name: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        raise SettingsError(f"{name} doit être un port entre 1 et 65535, pas {value!r}")
    return int(value)


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    value = env.get(name)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise SettingsError(f"{name} doit être un nombre, pas {value!r}") from None
    if number <= 0:
        raise SettingsError(f"{name} doit être positif, pas {value!r}")
    return number


def _limit(env: Mapping[str, str], name: str, default: str) -> str:
    try:
        return validate_limit(env.get(name, default), name)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None


def _retention(env: Mapping[str, str]) -> int:
    value = env.get("GUICHET_RETENTION_DAYS", str(DeskSettings.retention_days))
    if not value.isdigit() or not 1 <= int(value) <= 3650:
        raise SettingsError(f"GUICHET_RETENTION_DAYS : un nombre de jours de 1 à 3650, pas {value!r}")
    return int(value)


def load_settings(argv: Sequence[str], env: Mapping[str, str]) -> DeskSettings:
    env = {name: value for name, value in env.items() if value != ""}  # an empty variable (.env) means "default"
    data = Path(env.get("GUICHET_DATA_DIR", "data"))
    parser = argparse.ArgumentParser(prog="python -m web", description="Guichet des agents (desk)")
    parser.add_argument("--host", default=env.get("GUICHET_DESK_HOST", DeskSettings.host))
    parser.add_argument("--port", default=env.get("GUICHET_DESK_PORT", str(DeskSettings.port)))
    parser.add_argument("--database", default=env.get("GUICHET_DESK_DATABASE_URL",
                                                      f"sqlite:///{data / 'desk.sqlite3'}"))
    args = parser.parse_args(list(argv))
    if not args.database.startswith(("sqlite:///", "postgresql://", "postgres://", "postgresql+asyncpg://")):
        raise SettingsError(f"--database : sqlite:///chemin ou postgresql://…, pas {args.database!r}")
    dialogue = env.get("GUICHET_DIALOGUE_URL", DeskSettings.dialogue_url).rstrip("/")
    secure = env.get("GUICHET_DESK_SECURE_COOKIES", "").lower()
    if secure not in ("", "0", "1", "true", "false", "yes", "no"):
        raise SettingsError(f"GUICHET_DESK_SECURE_COOKIES vaut 1 ou 0, pas {secure!r}")
    return DeskSettings(
        host=args.host, port=_port(str(args.port), "--port"), data_dir=data, database_url=args.database,
        desk_token=token(env, "GUICHET_DESK_TOKEN", data, "desk.token"),
        staff_token=token(env, "GUICHET_STAFF_TOKEN", data, "staff.token"),
        rasa_token=token(env, "GUICHET_RASA_TOKEN", data, "rasa.token"),
        booking_url=env.get("GUICHET_BOOKING_URL", DeskSettings.booking_url).rstrip("/"),
        dialogue_url=dialogue,
        dialogue_public_url=env.get("GUICHET_DIALOGUE_PUBLIC_URL", dialogue).rstrip("/"),
        public_url=(env.get("GUICHET_DESK_PUBLIC_URL") or "").rstrip("/") or None,
        session_idle_s=_number(env, "GUICHET_DESK_SESSION_IDLE_S", DeskSettings.session_idle_s),
        live_wait_s=_number(env, "GUICHET_DESK_LIVE_WAIT_S", DeskSettings.live_wait_s),
        secure_cookies=secure in ("1", "true", "yes"),
        login_limit_user=_limit(env, "GUICHET_DESK_LOGIN_LIMIT_USER", DeskSettings.login_limit_user),
        login_limit_client=_limit(env, "GUICHET_DESK_LOGIN_LIMIT_CLIENT", DeskSettings.login_limit_client),
        ratelimit_storage=env.get("GUICHET_RATELIMIT_STORAGE", DeskSettings.ratelimit_storage),
        http_timeout_s=_number(env, "GUICHET_DESK_HTTP_TIMEOUT_S", DeskSettings.http_timeout_s),
        town=env.get("GUICHET_TOWN_NAME", DeskSettings.town),
        log_level=env.get("GUICHET_LOG_LEVEL", "INFO"),
        tracker_url=env.get("GUICHET_RASA_TRACKER_URL", f"sqlite:///{data.resolve() / 'rasa-tracker.db'}"),
        retention_days=_retention(env))

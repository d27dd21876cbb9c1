"""Settings of the booking backend: defaults, then environment (``GUICHET_*``), then command-line flags.

Read only by the composition root (``booking.__main__``); library code receives a ``BookingSettings``.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from guichet.ratelimit import validate_limit
from guichet.tokens import stored_token
from knowledge.loader import DEFAULT_DIR


@dataclass(frozen=True)
class BookingSettings:
    host: str = "127.0.0.1"
    port: int = 8081
    database_url: str = "sqlite:///data/booking.db"
    knowledge_dir: Path = DEFAULT_DIR
    public_url: str = "http://127.0.0.1:8085"  # where citizens manage appointments: the desk's /rendez-vous/{reference}
    staff_token: str | None = None
    ants_hub_token: str | None = None  # token the ANTS hub presents to our editor endpoints
    ants_url: str | None = None  # coordination API base URL; unset = coordination disabled
    ants_token: str | None = None
    ants_timeout_s: float = 5.0
    log_level: str = "INFO"
    # Wrong reference/phone guesses allowed before lookups are refused for a while (see booking/guard.py).
    lookup_limit_reference: str = "5 per 15 minutes"
    lookup_limit_client: str = "20 per 15 minutes"
    ratelimit_storage: str = "memory://"
    trusted_clients: tuple[str, ...] = ("127.0.0.1", "::1")
    # Personal data of appointments that ended longer ago than this is erased (booking/personal.py).
    retention_days: int = 180


class SettingsError(ValueError):
    """A setting has a value the service cannot start with."""


def _port(value: str, name: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        raise SettingsError(f"{name} doit être un port entre 1 et 65535, pas {value!r}")
    return int(value)


def load_settings(argv: Sequence[str], env: Mapping[str, str], *, data_dir: Path | None = None) -> BookingSettings:
    """Build the settings; a missing staff token is generated once into ``data/staff.token``."""
    data = data_dir or Path(env.get("GUICHET_DATA_DIR", "data"))
    parser = argparse.ArgumentParser(prog="python -m booking", description="Service de rendez-vous (booking)")
    parser.add_argument("--host", default=env.get("GUICHET_BOOKING_HOST", BookingSettings.host))
    parser.add_argument("--port", default=env.get("GUICHET_BOOKING_PORT", str(BookingSettings.port)))
    parser.add_argument("--database", default=env.get("GUICHET_BOOKING_DATABASE_URL",
                                                      f"sqlite:///{data / 'booking.db'}"))
    parser.add_argument("--knowledge", default=env.get("GUICHET_KNOWLEDGE_DIR", str(DEFAULT_DIR)))
    args = parser.parse_args(list(argv))
    if not args.database.startswith(("sqlite:///", "postgresql://", "postgres://", "postgresql+asyncpg://")):
        raise SettingsError(f"--database : sqlite:///chemin ou postgresql://…, pas {args.database!r}")
    staff_token = env.get("GUICHET_STAFF_TOKEN") or stored_token(data / "staff.token")
    timeout = env.get("GUICHET_ANTS_TIMEOUT_S", "5")
    try:
        ants_timeout = float(timeout)
    except ValueError:
        raise SettingsError(f"GUICHET_ANTS_TIMEOUT_S doit être un nombre, pas {timeout!r}") from None
    return BookingSettings(
        host=args.host, port=_port(str(args.port), "--port"), database_url=args.database,
        knowledge_dir=Path(args.knowledge), public_url=env.get("GUICHET_PUBLIC_URL", BookingSettings.public_url),
        staff_token=staff_token, ants_hub_token=env.get("GUICHET_ANTS_HUB_TOKEN") or None,
        ants_url=env.get("GUICHET_ANTS_URL") or None, ants_token=env.get("GUICHET_ANTS_TOKEN") or None,
        ants_timeout_s=ants_timeout, log_level=env.get("GUICHET_LOG_LEVEL", "INFO"),
        lookup_limit_reference=_limit(env, "GUICHET_LOOKUP_LIMIT_REFERENCE", BookingSettings.lookup_limit_reference),
        lookup_limit_client=_limit(env, "GUICHET_LOOKUP_LIMIT_CLIENT", BookingSettings.lookup_limit_client),
        ratelimit_storage=env.get("GUICHET_RATELIMIT_STORAGE", BookingSettings.ratelimit_storage),
        retention_days=_days(env.get("GUICHET_RETENTION_DAYS", str(BookingSettings.retention_days)),
                             "GUICHET_RETENTION_DAYS"),
        trusted_clients=tuple(a.strip() for a in env.get("GUICHET_TRUSTED_CLIENTS", "127.0.0.1,::1").split(",")
                              if a.strip()))


def _days(value: str, name: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 3650:
        raise SettingsError(f"{name} doit être un nombre de jours entre 1 et 3650, pas {value!r}")
    return int(value)


def _limit(env: Mapping[str, str], name: str, default: str) -> str:
    try:
        return validate_limit(env.get(name, default), name)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None



"""Schema and migrations, shared by SQLite and PostgreSQL (SQLAlchemy Core)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Date,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    inspect,
    select,
)

metadata = MetaData()

schema_version = Table("schema_version", metadata, Column("version", Integer, nullable=False))

appointments = Table(
    "appointments", metadata,
    Column("reference", String(12), primary_key=True),
    Column("meeting_point_id", String(48), nullable=False),
    Column("counter_id", String(32), nullable=False),
    Column("start_at", BigInteger, nullable=False),  # epoch seconds, UTC
    Column("end_at", BigInteger, nullable=False),
    Column("procedure", String(16), nullable=False),
    Column("people", Integer, nullable=False),
    Column("name", String(200), nullable=False),
    Column("phone", String(20), nullable=False),  # E.164
    Column("email", String(254)),
    Column("application_ids", Text, nullable=False, server_default=""),  # space-separated
    Column("channel", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("ants_sync", String(16), nullable=False),
    Column("warnings", Text, nullable=False, server_default=""),  # newline-separated
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_appointments_start", "meeting_point_id", "start_at"),
    Index("ix_appointments_phone", "phone"),
)

# One row per occupied time unit of a counter: the primary key is what forbids double booking.
claims = Table(
    "claims", metadata,
    Column("meeting_point_id", String(48), primary_key=True),
    Column("counter_id", String(32), primary_key=True),
    Column("unit_start", BigInteger, primary_key=True),
    Column("appointment_ref", String(12)),  # set for a booking
    Column("hold_id", String(40)),  # set for a hold
    Column("expires_at", BigInteger),  # holds only
    Index("ix_claims_time", "meeting_point_id", "unit_start"),
    Index("ix_claims_appointment", "appointment_ref"),
    Index("ix_claims_hold", "hold_id"),
)

# A pré-demande number can be attached to one active appointment here at a time.
application_ids = Table(
    "application_ids", metadata,
    Column("application_id", String(10), primary_key=True),
    Column("appointment_ref", String(12), nullable=False, index=True),
)

idempotency_keys = Table(
    "idempotency_keys", metadata,
    Column("key", String(200), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("appointment_ref", String(12), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

closures = Table(
    "closures", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("meeting_point_id", String(48), nullable=False, index=True),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date, nullable=False),
    Column("reason", String(300), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)


def _v1(conn: Connection) -> None:
    metadata.create_all(conn, tables=[appointments, claims, application_ids, idempotency_keys, closures])


# Append a function here for each schema change; never edit one that has shipped.
MIGRATIONS: list[Callable[[Connection], None]] = [_v1]


def migrate(conn: Connection) -> int:
    """Bring the schema to the latest version inside the caller's transaction; returns the version."""
    if not inspect(conn).has_table("schema_version"):
        schema_version.create(conn)
        conn.execute(schema_version.insert().values(version=0))
    current = conn.execute(select(schema_version.c.version)).scalar_one()
    for version, step in enumerate(MIGRATIONS[current:], start=current + 1):
        step(conn)
        conn.execute(schema_version.update().values(version=version))
    return len(MIGRATIONS)

"""The store on SQLAlchemy Core, shared by the SQLite and PostgreSQL implementations.

Each dialect supplies its engine, its "insert … on conflict do nothing" and how a write transaction starts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Table, and_, delete, func, or_, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from booking.domain import (
    AntsSync,
    ApplicationIdInUse,
    Appointment,
    AppointmentNotFound,
    Hold,
    IdempotencyConflict,
    NewAppointment,
    NotModifiable,
    SlotTaken,
    Status,
)
from booking.store import tables as t
from booking.store.base import BookResult, Claim
from booking.store.personal import PersonalData
from booking.store.rows import InsertedRow, to_appointment
from booking.store.stats import Stats
from guichet.references import new_reference
from knowledge.calendar import epoch
from knowledge.town import Closure

log = logging.getLogger(__name__)

_RETRYABLE_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock detected


class _Partial(Exception):
    """Raised inside a savepoint when a counter could not take every unit."""


class SqlStore(PersonalData, Stats):
    """Store implementation common to both databases."""

    dialect = "sql"

    def __init__(self, engine: AsyncEngine, *, write_engine: AsyncEngine | None = None) -> None:
        self.engine = engine
        self.write_engine = write_engine or engine

    # --- dialect hooks -------------------------------------------------------------------------------------
    def insert_ignore(self, table: Table) -> Any:
        raise NotImplementedError

    async def _lock_migrations(self, conn: AsyncConnection) -> None:
        """Serialize concurrent start-ups of several processes on one database (PostgreSQL)."""

    # --- plumbing ------------------------------------------------------------------------------------------
    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        async with self.write_engine.begin() as conn:
            yield conn

    async def _retrying(self, operation: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a whole write transaction again after a deadlock or serialization failure (safe: nothing
        was committed)."""
        for attempt in range(5):
            try:
                return await operation(*args, **kwargs)
            except DBAPIError as exc:
                code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
                if code not in _RETRYABLE_SQLSTATES or attempt == 4:
                    raise
                log.warning("transaction retried after %s (attempt %d)", code, attempt + 1)
                await asyncio.sleep(0.01 * 2**attempt)
        raise AssertionError("unreachable")

    async def migrate(self) -> None:
        async with self._write() as conn:
            await self._lock_migrations(conn)
            version = await conn.run_sync(t.migrate)
        log.info("%s schema at version %d", self.dialect, version)

    async def close(self) -> None:
        await self.engine.dispose()
        if self.write_engine is not self.engine:
            await self.write_engine.dispose()

    # --- availability --------------------------------------------------------------------------------------
    async def busy_units(self, meeting_point_id: str, start: datetime, end: datetime,
                         now: datetime) -> dict[str, set[int]]:
        c = t.claims.c
        query = select(c.counter_id, c.unit_start).where(
            c.meeting_point_id == meeting_point_id, c.unit_start >= epoch(start), c.unit_start < epoch(end),
            or_(c.expires_at.is_(None), c.expires_at > epoch(now)),
        )
        busy: dict[str, set[int]] = {}
        async with self.engine.connect() as conn:
            for counter_id, unit_start in await conn.execute(query):
                busy.setdefault(counter_id, set()).add(unit_start)
        return busy

    async def closures(self, meeting_point_id: str) -> list[Closure]:
        c = t.closures.c
        query = select(c.start_date, c.end_date, c.reason).where(c.meeting_point_id == meeting_point_id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [Closure(start=r.start_date, end=r.end_date, reason=r.reason) for r in rows]

    async def add_closure(self, meeting_point_id: str, closure: Closure, now: datetime) -> None:
        async with self._write() as conn:
            await conn.execute(t.closures.insert().values(
                meeting_point_id=meeting_point_id, start_date=closure.start, end_date=closure.end,
                reason=closure.reason, created_at=epoch(now)))

    # --- claims --------------------------------------------------------------------------------------------
    async def _purge_expired(self, conn: AsyncConnection, claim: Claim, now: datetime) -> None:
        c = t.claims.c
        await conn.execute(delete(t.claims).where(
            c.meeting_point_id == claim.meeting_point_id,
            c.unit_start.in_([epoch(u) for u in claim.unit_starts]),
            c.expires_at.is_not(None), c.expires_at <= epoch(now)))

    async def _take(self, conn: AsyncConnection, claim: Claim, **owner: Any) -> str:
        """Occupy every unit on the first counter that has them all free; returns that counter."""
        for counter in claim.counters:
            rows = [dict(meeting_point_id=claim.meeting_point_id, counter_id=counter, unit_start=epoch(u), **owner)
                    for u in claim.unit_starts]
            try:
                async with conn.begin_nested():
                    result = await conn.execute(self.insert_ignore(t.claims).values(rows))
                    if result.rowcount != len(rows):
                        raise _Partial
            except _Partial:
                continue
            return counter
        raise SlotTaken("Ce créneau vient d'être pris. Voici d'autres horaires possibles.")

    # --- booking -------------------------------------------------------------------------------------------
    async def book(self, request: NewAppointment, claim: Claim, now: datetime, *,
                   idempotency: tuple[str, str] | None = None, hold_id: str | None = None,
                   ants_sync: AntsSync = AntsSync.NONE, warnings: Sequence[str] = ()) -> BookResult:
        while True:
            try:
                result: BookResult = await self._retrying(
                    self._book_once, request, claim, now, idempotency, hold_id, ants_sync, warnings)
                return result
            except _ReferenceClash:
                continue

    async def _book_once(self, request: NewAppointment, claim: Claim, now: datetime,
                         idempotency: tuple[str, str] | None, hold_id: str | None,
                         ants_sync: AntsSync, warnings: Sequence[str]) -> BookResult:
        reference = new_reference()
        async with self._write() as conn:
            if idempotency:
                key, digest = idempotency
                taken = await conn.execute(self.insert_ignore(t.idempotency_keys).values(
                    key=key, request_hash=digest, appointment_ref=reference, created_at=epoch(now)))
                if taken.rowcount == 0:
                    row = (await conn.execute(select(t.idempotency_keys).where(
                        t.idempotency_keys.c.key == key))).one()
                    if row.request_hash != digest:
                        raise IdempotencyConflict(
                            "Cette clé d'idempotence a déjà servi pour une autre demande.")
                    stored = await self._get(conn, row.appointment_ref)
                    return BookResult(stored, replayed=True)
            await self._purge_expired(conn, claim, now)
            counter = None
            if hold_id:
                counter = await self._convert_hold(conn, claim, hold_id, reference, now)
            if counter is None:
                counter = await self._take(conn, claim, appointment_ref=reference)
            if request.application_ids:
                added = await conn.execute(self.insert_ignore(t.application_ids).values(
                    [dict(application_id=a, appointment_ref=reference) for a in request.application_ids]))
                if added.rowcount != len(request.application_ids):
                    raise ApplicationIdInUse(
                        "Un numéro de pré-demande est déjà utilisé pour un autre rendez-vous dans notre mairie.")
            values: dict[str, Any] = dict(
                reference=reference, meeting_point_id=claim.meeting_point_id, counter_id=counter,
                start_at=epoch(claim.unit_starts[0]), end_at=epoch(claim.end), procedure=request.procedure.value,
                people=request.people, name=request.name, phone=request.phone, email=request.email,
                application_ids=" ".join(request.application_ids), channel=request.channel,
                status=Status.BOOKED.value, ants_sync=ants_sync.value, warnings="\n".join(warnings),
                created_at=epoch(now), updated_at=epoch(now))
            try:
                await conn.execute(t.appointments.insert().values(values))
            except IntegrityError as exc:  # 8 random characters: a clash is rare but possible; retry it all
                raise _ReferenceClash from exc
        return BookResult(to_appointment(InsertedRow(values)), replayed=False)

    async def _convert_hold(self, conn: AsyncConnection, claim: Claim, hold_id: str, reference: str,
                            now: datetime) -> str | None:
        c = t.claims.c
        rows = (await conn.execute(select(c.counter_id, c.unit_start).where(
            c.hold_id == hold_id, c.expires_at > epoch(now)))).all()
        wanted = {epoch(u) for u in claim.unit_starts}
        if not rows or {r.unit_start for r in rows} != wanted or len({r.counter_id for r in rows}) != 1:
            return None  # expired or for another slot: book normally
        await conn.execute(update(t.claims).where(c.hold_id == hold_id).values(
            appointment_ref=reference, hold_id=None, expires_at=None))
        return str(rows[0].counter_id)

    async def hold(self, claim: Claim, hold_id: str, expires_at: datetime, now: datetime) -> Hold:
        async def once() -> Hold:
            async with self._write() as conn:
                await self._purge_expired(conn, claim, now)
                await self._take(conn, claim, hold_id=hold_id, expires_at=epoch(expires_at))
            return Hold(hold_id, claim.meeting_point_id, claim.unit_starts[0], claim.end, expires_at)
        result: Hold = await self._retrying(once)
        return result

    async def release_hold(self, hold_id: str) -> bool:
        async with self._write() as conn:
            result = await conn.execute(delete(t.claims).where(t.claims.c.hold_id == hold_id))
        return bool(result.rowcount)

    # --- reading and changing ------------------------------------------------------------------------------
    async def _get(self, conn: AsyncConnection, reference: str) -> Appointment:
        row = (await conn.execute(select(t.appointments).where(t.appointments.c.reference == reference))).one()
        return to_appointment(row)

    async def _get_for(self, conn: AsyncConnection, reference: str, phone: str,
                       *, for_update: bool = False) -> Appointment:
        a = t.appointments.c
        query = select(t.appointments).where(a.reference == reference, a.phone == phone)
        if for_update:
            query = query.with_for_update()
        row = (await conn.execute(query)).one_or_none()
        if row is None:
            raise AppointmentNotFound(
                "Aucun rendez-vous ne correspond à cette référence et à ce numéro de téléphone.")
        return to_appointment(row)

    async def find(self, reference: str, phone: str) -> Appointment:
        async with self.engine.connect() as conn:
            return await self._get_for(conn, reference, phone)

    async def get(self, reference: str) -> Appointment | None:
        query = select(t.appointments).where(t.appointments.c.reference == reference)
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).one_or_none()
        return to_appointment(row) if row is not None else None

    @staticmethod
    def _modifiable(appointment: Appointment, now: datetime) -> None:
        if appointment.status is not Status.BOOKED:
            raise NotModifiable("Ce rendez-vous est déjà annulé ou passé : il ne peut plus être modifié.")
        if appointment.start <= now:
            raise NotModifiable("Ce rendez-vous a déjà commencé : il ne peut plus être modifié.")

    async def cancel(self, reference: str, phone: str, now: datetime) -> Appointment:
        async def once() -> Appointment:
            async with self._write() as conn:
                current = await self._get_for(conn, reference, phone, for_update=True)
                self._modifiable(current, now)
                await conn.execute(delete(t.claims).where(t.claims.c.appointment_ref == reference))
                await conn.execute(delete(t.application_ids).where(
                    t.application_ids.c.appointment_ref == reference))
                await conn.execute(update(t.appointments).where(t.appointments.c.reference == reference).values(
                    status=Status.CANCELLED.value, updated_at=epoch(now)))
                return await self._get(conn, reference)
        result: Appointment = await self._retrying(once)
        return result

    async def reschedule(self, reference: str, phone: str, claim: Claim, now: datetime) -> Appointment:
        async def once() -> Appointment:
            async with self._write() as conn:
                current = await self._get_for(conn, reference, phone, for_update=True)
                self._modifiable(current, now)
                # Freed and retaken in one transaction: if the new slot is gone, the rollback keeps the old one.
                await conn.execute(delete(t.claims).where(t.claims.c.appointment_ref == reference))
                await self._purge_expired(conn, claim, now)
                counter = await self._take(conn, claim, appointment_ref=reference)
                await conn.execute(update(t.appointments).where(t.appointments.c.reference == reference).values(
                    counter_id=counter, start_at=epoch(claim.unit_starts[0]), end_at=epoch(claim.end),
                    updated_at=epoch(now)))
                return await self._get(conn, reference)
        result: Appointment = await self._retrying(once)
        return result

    async def appointments_between(self, meeting_point_id: str | None, start: datetime,
                                   end: datetime) -> list[Appointment]:
        a = t.appointments.c
        conditions = [a.start_at >= epoch(start), a.start_at < epoch(end)]
        if meeting_point_id:
            conditions.append(a.meeting_point_id == meeting_point_id)
        query = select(t.appointments).where(and_(*conditions)).order_by(a.start_at, a.counter_id)
        async with self.engine.connect() as conn:
            return [to_appointment(r) for r in await conn.execute(query)]

    async def appointments_for_applications(self, application_ids: Sequence[str]) -> list[Appointment]:
        query = (select(t.appointments)
                 .join(t.application_ids, t.application_ids.c.appointment_ref == t.appointments.c.reference)
                 .where(t.application_ids.c.application_id.in_(list(application_ids)))
                 .order_by(t.appointments.c.start_at))
        async with self.engine.connect() as conn:
            return [to_appointment(r) for r in await conn.execute(query)]

    async def set_status(self, reference: str, status: Status, now: datetime) -> Appointment:
        async with self._write() as conn:
            result = await conn.execute(update(t.appointments).where(
                t.appointments.c.reference == reference,
                t.appointments.c.status != Status.CANCELLED.value,
            ).values(status=status.value, updated_at=epoch(now)))
            if result.rowcount == 0:
                raise AppointmentNotFound("Aucun rendez-vous actif avec cette référence.")
            return await self._get(conn, reference)

    async def set_ants_sync(self, reference: str, state: AntsSync) -> None:
        async with self._write() as conn:
            await conn.execute(update(t.appointments).where(t.appointments.c.reference == reference)
                               .values(ants_sync=state.value))

    async def count_active_at(self, meeting_point_id: str, start: datetime) -> int:
        """Number of booked appointments starting at ``start`` (used by tests and benchmarks)."""
        a = t.appointments.c
        query = select(func.count()).where(a.meeting_point_id == meeting_point_id, a.start_at == epoch(start),
                                           a.status == Status.BOOKED.value)
        async with self.engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())


class _ReferenceClash(Exception):
    """Two bookings drew the same random reference; the loser retries with a new one."""

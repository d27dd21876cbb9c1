"""The booking use cases: availability, holds, bookings, changes, staff actions, ANTS coordination.

Works on domain values; HTTP lives in ``booking.routes``. Time comes from the injected clock.
"""

from __future__ import annotations

import logging
import secrets
import time as monotonic_time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

from booking.ants.client import AntsCoordination, AntsUnavailable, Declaration
from booking.domain import (
    AntsSync,
    ApplicationRefused,
    Appointment,
    Hold,
    InvalidRequest,
    NewAppointment,
    Procedure,
    Slot,
    SlotTaken,
    Status,
)
from booking.store.base import BookResult, Claim, Store
from guichet.clock import Clock
from guichet.privacy import mask_phone
from knowledge.calendar import Calendar, epoch
from knowledge.town import Closure, MeetingPoint, TownFile

log = logging.getLogger(__name__)

MAX_RANGE_DAYS = 92
_REFUSED = {
    "consumed": "Ce numéro de pré-demande correspond à un dossier déjà déposé.",
    "expired": "Ce numéro de pré-demande a expiré : faites une nouvelle pré-demande sur le site de l'ANTS.",
    "unknown": "Ce numéro de pré-demande est inconnu de l'ANTS : vérifiez-le.",
}


@dataclass(frozen=True)
class SlotQuery:
    procedure: Procedure
    people: int
    first: date
    last: date
    limit: int = 50
    part_of_day: str | None = None  # "morning" (before noon) or "afternoon"
    meeting_point_id: str | None = None


class BookingService:
    def __init__(self, town: TownFile, store: Store, clock: Clock, ants: AntsCoordination, *,
                 public_url: str, closure_cache_s: float = 5.0) -> None:
        self.town = town
        self.store = store
        self.clock = clock
        self.ants = ants
        self.public_url = public_url.rstrip("/")
        self._closure_cache_s = closure_cache_s
        self._calendars: dict[str, tuple[float, Calendar]] = {}

    # --- meeting points and calendars ----------------------------------------------------------------------
    def meeting_point(self, meeting_point_id: str | None) -> MeetingPoint:
        if meeting_point_id is None:
            return self.town.meeting_points[0]
        found = self.town.meeting_point(meeting_point_id)
        if found is None:
            raise InvalidRequest("Lieu de rendez-vous inconnu.", code="unknown_meeting_point")
        return found

    def meeting_point_of_slot(self, slot_id: str) -> MeetingPoint:
        found = self.town.meeting_point(slot_id.rpartition(".")[0])
        if found is None:
            raise InvalidRequest("Identifiant de créneau invalide.", code="invalid_slot")
        return found

    async def calendar(self, meeting_point_id: str | None = None) -> Calendar:
        """The calendar with closures added by staff (cached a few seconds; shared by replicas via the DB)."""
        mp = self.meeting_point(meeting_point_id)
        cached = self._calendars.get(mp.id)
        if cached and monotonic_time.monotonic() - cached[0] < self._closure_cache_s:
            return cached[1]
        calendar = Calendar(mp, await self.store.closures(mp.id))
        self._calendars[mp.id] = (monotonic_time.monotonic(), calendar)
        return calendar

    def management_url(self, reference: str) -> str:
        return f"{self.public_url}/rendez-vous/{reference}"

    # --- availability --------------------------------------------------------------------------------------
    def _bookable_window(self, calendar: Calendar) -> tuple[datetime, datetime]:
        now = self.clock.now().astimezone(calendar.tz)
        schedule = calendar.schedule
        earliest = now + timedelta(minutes=schedule.min_notice_minutes)
        latest = datetime.combine(now.date() + timedelta(days=schedule.horizon_days), time.max, tzinfo=calendar.tz)
        return earliest, latest

    async def list_slots(self, query: SlotQuery) -> list[Slot]:
        if query.last < query.first:
            raise InvalidRequest("La date de fin précède la date de début.", code="invalid_range")
        if (query.last - query.first).days > MAX_RANGE_DAYS:
            raise InvalidRequest(f"Cherchez sur {MAX_RANGE_DAYS} jours au plus.", code="range_too_long")
        calendar = await self.calendar(query.meeting_point_id)
        units = calendar.units_needed(query.procedure, query.people)
        earliest, latest = self._bookable_window(calendar)
        first = max(query.first, earliest.date())
        last = min(query.last, latest.date())
        if last < first:
            return []
        window_start = datetime.combine(first, time.min, tzinfo=calendar.tz)
        window_end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=calendar.tz)
        busy = await self.store.busy_units(calendar.meeting_point.id, window_start, window_end, self.clock.now())
        slots: list[Slot] = []
        for start in calendar.starts_between(first, last, units):
            if start < earliest:
                continue
            if query.part_of_day == "morning" and start.hour >= 12:
                continue
            if query.part_of_day == "afternoon" and start.hour < 12:
                continue
            wanted = [epoch(u) for u in calendar.unit_starts(start, units)]
            free = sum(1 for c in calendar.counter_ids if not busy.get(c, set()).intersection(wanted))
            if free:
                slots.append(Slot(calendar.meeting_point.id, start, calendar.end_of(start, units), units, free))
                if len(slots) >= query.limit:
                    break
        return slots

    async def _claim(self, slot_id: str, procedure: Procedure, people: int) -> tuple[Calendar, Claim]:
        """Check that ``slot_id`` is a bookable start for this many people, and what it occupies."""
        mp = self.meeting_point_of_slot(slot_id)
        try:
            naive = datetime.strptime(slot_id.rpartition(".")[2], "%Y%m%d%H%M")
        except ValueError:
            raise InvalidRequest("Identifiant de créneau invalide.", code="invalid_slot") from None
        calendar = await self.calendar(mp.id)
        start = naive.replace(tzinfo=calendar.tz)
        units = calendar.units_needed(procedure, people)
        earliest, latest = self._bookable_window(calendar)
        if not (earliest <= start <= latest) or not calendar.is_valid_start(start, units):
            raise SlotTaken("Ce créneau n'est pas (ou plus) disponible pour ce nombre de personnes.",
                            code="slot_unavailable")
        claim = Claim(mp.id, calendar.unit_starts(start, units), calendar.end_of(start, units),
                      calendar.counter_ids)
        return calendar, claim

    async def hold(self, slot_id: str, procedure: Procedure, people: int) -> Hold:
        calendar, claim = await self._claim(slot_id, procedure, people)
        now = self.clock.now()
        expires = now + timedelta(seconds=calendar.schedule.hold_seconds)
        return await self.store.hold(claim, "h_" + secrets.token_urlsafe(18), expires, now)

    # --- booking -------------------------------------------------------------------------------------------
    async def _check_applications(self, ids: Sequence[str]) -> tuple[AntsSync, list[str]]:
        """Ask ANTS about the pré-demande numbers before booking; unreachable means book and flag."""
        if not ids:
            return AntsSync.NONE, []
        try:
            statuses = await self.ants.status(ids)
        except AntsUnavailable as exc:
            log.warning("ANTS status check failed, booking flagged for staff: %s", exc)
            return AntsSync.PENDING, []
        warnings = []
        for application_id in ids:
            status = statuses[application_id]
            if status.status in _REFUSED:
                raise ApplicationRefused(f"{application_id} : {_REFUSED[status.status]}")
            for other in status.appointments:
                warnings.append(
                    f"Le numéro {application_id} a déjà un rendez-vous le {other.appointment_date} "
                    f"({other.meeting_point}). Pensez à l'annuler : {other.management_url}")
        return AntsSync.NONE, warnings

    async def check_applications(self, ids: Sequence[str]) -> tuple[str, list[dict[str, object]]]:
        """What ANTS says of each pré-demande number before booking: ("checked" | "unavailable" | "disabled", rows).

        Each row: id, status (validated, consumed, expired, unknown…), ok (bookable), message (French, when not ok
        or when another appointment exists), existing (appointments elsewhere for that number).
        """
        if not self.ants.enabled:
            return "disabled", [{"id": a, "status": "not_checked", "ok": True, "message": None, "existing": []}
                                for a in ids]
        try:
            statuses = await self.ants.status(ids)
        except AntsUnavailable as exc:
            log.warning("ANTS status check failed: %s", exc)
            return "unavailable", [{"id": a, "status": "not_checked", "ok": True, "message": None, "existing": []}
                                   for a in ids]
        rows: list[dict[str, object]] = []
        for application_id in ids:
            status = statuses[application_id]
            existing = [{"meeting_point": o.meeting_point, "date": o.appointment_date,
                         "management_url": o.management_url} for o in status.appointments]
            message = _REFUSED.get(status.status)
            if message is None and existing:
                first = existing[0]
                message = (f"Ce numéro a déjà un rendez-vous le {first['date']} ({first['meeting_point']}) :"
                           " pensez à l'annuler si vous en prenez un nouveau.")
            rows.append({"id": application_id, "status": status.status, "ok": status.status not in _REFUSED,
                         "message": message, "existing": existing})
        return "checked", rows

    def _declarations(self, appointment: Appointment) -> list[Declaration]:
        mp = self.meeting_point(appointment.meeting_point_id)
        local = appointment.start.astimezone(mp.schedule.tz).replace(tzinfo=None)
        return [Declaration(a, mp.name, mp.id, local, self.management_url(appointment.reference))
                for a in appointment.application_ids]

    async def _sync_ants(self, appointment: Appointment, *, delete: bool) -> Appointment:
        if not appointment.application_ids or not self.ants.enabled:
            return appointment
        try:
            for declaration in self._declarations(appointment):
                await (self.ants.delete if delete else self.ants.declare)(declaration)
            state = AntsSync.DELETED if delete else AntsSync.DECLARED
        except AntsUnavailable as exc:
            log.warning("ANTS %s failed for %s, flagged for staff: %s",
                        "delete" if delete else "declare", appointment.reference, exc)
            state = AntsSync.PENDING
        await self.store.set_ants_sync(appointment.reference, state)
        return _replace_sync(appointment, state)

    async def book(self, slot_id: str, request: NewAppointment, *, idempotency: tuple[str, str] | None = None,
                   hold_id: str | None = None) -> BookResult:
        _, claim = await self._claim(slot_id, request.procedure, request.people)
        sync, warnings = await self._check_applications(request.application_ids)
        if request.application_ids and sync is AntsSync.NONE and self.ants.enabled:
            sync = AntsSync.PENDING  # until the declaration below succeeds
        result = await self.store.book(request, claim, self.clock.now(), idempotency=idempotency,
                                       hold_id=hold_id, ants_sync=sync, warnings=warnings)
        appointment = result.appointment
        if not result.replayed:
            log.info("booked %s at %s for %d person(s), phone %s, channel %s", appointment.reference,
                     appointment.start.isoformat(), appointment.people, mask_phone(appointment.phone),
                     appointment.channel)
            if sync is AntsSync.PENDING and request.application_ids:
                appointment = await self._sync_ants(appointment, delete=False)
        return BookResult(appointment, result.replayed)

    async def find(self, reference: str, phone: str) -> Appointment:
        return await self.store.find(reference, phone)

    async def cancel(self, reference: str, phone: str) -> Appointment:
        appointment = await self.store.cancel(reference, phone, self.clock.now())
        log.info("cancelled %s", reference)
        return await self._sync_ants(appointment, delete=True)

    async def reschedule(self, reference: str, phone: str, slot_id: str) -> Appointment:
        current = await self.store.find(reference, phone)
        _, claim = await self._claim(slot_id, current.procedure, current.people)
        moved = await self.store.reschedule(reference, phone, claim, self.clock.now())
        log.info("rescheduled %s to %s", reference, moved.start.isoformat())
        if moved.application_ids and self.ants.enabled:
            await self._sync_ants(current, delete=True)
            moved = await self._sync_ants(moved, delete=False)
        return moved

    # --- staff ---------------------------------------------------------------------------------------------
    async def day(self, day: date, meeting_point_id: str | None = None) -> list[Appointment]:
        calendar = await self.calendar(meeting_point_id)
        start = datetime.combine(day, time.min, tzinfo=calendar.tz)
        return await self.store.appointments_between(calendar.meeting_point.id, start, start + timedelta(days=1))

    async def set_status(self, reference: str, status: Status) -> Appointment:
        return await self.store.set_status(reference, status, self.clock.now())

    async def add_closure(self, closure: Closure, meeting_point_id: str | None = None) -> list[Appointment]:
        """Close the service on those days; returns the booked appointments staff must now call back."""
        mp = self.meeting_point(meeting_point_id)
        await self.store.add_closure(mp.id, closure, self.clock.now())
        self._calendars.pop(mp.id, None)
        start = datetime.combine(closure.start, time.min, tzinfo=mp.schedule.tz)
        end = datetime.combine(closure.end + timedelta(days=1), time.min, tzinfo=mp.schedule.tz)
        booked = await self.store.appointments_between(mp.id, start, end)
        return [a for a in booked if a.status is Status.BOOKED]


def _replace_sync(appointment: Appointment, state: AntsSync) -> Appointment:
    return replace(appointment, ants_sync=state)

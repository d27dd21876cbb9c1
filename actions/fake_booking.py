"""An in-memory BookingClient for unit tests of the actions (the HTTP client is tested against the real app)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta

from actions.booking_client import (
    ApplicationCheck,
    AppointmentNotFound,
    Booked,
    BookingRejected,
    BookingUnavailable,
    SlotOffer,
    SlotTaken,
    TooManyAttempts,
)
from guichet.clock import PARIS
from knowledge.town import Closure


@dataclass
class FakeBooking:
    """Slots every 15 minutes, 9:00–12:00 on weekdays; `down` makes every call fail like an unreachable backend."""

    slots: list[SlotOffer] = field(default_factory=list)
    appointments: dict[str, Booked] = field(default_factory=dict)
    refused_ids: dict[str, str] = field(default_factory=dict)
    down: bool = False
    calls: list[str] = field(default_factory=list)
    # Like the real backend's limit: after this many wrong guesses on one reference, lookups are refused.
    wrong_guesses_allowed: int = 5
    clients: list[str | None] = field(default_factory=list)
    closed: list[Closure] = field(default_factory=list)  # closures staff added
    _wrong: dict[str, int] = field(default_factory=dict)
    _references: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @classmethod
    def weekdays(cls, first: date, days: int = 30) -> FakeBooking:
        slots = []
        for offset in range(days):
            day = first + timedelta(days=offset)
            if day.weekday() >= 5:
                continue
            for minutes in range(9 * 60, 12 * 60, 15):
                start = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=PARIS)
                slots.append(SlotOffer(f"hotel-de-ville.{start:%Y%m%d%H%M}", start, start + timedelta(minutes=15)))
        return cls(slots=slots)

    def _check(self, call: str) -> None:
        self.calls.append(call)
        if self.down:
            raise BookingUnavailable("Le service de rendez-vous ne répond pas pour le moment.", "unavailable")

    async def list_slots(self, procedure: str, people: int, first: date, last: date, *,
                         limit: int = 50) -> list[SlotOffer]:
        self._check("list_slots")
        taken = {a.start for a in self.appointments.values() if a.status == "booked"}
        return [s for s in self.slots if first <= s.start.date() <= last and s.start not in taken][:limit]

    async def closures(self) -> list[Closure]:
        self._check("closures")
        return list(self.closed)

    async def check_applications(self, ids: list[str]) -> list[ApplicationCheck]:
        self._check("check_applications")
        return [ApplicationCheck(i, i not in self.refused_ids, self.refused_ids.get(i)) for i in ids]

    async def book(self, slot_id: str, *, procedure: str, people: int, name: str, phone: str,
                   application_ids: list[str], channel: str, idempotency_key: str) -> Booked:
        self._check("book")
        slot = next((s for s in self.slots if s.id == slot_id), None)
        if slot is None or any(a.start == slot.start and a.status == "booked" for a in self.appointments.values()):
            raise SlotTaken("Ce créneau n'est plus disponible.", "slot_taken")
        refused = [i for i in application_ids if i in self.refused_ids]
        if refused:
            raise BookingRejected(self.refused_ids[refused[0]], "application_id_refused")
        reference = f"K7M4QX{next(self._references):02d}".replace("0", "A").replace("1", "B")
        booked = Booked(reference, slot.start, slot.end, procedure, people, name, phone, "booked",
                        tuple(application_ids), (), "Hôtel de ville, 1 place de la Mairie",
                        f"http://127.0.0.1:8085/rendez-vous/{reference}")
        self.appointments[reference] = booked
        return booked

    def _own(self, reference: str, phone: str, client: str | None) -> Booked:
        self.clients.append(client)
        if self._wrong.get(reference, 0) >= self.wrong_guesses_allowed:
            raise TooManyAttempts("Trop d'essais infructueux. Par sécurité, réessayez dans 15 minutes.",
                                  "too_many_attempts")
        booked = self.appointments.get(reference)
        if booked is None or booked.phone.replace(" ", "") != phone.replace(" ", ""):
            self._wrong[reference] = self._wrong.get(reference, 0) + 1
            raise AppointmentNotFound("Rendez-vous introuvable.", "appointment_not_found")
        return booked

    async def find(self, reference: str, phone: str, *, client: str | None = None) -> Booked:
        self._check("find")
        return self._own(reference, phone, client)

    async def cancel(self, reference: str, phone: str, *, client: str | None = None) -> Booked:
        self._check("cancel")
        booked = replace(self._own(reference, phone, client), status="cancelled")
        self.appointments[reference] = booked
        return booked

    async def reschedule(self, reference: str, phone: str, slot_id: str, *, client: str | None = None) -> Booked:
        self._check("reschedule")
        booked = self._own(reference, phone, client)
        slot = next((s for s in self.slots if s.id == slot_id), None)
        if slot is None:
            raise SlotTaken("Ce créneau n'est plus disponible.", "slot_taken")
        moved = replace(booked, start=slot.start, end=slot.end)
        self.appointments[reference] = moved
        return moved

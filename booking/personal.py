"""A citizen's rights over their booking data (GDPR access and erasure, by phone number) and the retention purge.

Erasure cancels the citizen's future appointments first (freeing the slots and telling ANTS), then removes name,
phone, e-mail and pré-demande numbers from every appointment of theirs. The purge does the same, every day, for
appointments that ended more than ``retention_days`` ago.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web

from booking.domain import Appointment, Status
from booking.keys import SERVICE, SETTINGS
from booking.service import BookingService

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Erasure:
    erased: list[str]
    cancelled: list[str]


async def export(service: BookingService, phone: str) -> list[Appointment]:
    return await service.store.appointments_of(phone)


async def erase(service: BookingService, phone: str) -> Erasure:
    now = service.clock.now()
    mine = await service.store.appointments_of(phone)
    cancelled = []
    for appointment in mine:
        if appointment.status is Status.BOOKED and appointment.start > now:
            await service.cancel(appointment.reference, phone)
            cancelled.append(appointment.reference)
    references = [a.reference for a in mine]
    await service.store.anonymize(references, now)
    log.info("personal data erased from %d appointment(s), %d cancelled", len(references), len(cancelled))
    return Erasure(references, cancelled)


async def purge(service: BookingService, retention_days: int) -> int:
    now = service.clock.now()
    references = await service.store.ended_before(now - timedelta(days=retention_days))
    count = await service.store.anonymize(references, now)
    if count:
        log.info("retention: personal data removed from %d appointment(s) older than %d days", count,
                 retention_days)
    return count


async def retention(app: web.Application) -> AsyncIterator[None]:
    """``cleanup_ctx``: purge at start-up, then once a day, while the backend runs."""

    async def daily() -> None:
        while True:
            try:
                await purge(app[SERVICE], app[SETTINGS].retention_days)
            except Exception:
                log.exception("retention purge failed; retried in an hour")
                await asyncio.sleep(3600)
                continue
            await asyncio.sleep(24 * 3600)

    task = asyncio.create_task(daily())
    yield
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass

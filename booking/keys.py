"""Typed application state (``web.AppKey``) of the booking backend."""

from __future__ import annotations

from aiohttp import web

from booking.service import BookingService
from booking.settings import BookingSettings
from guichet.ratelimit import FailureLimiter

SERVICE = web.AppKey("service", BookingService)
SETTINGS = web.AppKey("settings", BookingSettings)
LIMITER = web.AppKey("limiter", FailureLimiter)

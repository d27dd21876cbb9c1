"""Typed application state (``web.AppKey``) of the desk service."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from guichet.clock import Clock
from guichet.ratelimit import FailureLimiter
from knowledge.facts import Facts
from knowledge.town import TownFile
from web.appointments import CitizenAppointments
from web.auth import Passwords, Sessions
from web.hub import Hub
from web.rasa import RasaClient
from web.settings import DeskSettings
from web.staff import StaffClient
from web.store import DeskStore

SETTINGS = web.AppKey("settings", DeskSettings)
CLOCK = web.AppKey("clock", Clock)
STORE = web.AppKey("store", DeskStore)
PASSWORDS = web.AppKey("passwords", Passwords)
SESSIONS = web.AppKey("sessions", Sessions)
LIMITER = web.AppKey("login_limiter", FailureLimiter)
HUB = web.AppKey("hub", Hub)
RASA = web.AppKey("rasa", RasaClient)
STAFF = web.AppKey("staff", StaffClient)
HTTP = web.AppKey("http", aiohttp.ClientSession)
APPOINTMENTS = web.AppKey("appointments", CitizenAppointments)
FACTS = web.AppKey("facts", Facts)
TOWN = web.AppKey("town", TownFile)

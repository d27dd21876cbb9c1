"""Schema of ``town.yaml``: the town, its meeting points, counters and the identity-documents schedule."""

from __future__ import annotations

from datetime import date, time
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
Procedure = Literal["passport", "cni", "both"]


def _one_unit_each() -> dict[Procedure, int]:
    return {"passport": 1, "cni": 1, "both": 1}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Interval(_Strict):
    """Opening interval within one day, local time."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> Interval:
        try:
            start, end = (time.fromisoformat(part.strip()) for part in text.split("-"))
        except ValueError as exc:
            raise ValueError(f"plage horaire invalide {text!r}, attendu par exemple '08:30-12:00'") from exc
        return cls(start=start, end=end)

    @model_validator(mode="after")
    def _ordered(self) -> Interval:
        if self.end <= self.start:
            raise ValueError(f"la fin {self.end} doit suivre le début {self.start}")
        return self


class Closure(_Strict):
    """Exceptional closure, dates inclusive."""

    start: date
    end: date
    reason: str

    @model_validator(mode="after")
    def _ordered(self) -> Closure:
        if self.end < self.start:
            raise ValueError(f"fermeture : la fin {self.end} précède le début {self.start}")
        return self


class Holidays(_Strict):
    country: str = "FR"
    subdivision: str | None = None


class Schedule(_Strict):
    """How the identity-documents service takes appointments at one meeting point."""

    timezone: str = "Europe/Paris"
    holidays: Holidays = Holidays()
    slot_minutes: int = Field(15, ge=5, le=120)
    units_per_person: dict[Procedure, int] = Field(default_factory=_one_unit_each)
    max_people: int = Field(6, ge=1, le=10)
    min_notice_minutes: int = Field(120, ge=0)
    horizon_days: int = Field(90, ge=1, le=730)
    hold_seconds: int = Field(300, ge=10, le=3600)
    cancel_until_hours: int = Field(4, ge=0, le=168)
    """Online (the citizen's page), an appointment may be cancelled until this many hours before it."""
    move_until_days: int = Field(2, ge=0, le=30)
    """Online, an appointment may be moved until this many days before it; later, the page says whom to call."""
    weekly_hours: dict[str, tuple[Interval, ...]]
    closures: tuple[Closure, ...] = ()

    @field_validator("weekly_hours", mode="before")
    @classmethod
    def _parse_hours(cls, value: object) -> object:
        if not isinstance(value, dict):
            return value
        unknown = set(value) - set(WEEKDAYS)
        if unknown:
            raise ValueError(f"jours inconnus : {sorted(unknown)} (attendu : {', '.join(WEEKDAYS)})")
        return {
            day: tuple(Interval.parse(i) if isinstance(i, str) else i for i in (value.get(day) or ()))
            for day in WEEKDAYS
        }

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"fuseau horaire inconnu : {value!r}") from None
        return value

    @field_validator("units_per_person")
    @classmethod
    def _all_procedures(cls, value: dict[str, int]) -> dict[str, int]:
        missing = {"passport", "cni", "both"} - set(value)
        if missing or any(v < 1 for v in value.values()):
            raise ValueError("units_per_person : passport, cni et both, chacun au moins 1")
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class Counter(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    name: str


class MeetingPoint(_Strict):
    """A place where applications are filed (ANTS's "meeting point"), with its counters and schedule."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,47}$")
    name: str
    address: str
    zip_code: str
    city_name: str
    latitude: float
    longitude: float
    website: str = ""
    logo: str = ""
    counters: tuple[Counter, ...] = Field(min_length=1)
    schedule: Schedule


class Town(_Strict):
    name: str
    website: str = ""
    phone: str = ""
    email: str = ""


class TownFile(_Strict):
    """The whole of ``town.yaml``."""

    example: bool = False
    source: str
    checked: date
    town: Town
    meeting_points: tuple[MeetingPoint, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> TownFile:
        ids = [mp.id for mp in self.meeting_points]
        if len(ids) != len(set(ids)):
            raise ValueError("identifiants de lieux en double")
        return self

    def meeting_point(self, meeting_point_id: str) -> MeetingPoint | None:
        return next((mp for mp in self.meeting_points if mp.id == meeting_point_id), None)

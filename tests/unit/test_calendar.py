"""The time grid: opening hours, holidays, closures, daylight-saving changes, consecutive units."""

from __future__ import annotations

from datetime import date, datetime

from booking.domain import Procedure
from guichet.clock import PARIS
from knowledge.calendar import Calendar, epoch
from knowledge.town import Closure, MeetingPoint, TownFile


def _calendar(town: TownFile, **schedule_changes: object) -> Calendar:
    mp = town.meeting_points[0]
    if schedule_changes:
        mp = MeetingPoint.model_validate({**mp.model_dump(), "schedule": {**mp.schedule.model_dump(),
                                                                          **schedule_changes}})
    return Calendar(mp)


def test_public_holidays_and_closures(town: TownFile) -> None:
    calendar = _calendar(town)
    assert calendar.day_status(date(2027, 5, 6)).reason == "jour férié (Ascension)"
    assert not calendar.day_status(date(2027, 7, 14)).open
    assert calendar.day_status(date(2027, 8, 10)).reason == "Fermeture estivale du service Titres d'identité"
    assert calendar.day_status(date(2027, 3, 26)).open  # Good Friday is a working day outside Alsace-Moselle
    assert not calendar.day_status(date(2026, 11, 29)).open  # Sunday


def test_alsace_moselle_adds_good_friday(town: TownFile) -> None:
    calendar = _calendar(town, holidays={"country": "FR", "subdivision": "57"})
    assert not calendar.day_status(date(2027, 3, 26)).open
    assert not calendar.day_status(date(2026, 12, 26)).open


def test_daylight_saving_change_keeps_wall_clock_hours(town: TownFile) -> None:
    calendar = _calendar(town)
    before = list(calendar.starts_on(date(2027, 3, 27), 1))  # Saturday, last day of winter time
    after = list(calendar.starts_on(date(2027, 3, 30), 1))  # Tuesday after the change (Monday is Easter Monday)
    assert before[0].isoformat() == "2027-03-27T09:00:00+01:00"
    assert after[0].isoformat() == "2027-03-30T08:30:00+02:00"
    assert epoch(after[1]) - epoch(after[0]) == 15 * 60


def test_consecutive_units_stay_inside_one_opening_interval(town: TownFile) -> None:
    calendar = _calendar(town)
    units = calendar.units_needed(Procedure.PASSPORT, 4)
    starts = list(calendar.starts_on(date(2026, 12, 1), units))
    assert all(calendar.end_of(s, units).hour <= 12 or s.hour >= 13 for s in starts)
    assert starts[-1].isoformat() == "2026-12-01T16:30:00+01:00"
    assert calendar.unit_starts(starts[0], units)[-1].isoformat() == "2026-12-01T09:15:00+01:00"
    assert calendar.is_valid_start(datetime(2026, 12, 1, 11, 0, tzinfo=PARIS), units)
    assert not calendar.is_valid_start(datetime(2026, 12, 1, 11, 15, tzinfo=PARIS), units)


def test_units_per_person_by_procedure(town: TownFile) -> None:
    calendar = _calendar(town, units_per_person={"passport": 1, "cni": 1, "both": 2})
    assert calendar.units_needed(Procedure.BOTH, 3) == 6
    assert calendar.units_needed(Procedure.CNI, 3) == 3


def test_extra_closures_from_staff(town: TownFile) -> None:
    calendar = Calendar(town.meeting_points[0], [Closure(start=date(2026, 12, 2), end=date(2026, 12, 2),
                                                         reason="Formation")])
    assert calendar.day_status(date(2026, 12, 2)).reason == "Formation"
    assert list(calendar.starts_on(date(2026, 12, 2), 1)) == []

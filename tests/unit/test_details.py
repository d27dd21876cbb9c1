"""Once-only reading of a citizen's message: every detail it carries, from the table tests/data/details_fr.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker

from actions.details import read
from actions.once_only import slot_events

ROWS: list[dict[str, Any]] = yaml.safe_load((Path(__file__).parents[1] / "data" / "details_fr.yaml").read_text())


@pytest.mark.parametrize("row", ROWS, ids=[f"{r['text'][:40]}|{r.get('asked', '')}" for r in ROWS])
def test_every_detail_of_the_message_and_nothing_else(row: dict[str, Any]) -> None:
    expected = {k: (str(v) if k == "person_name" else v) for k, v in row["expect"].items()}
    if "predemande_ids" in expected:
        expected["predemande_ids"] = [str(i) for i in expected["predemande_ids"]]
    assert read(row["text"], row.get("asked")).slots() == expected


def _tracker(slots: dict[str, Any]) -> Tracker:
    return Tracker("s", slots, {}, [], False, None, None, "")


def test_a_question_only_fills_what_is_not_known_yet() -> None:
    details = read("combien coûte une carte d'identité pour un enfant de 8 ans ?")
    changes = slot_events(_tracker({"procedure": "passport"}), details, "ask_fees")
    assert changes == {"people": 1, "age_group": "mineur", "child_age": 8}


def test_details_said_without_a_question_change_the_booking_whatever_the_intent() -> None:
    tracker = _tracker({"procedure": "cni", "chosen_slot": {"id": "x"}, "proposals": {"items": []}})
    details = read("ah non en fait passeport et carte d'identité")
    assert slot_events(tracker, details, "ask_procedure", asked=True) == {}  # as a question: what is known stays
    assert slot_events(tracker, details, "ask_procedure", asked=False) == {
        "procedure": "both", "chosen_slot": None, "proposals": None, "booking_confirmed": None}


def test_a_new_title_drops_the_slot_chosen_for_the_old_one() -> None:
    tracker = _tracker({"procedure": "cni", "chosen_slot": {"id": "x"}, "proposals": {"items": []}})
    changes = slot_events(tracker, read("non c'est passeport et carte d'identité"), "inform")
    assert changes == {"procedure": "both", "chosen_slot": None, "proposals": None, "booking_confirmed": None}


def test_several_numbers_say_how_many_people() -> None:
    changes = slot_events(_tracker({}), read("AB12CD34EF et 12AB34CD56"), "inform")
    assert changes["people"] == 2 and changes["predemande_ids"] == ["AB12CD34EF", "12AB34CD56"]


def test_what_is_already_known_is_not_set_again() -> None:
    assert slot_events(_tracker({"procedure": "passport"}), read("un passeport"), "inform") == {}

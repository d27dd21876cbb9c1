"""The Rasa component resolves `time` entities with nlu.dates inside the dialogue server's environment."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

from rasa.shared.nlu.training_data.message import Message

from nlu.components.dates import FrenchDateResolver
from nlu.dates import PARIS

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=PARIS)  # a Wednesday


def _component() -> FrenchDateResolver:
    component = FrenchDateResolver(FrenchDateResolver.get_default_config())
    component.clock = lambda: NOW  # type: ignore[method-assign]
    return component


def _run(text: str, entities: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    message = Message(data={"text": text, "entities": entities or []})
    _component().process([message])
    return message.get("entities")


def test_runs_on_python_310() -> None:
    assert sys.version_info[:2] == (3, 10)


def test_resolves_the_span_diet_found() -> None:
    text = "je voudrais un rdv mardi prochain en fin de matinée"
    start = text.index("mardi")
    entities = _run(text, [{"entity": "time", "start": start, "end": len(text), "value": text[start:],
                            "extractor": "DIETClassifier"}])
    assert len(entities) == 1
    value = entities[0]["value"]
    assert entities[0]["start"] == start and entities[0]["end"] == len(text)
    assert value["windows"] == [{"start": "2026-12-01T11:00:00+01:00", "end": "2026-12-01T12:00:00+01:00",
                                 "grain": "part_of_day"}]
    assert entities[0]["extractor"] == "DIETClassifier"


def test_adds_an_entity_when_diet_found_none() -> None:
    entities = _run("euh plutôt jeudi quatorze heures")
    assert [e["entity"] for e in entities] == ["time"]
    assert entities[0]["extractor"] == "FrenchDateResolver"
    assert entities[0]["value"]["windows"][0]["start"] == "2026-11-26T14:00:00+01:00"


def test_parts_diet_cut_apart_are_read_together() -> None:
    text = "je voudrais un rdv pour 1 personne mardi prochain le matin"
    day, part = text.index("mardi"), text.index("le matin")
    entities = _run(text, [
        {"entity": "time", "start": day, "end": day + len("mardi prochain"), "value": "mardi prochain",
         "extractor": "DIETClassifier"},
        {"entity": "time", "start": part, "end": len(text), "value": "le matin", "extractor": "DIETClassifier"},
        {"entity": "people", "start": 24, "end": 25, "value": "1", "extractor": "DIETClassifier"},
    ])
    assert [e["entity"] for e in entities] == ["people", "time"]
    merged = entities[1]
    assert (merged["start"], merged["end"]) == (day, len(text))
    assert merged["value"]["windows"] == [{"start": "2026-12-01T06:00:00+01:00", "end": "2026-12-01T12:00:00+01:00",
                                           "grain": "part_of_day"}]


def test_a_time_without_a_day_becomes_a_daily_range() -> None:
    text = "xyz 10h"
    entities = _run(text, [{"entity": "time", "start": 4, "end": 7, "value": "10h", "extractor": "DIETClassifier"}])
    assert entities[0]["value"]["daily"] == [{"start": "10:00", "end": "11:00"}]


def test_ambiguity_reaches_the_dialogue() -> None:
    value = _run("vendredi prochain")[0]["value"]
    assert value["ambiguous"] is True
    assert [r[0]["start"][:10] for r in value["readings"]] == ["2026-11-27", "2026-12-04"]


def test_leaves_other_entities_and_plain_messages_alone() -> None:
    other = {"entity": "people", "start": 0, "end": 4, "value": "deux", "extractor": "DIETClassifier"}
    assert _run("deux personnes", [dict(other)]) == [other]
    assert _run("bonjour") == []


def test_past_dates_are_kept_with_their_problem() -> None:
    value = _run("hier")[0]["value"]
    assert value["windows"] == [] and value["problem"] == "past"

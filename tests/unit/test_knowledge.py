"""The town file is validated at load: a bad file fails loudly, naming the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from knowledge.loader import DEFAULT_DIR, KnowledgeError, load_town


def _write(tmp_path: Path, change: dict[str, object]) -> Path:
    data = yaml.safe_load((DEFAULT_DIR / "town.yaml").read_text(encoding="utf-8"))
    schedule = data["meeting_points"][0]["schedule"]
    schedule.update(change)
    (tmp_path / "town.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return tmp_path


def test_example_town_loads_and_is_marked_as_example() -> None:
    town = load_town()
    assert town.example and "exemple" in town.town.name
    assert town.source and town.checked
    assert len(town.meeting_points[0].counters) == 2


@pytest.mark.parametrize(("change", "fragment"), [
    ({"weekly_hours": {"monday": ["12:00-08:00"]}}, "weekly_hours"),
    ({"weekly_hours": {"lundi": ["08:00-12:00"]}}, "jours inconnus"),
    ({"weekly_hours": {"monday": ["8h-12h"]}}, "plage horaire invalide"),
    ({"slot_minutes": 0}, "slot_minutes"),
    ({"timezone": "Europe/Nowhere"}, "timezone"),
    ({"closures": [{"start": "2026-12-10", "end": "2026-12-01", "reason": "x"}]}, "closures"),
    ({"units_per_person": {"passport": 1}}, "units_per_person"),
])
def test_bad_town_files_are_refused_with_file_and_field(tmp_path: Path, change: dict[str, object],
                                                         fragment: str) -> None:
    with pytest.raises(KnowledgeError) as error:
        load_town(_write(tmp_path, change))
    assert str(tmp_path / "town.yaml") in str(error.value)
    assert fragment in str(error.value)


def test_broken_yaml(tmp_path: Path) -> None:
    (tmp_path / "town.yaml").write_text("town: [unclosed", encoding="utf-8")
    with pytest.raises(KnowledgeError, match="YAML invalide"):
        load_town(tmp_path)

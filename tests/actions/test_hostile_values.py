"""Every action and every form validator survives hostile slot values and hostile messages.

Slots can hold anything a message can carry: Rasa's ``/intent{"slot": …}`` syntax and global slot mappings put
arbitrary JSON into them. An exception in the action server leaves the citizen without an answer, so each action
is run with each hostile value in every slot, and each ``validate_*``/``extract_*`` method with each value/message.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import traceback
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction

import actions
from actions.deps import ActionSettings, Deps, use
from actions.fake_booking import FakeBooking
from clients.tickets import SqliteTicketStore
from guichet.clock import FrozenClock
from tests.actions.test_booking_flow import NOW

ROOT = Path(__file__).resolve().parents[2]
SLOTS = list(yaml.safe_load((ROOT / "bot" / "domain" / "core.yml").read_text(encoding="utf-8"))["slots"])
HOSTILE: list[Any] = [None, -5, 0, 10**20, 3.5, float("nan"), True, "", " ", "x" * 5000, "<script>alert(1)</script>",
                      "'; DROP TABLE x; --", {"$gt": ""}, [], [None], [1, "a", {}], {"windows": "x"},
                      {"id": 5, "start": "hier"}, {"start": "2026-13-45T99:00"}, "\u0000\u202e", "😀" * 100,
                      "06\udba8 12 34 56 78", ["\ud800"], {"windows": [{"start": "\udfff"}]}]
MESSAGES = ["", "x" * 5000, "<img src=x onerror=alert(1)>", "\u0000\x1b[31m", "مرحبا", "06 12 34 56 78 90 12",
            "/inform{\"people\": -5}", "le 99 13 à 25h", "😀", "a\udf7b 3 ans \ud800"]


def _classes() -> list[type[Action]]:
    found: dict[str, type[Action]] = {}
    for module_info in pkgutil.iter_modules(actions.__path__):
        module = importlib.import_module(f"actions.{module_info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Action) and cls.__module__ == module.__name__ and not inspect.isabstract(cls):
                try:
                    found[cls().name()] = cls
                except (TypeError, NotImplementedError):
                    continue
    return [found[name] for name in sorted(found)]


ACTIONS = _classes()


@pytest.fixture(autouse=True)
def installed(tmp_path: Path) -> Iterator[Deps]:
    deps = Deps(ActionSettings(data_dir=tmp_path), clock=FrozenClock(NOW),
                booking=FakeBooking.weekdays(date(2026, 11, 26)),
                tickets=SqliteTicketStore(tmp_path / "tickets.sqlite3"))
    use(deps)
    yield deps
    use(None)


def _tracker(slots: dict[str, Any], text: str = "oui", form: str | None = None) -> Tracker:
    latest = {"text": text, "intent": {"name": "inform", "confidence": 0.9}, "entities": [], "metadata": {}}
    events = [{"event": "user", "text": text, "parse_data": latest, "input_channel": "rest", "metadata": {}}]
    return Tracker("hostile-1", slots, latest, events, False, None, {"name": form} if form else {}, "action_listen")


def _where(exc: Exception) -> str:
    """The deepest project frame of the crash (``actions/manage.py:93``)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f"{ROOT}/" in f.filename
              and "/tests/" not in f.filename]
    return f"{Path(frames[-1].filename).relative_to(ROOT)}:{frames[-1].lineno}" if frames else "?"


def test_every_action_module_was_found() -> None:
    names = {cls().name() for cls in ACTIONS}
    assert {"action_handoff", "validate_booking_form", "action_book_appointment"} <= names, names


@pytest.mark.parametrize("cls", ACTIONS, ids=lambda cls: cls().name())
async def test_actions_answer_whatever_the_slots_hold(cls: type[Action]) -> None:
    failures = []
    for value in HOSTILE:
        for slot in [*SLOTS, "requested_slot"]:
            slots = {slot: value, "requested_slot": "phone" if slot != "requested_slot" else value}
            try:
                await cls().run(CollectingDispatcher(), _tracker(slots), {"slots": {}, "forms": {}})
            except Exception as exc:  # the point of the test: report every crash, not the first
                failures.append(f"{_where(exc)} {slot}={str(value)[:40]!r}: {exc.__class__.__name__}: {str(exc)[:80]}")
    assert not failures, f"{cls().name()} crashed {len(failures)} times:\n" + "\n".join(sorted(set(failures))[:30])


FORMS = [cls for cls in ACTIONS if issubclass(cls, FormValidationAction)]


@pytest.mark.parametrize("cls", FORMS, ids=lambda cls: cls().name())
async def test_form_validators_and_extractors_answer_any_value_and_message(cls: type[Action]) -> None:
    form = cls()
    failures = []
    for name, method in inspect.getmembers(form, inspect.ismethod):
        slot = name.removeprefix("validate_").removeprefix("extract_")
        if name.startswith("validate_") and name != "validate_form":
            for value in HOSTILE:
                try:
                    await method(value, CollectingDispatcher(), _tracker({"requested_slot": slot}), {})
                except Exception as exc:
                    failures.append(f"{_where(exc)} {name}({str(value)[:40]!r}): "
                                    f"{exc.__class__.__name__}: {str(exc)[:80]}")
        elif name.startswith("extract_"):
            for text in MESSAGES:
                for value in (None, *HOSTILE[:8]):
                    try:
                        await method(CollectingDispatcher(), _tracker({"requested_slot": slot, "proposals": value},
                                                                      text), {})
                    except Exception as exc:
                        failures.append(f"{_where(exc)} {name}({text[:30]!r}, proposals={str(value)[:30]!r}): "
                                        f"{exc.__class__.__name__}: {str(exc)[:120]}")
    assert not failures, f"{form.name()} crashed {len(failures)} times:\n" + "\n".join(sorted(set(failures))[:30])


def test_the_hand_off_transcript_is_valid_utf8_whatever_was_typed() -> None:
    from actions.handoff import transcript

    lines = transcript(_tracker({}, text="bonjour \udf7b\ud800 fin"))
    assert lines == [{"from": "citoyen", "text": "bonjour ?? fin"}]
    assert lines[0]["text"].encode("utf-8")

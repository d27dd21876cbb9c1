"""The Rasa project itself: its data validates, and the conversation tests (bot/tests) pass on the trained model."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.integration.stack import MODEL, RASA, ROOT

pytestmark = pytest.mark.rasa_env
ENV = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
       "GUICHET_ACTIONS_URL": "http://127.0.0.1:1/webhook"}


def _rasa(*args: str, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    if not RASA.exists():
        pytest.fail(".venv-rasa is missing: run `make test`", pytrace=False)
    return subprocess.run([str(RASA), *args], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=timeout,
                          check=False)


def test_rasa_data_validates() -> None:
    done = _rasa("data", "validate", "--domain", "bot/domain", "--data", "nlu/data", "bot/data",
                 "--config", "bot/config.yml")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]


def test_conversation_stories_pass(tmp_path: Path) -> None:
    if not MODEL.exists():
        pytest.fail(f"No trained model at {MODEL}: `make test` trains it first", pytrace=False)
    done = _rasa("test", "core", "--model", str(MODEL), "--stories", "bot/tests", "--out", str(tmp_path),
                 "--fail-on-prediction-errors", "--endpoints", "bot/endpoints.yml")
    failed = tmp_path / "failed_test_stories.yml"
    details = failed.read_text() if failed.exists() else ""
    assert done.returncode == 0, details[-6000:] + done.stdout[-3000:] + done.stderr[-3000:]
    assert "# None of the test stories failed" in details or not details.strip()

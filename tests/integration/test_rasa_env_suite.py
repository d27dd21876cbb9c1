"""Run the tests that live in the dialogue-server environment (tests/rasa_env, Python 3.10 + Rasa 3.6)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RASA_PY = ROOT / ".venv-rasa" / "bin" / "python"

pytestmark = pytest.mark.rasa_env


def test_rasa_environment_suite_passes() -> None:
    if not RASA_PY.exists():
        pytest.fail(".venv-rasa is missing: run `make test` (it creates both environments)", pytrace=False)
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "SQLALCHEMY_SILENCE_UBER_WARNING": "1"}
    done = subprocess.run(
        [str(RASA_PY), "-m", "pytest", "-q", "-c", "tests/rasa_env/pytest.ini", "tests/rasa_env"],
        cwd=ROOT, capture_output=True, text=True, timeout=900, check=False, env=env,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert " passed" in done.stdout

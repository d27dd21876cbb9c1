"""The voice service's logging: personal data masked like the other services', GUICHET_LOG_LEVEL honoured."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOG_A_NUMBER = ("import logging; from voice.__main__ import main; main(['call']); "
                "logging.getLogger('voice.test').warning('rappel au 06 12 34 56 78 pour Jeanne')")


def _run(env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-c", LOG_A_NUMBER], cwd=ROOT, env={**os.environ, **env},
                          capture_output=True, text=True, timeout=60, check=False)
    return done.stderr


def test_a_phone_number_in_a_voice_log_line_is_masked() -> None:
    out = _run({})
    assert "rappel au" in out and "06 12 34 56 78" not in out, out


def test_the_log_level_setting_is_honoured() -> None:
    assert "rappel au" not in _run({"GUICHET_LOG_LEVEL": "ERROR"})
    assert "GUICHET_LOG_LEVEL" in subprocess.run(
        [sys.executable, "-m", "voice", "call"], cwd=ROOT, env={**os.environ, "GUICHET_LOG_LEVEL": "bavard"},
        capture_output=True, text=True, timeout=60, check=False).stderr

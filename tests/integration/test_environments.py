"""The dialogue-server environment (.venv-rasa, Python 3.10) holds the pinned Rasa stack and is consistent."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RASA_PY = ROOT / ".venv-rasa" / "bin" / "python"

pytestmark = pytest.mark.rasa_env


def _run(*args: str) -> str:
    if not RASA_PY.exists():
        pytest.fail(".venv-rasa is missing: run `make test` (it creates both environments)", pytrace=False)
    done = subprocess.run([str(RASA_PY), *args], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_rasa_env_has_the_pinned_versions() -> None:
    out = _run("-c", "import sys, rasa, rasa_sdk; from importlib.metadata import version as v; "
                     "print(*sys.version_info[:2], rasa.__version__, v('python-socketio'), v('python-engineio'))")
    assert out.split() == ["3", "10", "3.6.21", "5.8.0", "4.4.1"]


def test_rasa_env_dependencies_are_consistent() -> None:
    assert "No broken requirements found" in _run("-m", "pip", "check")


def test_main_env_is_python_311_or_newer() -> None:
    assert sys.version_info >= (3, 11)

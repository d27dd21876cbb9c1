"""``python -m web operator add|list`` and ``python -m web token``, run as processes on a temporary data folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from web.auth import Passwords
from web.store import open_store

ROOT = Path(__file__).resolve().parents[2]


def run(data: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GUICHET_DATA_DIR": str(data)}
    env.pop("GUICHET_DESK_DATABASE_URL", None)
    env.pop("GUICHET_DESK_TOKEN", None)
    return subprocess.run([sys.executable, "-m", "web", *args], cwd=ROOT, env=env, input=stdin, text=True,
                          capture_output=True, timeout=60)


async def test_operators_are_created_from_the_command_line_with_a_hashed_password(tmp_path: Path) -> None:
    created = run(tmp_path, "operator", "add", "marie", "--role", "superviseur", stdin="un mot de passe long\n")
    assert created.returncode == 0 and "marie" in created.stdout, created.stderr
    assert run(tmp_path, "operator", "add", "marie", stdin="un autre mot de passe\n").returncode == 1
    weak = run(tmp_path, "operator", "add", "paul", stdin="court\n")
    assert weak.returncode == 2 and "10 caractères" in weak.stderr
    assert run(tmp_path, "operator", "add", "marie", "--update", stdin="un autre mot de passe\n").returncode == 0
    assert run(tmp_path, "operator", "add", "x", "--role", "chef", stdin="un mot de passe long\n").returncode == 2
    assert run(tmp_path, "operator", "list").stdout.splitlines() == ["marie\tagent"]
    store = open_store(f"sqlite:///{tmp_path / 'desk.sqlite3'}")
    operator = await store.operator(username="marie")
    await store.close()
    assert operator is not None and operator.password_hash.startswith("$argon2id$")
    assert Passwords().verify_now(operator.password_hash, "un autre mot de passe")


def test_the_token_command_prints_the_shared_token_created_once(tmp_path: Path) -> None:
    first = run(tmp_path, "token", "rasa").stdout.strip()
    assert len(first) >= 40 and run(tmp_path, "token", "rasa").stdout.strip() == first
    assert (tmp_path / "rasa.token").read_text().strip() == first
    assert run(tmp_path, "token", "nope").returncode == 2

"""Tokens in the data folder: every service gets the same one, even when two create it at the same moment
(issue 16, defect 3: the booking backend overwrote the desk's staff token)."""

from __future__ import annotations

from pathlib import Path

import pytest

from booking.settings import load_settings as booking_settings
from guichet.tokens import stored_token


def test_a_token_created_by_another_service_meanwhile_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token_file = tmp_path / "staff.token"
    token_file.write_text("celui-du-guichet\n", encoding="utf-8")
    real_exists = Path.exists
    # The booking backend looked a moment before the desk wrote the file: it saw none.
    monkeypatch.setattr(Path, "exists", lambda self: False if self == token_file else real_exists(self))
    settings = booking_settings([], {}, data_dir=tmp_path)
    assert settings.staff_token == "celui-du-guichet"
    assert token_file.read_text(encoding="utf-8").strip() == "celui-du-guichet"


def test_a_new_token_is_random_private_and_kept(tmp_path: Path) -> None:
    first = stored_token(tmp_path / "data" / "rasa.token")
    assert len(first) >= 40 and stored_token(tmp_path / "data" / "rasa.token") == first
    assert (tmp_path / "data" / "rasa.token").stat().st_mode & 0o777 == 0o600
    assert [p.name for p in (tmp_path / "data").iterdir()] == ["rasa.token"]  # no temporary file left

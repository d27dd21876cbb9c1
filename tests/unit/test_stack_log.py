"""The test stack's logs are read whole: a traceback early in a long run is not cut off (issue 16, defect 5)."""

from __future__ import annotations

from pathlib import Path

from tests.integration.stack import Stack


def test_a_traceback_at_the_start_of_a_long_log_is_seen(tmp_path: Path) -> None:
    (tmp_path / "actions.log").write_text("Traceback (most recent call last):\n" + "ligne normale\n" * 2000)
    stack = Stack("http://b", "http://a", "http://r", tmp_path, {})
    assert "Traceback" in stack.log("actions")
    assert len(stack.log_tail("actions")) == 4000 and "Traceback" not in stack.log_tail("actions")

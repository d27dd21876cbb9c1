"""Text fit for libraries, databases and JSON, whatever a citizen or a client sent.

JSON may carry lone surrogates (``"\\ud800"``): valid there, not in UTF-8, so SQLite, PostgreSQL and compiled
libraries (text2num) refuse them. They become "?"; everything else is kept as it was.
"""

from __future__ import annotations

from typing import Any


def storable(text: str) -> str:
    return text.encode("utf-8", "replace").decode("utf-8")


def storable_json(value: Any) -> Any:
    """A JSON value with every text (keys included) made storable."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, list):
        return [storable_json(item) for item in value]
    if isinstance(value, dict):
        return {storable_json(key): storable_json(item) for key, item in value.items()}
    return value

"""Tokens kept in the data folder (``data/staff.token``, ``desk.token``, ``rasa.token``): created once, atomically.

Several services start together on a fresh install and each may be the first to need a token: the file is written
under a temporary name and linked into place, so the first one wins and every service reads the same token.
Standard library only (the dialogue server's environment imports the kernel too).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def stored_token(path: Path) -> str:
    """The token in ``path``; a new random one (mode 600) when there is none yet. Two processes racing agree."""
    if path.exists():
        token = path.read_text(encoding="utf-8").strip()
        if token:
            return token
    path.parent.mkdir(parents=True, exist_ok=True)
    candidate = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
    candidate.write_text(secrets.token_urlsafe(32) + "\n", encoding="utf-8")
    candidate.chmod(0o600)
    try:
        os.link(candidate, path)  # fails if another process created it first: theirs wins
    except FileExistsError:
        pass
    finally:
        candidate.unlink(missing_ok=True)
    return path.read_text(encoding="utf-8").strip()

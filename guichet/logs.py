"""Logging set-up for a service's composition root: one line per record, personal data masked."""

from __future__ import annotations

import logging

from guichet.privacy import MaskingFilter


def configure_logging(level: str = "INFO") -> None:
    """Configure the root logger once; every handler masks personal data."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())

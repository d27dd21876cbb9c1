"""Every log line the test suite produces is kept, so that the last test can look for unmasked personal data.

In-process records (all loggers at INFO and above, but the aiohttp test servers' access log, which the services
themselves turn off or keep free of personal data) go to one file for the session; services started as processes
write their own ``*.log`` files under pytest's temporary folder. ``tests/test_log_privacy.py`` reads both, last.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

IN_PROCESS_LOG = pytest.StashKey[Path]()
_HANDLER = pytest.StashKey[logging.Handler]()
SCAN_LAST = "test_log_privacy.py"

# What must never appear unmasked: phone numbers (French and international), e-mail addresses, pré-demande numbers
# (10 upper-case letters and digits, at least one of each). Masked values keep only their last digits behind "•".
_FINDERS = {
    "téléphone": re.compile(r"(?<![\w+•])(?:(?:\+|00)33[\s.\-]?[1-9]|0[1-9])(?:[\s.\-]?\d\d){4}(?![\w•])"),
    "e-mail": re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)*\.[a-z]{2,}", re.IGNORECASE),
    "pré-demande": re.compile(r"\b(?=[A-Z0-9]{10}\b)(?=[A-Z]*\d)(?=\d*[A-Z])[A-Z0-9]{10}\b"),
}


class _NotAccessLog(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.name != "aiohttp.access"


def pytest_configure(config: pytest.Config) -> None:
    path = Path(tempfile.mkdtemp(prefix="guichet-test-logs-")) / "in-process.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    handler.addFilter(_NotAccessLog())
    logging.getLogger().addHandler(handler)
    config.stash[IN_PROCESS_LOG] = path
    config.stash[_HANDLER] = handler


def pytest_unconfigure(config: pytest.Config) -> None:
    handler = config.stash.get(_HANDLER, None)
    if handler is not None:
        logging.getLogger().removeHandler(handler)
        handler.close()
        shutil.rmtree(config.stash[IN_PROCESS_LOG].parent, ignore_errors=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The scan runs after every other test of the session."""
    items.sort(key=lambda item: item.nodeid.split("::")[0].endswith(SCAN_LAST))


def findings(lines: Iterable[str]) -> Iterator[tuple[str, str]]:
    """``(kind, line)`` for each line holding personal data in clear."""
    for line in lines:
        for kind, finder in _FINDERS.items():
            if finder.search(line):
                yield kind, line.strip()[:300]

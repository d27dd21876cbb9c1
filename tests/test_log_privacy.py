"""No log line written during the test suite holds a phone number, an e-mail or a pré-demande number in clear.

This module runs last (see tests/logscan.py): it reads the in-process log of the session and every service log
(``*.log``) that the integration, voice and browser tests left under pytest's temporary folder.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from guichet.privacy import mask_text
from tests.logscan import IN_PROCESS_LOG, findings


def test_the_scanner_sees_personal_data_and_accepts_masked_values() -> None:
    clear = ["rappeler le 06 12 34 56 78", "numéro +33 6 12 34 56 78", "écrire à marie.dupont@example.fr",
             "pré-demande AB12CD34EF reçue"]
    assert [kind for kind, _ in findings(clear)] == ["téléphone", "téléphone", "e-mail", "pré-demande"]
    assert list(findings(mask_text(line) for line in clear)) == []
    harmless = ["slot hotel-de-ville.202612010830", "reference K7M4QX9B", "2026-12-01T08:30:00+01:00",
                "took 0.012345678 s", "call 5f0c2a1e-88aa-4b1f-9d2c-0a1b2c3d4e5f"]
    assert list(findings(harmless)) == []


def test_no_log_line_of_the_suite_holds_personal_data(request: pytest.FixtureRequest,
                                                      tmp_path_factory: pytest.TempPathFactory) -> None:
    logging.getLogger("guichet.selfcheck").info("log privacy scan starts")
    for handler in logging.getLogger().handlers:
        handler.flush()
    files = [request.config.stash[IN_PROCESS_LOG], *sorted(tmp_path_factory.getbasetemp().rglob("*.log"))]
    scanned, leaks = 0, []
    for path in files:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        scanned += len(lines)
        leaks += [f"{_short(path)}: [{kind}] {line}" for kind, line in findings(lines)]
    assert scanned > 0, "the in-process log was not captured"
    assert not leaks, f"{len(leaks)} log lines hold personal data in clear:\n" + "\n".join(leaks[:40])


def _short(path: Path) -> str:
    return "/".join(path.parts[-3:])

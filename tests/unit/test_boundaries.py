"""What each package may import (issue 16), read from the source with ``ast``: a new import across a boundary fails.

- The services (``actions``, ``booking``, ``web``, ``voice``, ``bot``) import the shared kernel ``guichet``, the
  shared domain (``knowledge``, ``nlu``) and the shared ``clients``, never one another: they talk over HTTP.
- The kernel imports no service and no domain package, except the operations tools (``guichet.gdpr``,
  ``guichet.config``, ``guichet.ready``), which exist to reach every store.
- ``knowledge`` and ``nlu`` import no service; ``bench`` measures the services but does not import the tests.

The crossings that remain are listed in KNOWN with what would remove them; the list may only shrink.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("actions", "booking", "web", "voice", "bot")
SHARED = ("guichet", "knowledge", "nlu", "clients")
OPERATIONS = ("guichet.gdpr", "guichet.config", "guichet.ready")
PROJECT = (*SERVICES, *SHARED, "bench", "tests")
KNOWN = {  # (importing module, imported module): why it is still there
    ("web.app", "guichet.gdpr.operations"): "the desk runs the daily retention purge of its own store",
    ("bench.chat", "tests.integration.processes"): "one harness for bench and tests still to extract",
    ("bench.dates", "tests.unit.dates_table"): "the dates table is test data the bench reads",
    ("bench.load", "tests.integration.processes"): "as bench.chat",
    ("bench.load", "tests.integration.stack"): "as bench.chat",
    ("bench.understanding", "tests.integration.stack"): "as bench.chat",
    ("bench.voice", "tests.integration.stack"): "as bench.chat",
}


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def imports() -> frozenset[tuple[str, str]]:
    """(module, imported project module) for every absolute import in the project's packages (tests may import
    anything: not read)."""
    found = set()
    for package in (p for p in PROJECT if p != "tests"):
        for path in (ROOT / package).rglob("*.py"):
            if "node_modules" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                         [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else [])
                found |= {(_module(path), n) for n in names if n.split(".")[0] in PROJECT}
    return frozenset(found)


def _top(module: str) -> str:
    return module.split(".")[0]


def _allowed(importer: str, imported: str) -> bool:
    source, target = _top(importer), _top(imported)
    if source == target or source == "tests":
        return True
    if source in SERVICES:
        return target in SHARED
    if source == "guichet":
        return importer.startswith(OPERATIONS)
    if source in ("knowledge", "nlu", "clients"):
        return target in SHARED
    if source == "bench":
        return target != "tests"
    return False


def test_no_package_imports_across_a_boundary() -> None:
    crossing = sorted((a, b) for a, b in imports() if not _allowed(a, b) and (a, b) not in KNOWN)
    assert not crossing, "imports across a boundary (talk over HTTP, or move the code to guichet/):\n" + "\n".join(
        f"  {a} → {b}" for a, b in crossing)


def test_the_known_crossings_are_still_real() -> None:
    gone = sorted(k for k in KNOWN if k not in imports())
    assert not gone, f"fixed: remove them from KNOWN: {gone}"


@pytest.mark.parametrize(("importer", "imported", "allowed"), [
    ("voice.session", "guichet.voice_channel", True), ("voice.session", "actions.common", False),
    ("actions.deps", "knowledge.faq", True), ("actions.deps", "booking.domain", False),
    ("guichet.french", "knowledge.town", False), ("guichet.gdpr.stores", "web.store", True),
    ("knowledge.calendar", "booking.domain", False), ("bench.voice", "voice.session", True),
    ("voice.callbacks", "clients.desk", True), ("clients.desk", "actions.common", False),
])
def test_the_rule(importer: str, imported: str, allowed: bool) -> None:
    assert _allowed(importer, imported) is allowed

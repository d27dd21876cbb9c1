"""The dialogue stack most integration modules share, started once for the session.

Modules that only add their own conversations and bookings use it: each reads back what it did by its reference,
its conversation, or the rows added since it started (``Stack.appointments_mark``), never "the only row". Modules
that stop services, change their settings, fill them with hostile traffic or need the desk define their own
``stack`` fixture, which takes precedence over this one.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.stack import Stack, running_stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("shared-stack")) as running:
        yield running

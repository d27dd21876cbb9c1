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
    # every module's conversations come from 127.0.0.1: the per-address chat limit (120 a minute) is for citizens,
    # not for several test modules in a row (tests/integration/test_chat_guards.py checks the limits on its own)
    with running_stack(tmp_path_factory.mktemp("shared-stack"),
                       rasa_env={"GUICHET_CHAT_LIMIT_CLIENT": "2000 per minute"}) as running:
        yield running

"""Nobody left waiting: a web-chat case taken over live but claimed by no agent within ``live_wait_s`` goes back
to the bot (the conversation resumes) and becomes a callback case; the widget is told why."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

from aiohttp import web

from web.keys import CLOCK, HUB, RASA, SETTINGS, STORE
from web.present import case_summary
from web.rasa import DialogueUnavailable

log = logging.getLogger(__name__)
NOBODY = ("Aucun agent n'a pu vous répondre tout de suite : un agent vous rappellera au numéro que vous avez donné. "
          "L'assistant reste à votre disposition ici.")


async def release_unanswered(app: web.Application) -> int:
    """Hand back every live case nobody claimed in time; how many were handed back."""
    now = app[CLOCK].now()
    limit = now - timedelta(seconds=app[SETTINGS].live_wait_s)
    released = 0
    for case in await app[STORE].cases():
        if not case.live or case.claimed_by is not None or case.created_at > limit:
            continue
        try:
            await app[RASA].resume(case.conversation_id)
        except DialogueUnavailable:
            continue  # tried again on the next round
        if not await app[STORE].update_case(case.id, now, expect_status=("open",), live=False, callback_only=True):
            continue
        released += 1
        log.info("case %s: no agent within %s s, back to the bot", case.id, app[SETTINGS].live_wait_s)
        await app[HUB].to_widget(case.conversation_id, {"type": "operator_left", "reason": "no_agent",
                                                        "text": NOBODY})
        updated = await app[STORE].case(case.id)
        if updated:
            await app[HUB].to_consoles({"type": "case_updated", "case": case_summary(updated)})
    return released


async def watching(app: web.Application) -> AsyncIterator[None]:
    """``cleanup_ctx``: the check runs every few seconds while the app runs."""

    async def loop() -> None:
        while True:
            await asyncio.sleep(min(15.0, app[SETTINGS].live_wait_s / 4))
            try:
                await release_unanswered(app)
            except Exception:
                log.exception("live-wait check failed")

    task = asyncio.create_task(loop())
    yield
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass

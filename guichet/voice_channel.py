"""The wire contract between the phone gateway (voice/bot_client.py) and the dialogue server's ``voice`` channel
(bot/channels/voice.py), written once for both sides (standard library only: the dialogue server runs Python 3.10).

One turn is ``POST {dialogue}/webhooks/voice/webhook`` with ``{"sender", "message", "metadata"}``, the dialogue
server's token as a bearer; the answer is the list of replies (JSON) plus headers: the question just asked (for
recognition hints and the end-of-turn wait) and, when the conversation ended this turn, how.
"""

from __future__ import annotations

from typing import Final

WEBHOOK_PATH: Final = "/webhooks/voice/webhook"
SLOT_HEADER: Final = "X-Guichet-Requested-Slot"
ENDED_HEADER: Final = "X-Guichet-Ended"
GOODBYE, HANDOFF, UNAVAILABLE = "goodbye", "handoff", "unavailable"
ENDINGS: Final = (GOODBYE, HANDOFF, UNAVAILABLE)
# What the caller hears when the dialogue cannot answer (the channel sends it with the ``unavailable`` ending; the
# gateway says it when the channel itself is unreachable).
TECHNICAL_PROBLEM: Final = "Je rencontre un problème technique, excusez-moi."

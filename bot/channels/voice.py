"""The `voice` input channel: the phone gateway's turns, with the call id and the caller's number.

`POST /webhooks/voice/webhook` with `{"sender": <call id>, "message": <transcript>, "metadata": {"caller": "+33…",
"call_id": …}}` answers the bot's replies as JSON, like the REST channel. The difference that matters: the output
channel is named `voice`, so Rasa picks the `channel: voice` variants of responses (short, no links, no buttons),
and the actions see `voice` as the input channel (they speak instead of showing buttons, and offer the caller's
number for the booking). The message text is never logged here (personal data).

Only the phone gateway may speak here: it presents ``Authorization: Bearer <GUICHET_RASA_TOKEN>`` (the token of
Rasa's HTTP API, which deploy/dialogue.sh exports). Anyone else could pass for a caller, choose the caller's number
and send ``/commands`` that the public chat channels refuse. Without a token configured (a bare ``rasa run``), the
webhook stays open and says so at start-up.
"""

from __future__ import annotations

import hmac
import logging
import os
from asyncio import CancelledError
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from guichet.voice_channel import ENDED_HEADER, GOODBYE, HANDOFF, SLOT_HEADER, TECHNICAL_PROBLEM, UNAVAILABLE

log = logging.getLogger(__name__)
MAX_TEXT = 2000


class VoiceOutput(CollectingOutputChannel):
    """Collects the replies of one turn; its name selects the voice variants of responses."""

    @classmethod
    def name(cls) -> str:
        return "voice"


class VoiceInput(InputChannel):
    def __init__(self, token: str | None = None) -> None:
        self.token = token

    @classmethod
    def name(cls) -> str:
        return "voice"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> VoiceInput:
        token = str((credentials or {}).get("token") or os.environ.get("GUICHET_RASA_TOKEN") or "") or None
        if token is None:
            log.warning("voice webhook open to anyone: set GUICHET_RASA_TOKEN (the phone gateway presents it)")
        return cls(token)

    def _authorized(self, request: Request) -> bool:
        if self.token is None:
            return True
        presented = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(presented.encode(), self.token.encode())

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("voice_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not self._authorized(request):
                return response.json({"error": "Jeton de la passerelle téléphonique manquant ou invalide."},
                                     status=401)
            body = request.json if isinstance(request.json, dict) else None
            if body is None or not isinstance(body.get("sender"), str) or not isinstance(body.get("message"), str):
                return response.json({"error": "JSON attendu : {\"sender\": \"…\", \"message\": \"…\"}"}, status=400)
            metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
            metadata = {k: v for k, v in metadata.items() if k in ("caller", "call_id", "gateway", "dtmf")}
            collector = VoiceOutput()
            try:
                await on_new_message(UserMessage(body["message"][:MAX_TEXT], collector, body["sender"][:200],
                                                 input_channel=self.name(), metadata=metadata))
            except CancelledError:
                log.error("voice turn cancelled (timeout) for call %s", body["sender"][:200])
            except Exception:
                log.exception("voice turn failed for call %s", body["sender"][:200])
            headers = await _dialogue_state(request, body["sender"][:200])
            if not collector.messages and headers.get(PAUSED_HEADER) != "true":
                # Nothing to say (the action server is down…): the gateway apologizes, files a callback, hangs up.
                log.warning("voice: no reply for call %s", body["sender"][:200])
                await collector.send_text_message(body["sender"][:200], TECHNICAL)
                headers[ENDED_HEADER] = UNAVAILABLE
            headers.pop(PAUSED_HEADER, None)
            return response.json(collector.messages, headers=headers)

        return webhook


ENDING_ACTIONS = {"utter_goodbye": GOODBYE, "action_handoff": HANDOFF}
TECHNICAL = TECHNICAL_PROBLEM
PAUSED_HEADER = "X-Guichet-Paused"  # internal between _dialogue_state and receive; not sent


async def _dialogue_state(request: Request, sender: str) -> dict[str, str]:
    """What the phone gateway needs beyond the words: the question asked (recognition hints) and whether the
    conversation ended this turn (goodbye, or a hand-off to a human), as response headers."""
    agent = getattr(request.app.ctx, "agent", None)
    if agent is None or agent.tracker_store is None:
        return {}
    try:
        tracker = await agent.tracker_store.retrieve(sender)
    except Exception:
        log.exception("voice: tracker unavailable for call %s", sender)
        return {}
    if tracker is None:
        return {}
    headers = {SLOT_HEADER: str(tracker.get_slot("requested_slot") or ""),
               PAUSED_HEADER: "true" if tracker.is_paused() else "false"}
    for event in reversed(tracker.events):
        if event.type_name == "user":
            break
        ended = ENDING_ACTIONS.get(getattr(event, "action_name", None) or "")
        if ended:
            headers[ENDED_HEADER] = ended
            break
    return headers

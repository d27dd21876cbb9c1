"""JSON shapes of cases and messages for the console and the widget (texts verbatim: the pages show them as text)."""

from __future__ import annotations

from typing import Any

from web import labels
from web.store import Case, Message


def case_summary(case: Case) -> dict[str, Any]:
    return {
        "id": case.id, "conversation_id": case.conversation_id, "channel": case.channel,
        "channel_label": labels.CHANNELS.get(case.channel, case.channel), "reason": case.reason,
        "reason_label": labels.REASONS.get(case.reason, case.reason), "phone": case.phone,
        "name": str(case.collected.get("person_name") or "") or None, "status": case.status,
        "status_label": labels.STATUSES.get(case.status, case.status), "live": case.live,
        "callback_only": case.callback_only, "claimed_by": case.claimed_by_name, "outcome": case.outcome,
        "outcome_label": labels.OUTCOMES.get(case.outcome or "", None), "note": case.note,
        "created_at": case.created_at.isoformat(), "updated_at": case.updated_at.isoformat(),
    }


def message_json(message: Message) -> dict[str, Any]:
    return {"id": message.id, "from": message.sender, "text": message.text, "at": message.at.isoformat(),
            "live": message.live, "operator": message.operator_name}


def widget_message(message: Message) -> dict[str, Any]:
    return {"from": "operator" if message.sender == "agent" else "citizen", "text": message.text,
            "at": message.at.isoformat()}


def case_detail(case: Case, messages: list[Message]) -> dict[str, Any]:
    return {**case_summary(case), "known": labels.known(case.collected), "collected": case.collected,
            "transcript": [message_json(m) for m in messages]}

"""How long the caller's silence must last before the turn is over, knowing what the bot has just asked.

A phone number, a pré-demande code or a spelled name is dictated in groups with pauses between them: the turn waits
through those pauses. A yes/no answer is one word: the turn ends fast, so the caller does not wait for the bot.
Anything else keeps the configured hangover.
"""

from __future__ import annotations

from voice.keypad import YES_NO_SLOTS

DICTATION_SLOTS = frozenset({"phone", "predemande_ids", "reference", "person_name"})  # names are often spelled
DICTATION_HANGOVER_MS = 1200.0
YES_NO_HANGOVER_MS = 350.0


def hangover_for(requested_slot: str | None, configured_ms: float) -> float:
    """The end-of-turn silence for the answer to ``requested_slot`` (``configured_ms`` for open questions)."""
    if requested_slot in DICTATION_SLOTS:
        return max(configured_ms, DICTATION_HANGOVER_MS)
    if requested_slot in YES_NO_SLOTS:
        return min(configured_ms, YES_NO_HANGOVER_MS)
    return configured_ms

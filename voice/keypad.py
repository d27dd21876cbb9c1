"""Keys pressed for a choice the bot offered by voice, read as the words a caller would have said.

The phone prompts offer the keypad where a choice is short (« au clavier, 1 pour un passeport… », « tapez 1 pour
oui »): on a noisy line, or for a caller who would rather not speak, a key is never misheard. Keys typed for a number
(a phone number, a code, a proposal's rank) go through as they are.
"""

from __future__ import annotations

from voice.hints import HintSet, slots_hinted

YES_NO_SLOTS = slots_hinted(HintSet.YES_NO)
_YES_NO = {"1": "oui", "2": "non"}
GREETING = "greeting"  # the greeting's open question (its phone version offers « tapez 1 » to book)
# The bot's requested slot (or GREETING) → key → what it means.
CHOICES: dict[str | None, dict[str, str]] = {
    GREETING: {"1": "je voudrais prendre rendez-vous"},
    "procedure": {"1": "passeport", "2": "carte d'identité", "3": "passeport et carte d'identité"},
    **{slot: _YES_NO for slot in YES_NO_SLOTS},
}


def keys_as_words(keys: str, requested_slot: str | None) -> str:
    """What ``keys`` mean after the question for ``requested_slot`` (:data:`GREETING` right after the greeting):
    words for an offered choice, else the keys."""
    return CHOICES.get(requested_slot, {}).get(keys, keys)

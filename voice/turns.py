"""How long the caller's silence must last before the turn is over, knowing what the bot has just asked.

A phone number, a pré-demande code or a spelled name is dictated in groups with pauses between them: the turn waits
through those pauses. A yes/no answer is one word: the turn ends fast, so the caller does not wait for the bot; but
once the answer has lasted longer than a yes or a no (« non, plutôt jeudi », or the pré-demande code itself said
in answer to « avez-vous fait la pré-demande ? »), the wait goes back to the configured one, or to the dictation one
where a code is a likely answer. Anything else keeps the configured hangover.

Speech over the bot stops it only once it lasts (``barge_in_min_ms``): a short « hm » or « oui » while the bot
explains is a backchannel, not a turn. Such a short utterance is then dropped when it is only a filler, or an
acknowledgement while the bot asked no yes/no question (over a yes/no question, « oui » is the answer).
"""

from __future__ import annotations

import re

from voice.keypad import YES_NO_SLOTS

DICTATION_SLOTS = frozenset({"phone", "predemande_ids", "reference", "person_name"})  # names are often spelled
DICTATION_HANGOVER_MS = 1200.0
YES_NO_HANGOVER_MS = 350.0
LONGER_THAN_YES_NO_MS = 900.0  # « oui », « non merci », « d'accord » last less
# Yes/no questions a caller often answers with the code or the number itself.
ANSWERED_BY_DICTATION = frozenset({"has_predemande"})


def hangover_for(requested_slot: str | None, configured_ms: float) -> float:
    """The end-of-turn silence for the answer to ``requested_slot`` (``configured_ms`` for open questions)."""
    if requested_slot in DICTATION_SLOTS:
        return max(configured_ms, DICTATION_HANGOVER_MS)
    if requested_slot in YES_NO_SLOTS:
        return min(configured_ms, YES_NO_HANGOVER_MS)
    return configured_ms


def extension_for(requested_slot: str | None, configured_ms: float) -> tuple[float, float] | None:
    """For a yes/no question: after how much speech the answer is more than a yes or a no, and the hangover then
    (None: the hangover stays as :func:`hangover_for` gives it)."""
    if requested_slot not in YES_NO_SLOTS:
        return None
    longer = max(configured_ms, DICTATION_HANGOVER_MS) if requested_slot in ANSWERED_BY_DICTATION else configured_ms
    return LONGER_THAN_YES_NO_MS, longer


FILLERS = frozenset({"hm", "hmm", "hum", "mh", "mhm", "mm", "mmh", "mmm", "euh", "heu", "ah", "oh", "bon", "eh"})
ACKNOWLEDGEMENTS = frozenset({"oui", "ouais", "ok", "okay", "d'accord", "voilà", "oui oui", "très bien", "ah oui",
                              "ah d'accord", "ok d'accord", "entendu"})


def is_backchannel(text: str, requested_slot: str | None) -> bool:
    """Whether a short utterance said over the bot is only a backchannel (to drop), not an answer."""
    words = " ".join(re.findall(r"[\wà-ÿ']+", text.lower().replace("’", "'")))
    if not words or all(w in FILLERS for w in words.split()):
        return True
    return words in ACKNOWLEDGEMENTS and requested_slot not in YES_NO_SLOTS

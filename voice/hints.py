"""Recognition hints: what a caller is likely to say when the bot has just asked something narrow.

With a small Vosk model they become a grammar (plus "[unk]" for anything else), which helps a lot on 8 kHz lines;
:mod:`voice.heard` uses them to read what Whisper heard. Words missing from the model's vocabulary are dropped, and
the words of ESCAPES are always allowed so that a caller can still get out.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class HintSet(StrEnum):
    YES_NO = "yes_no"
    DIGITS = "digits"
    DATES = "dates"
    SPELLING = "spelling"


ESCAPES = ("non", "je ne sais pas", "répétez", "pardon", "un conseiller", "au revoir")
_LETTERS = (*"abcdefghijklmnopqrstuvwxyz", "i grec", "double v", "double vé")
# The French spelling alphabet (alphabet radio), said as "B comme Berthe".
SPELLING_ALPHABET = ("anatole", "berthe", "célestin", "désiré", "eugène", "françois", "gaston", "henri", "irma",
                     "joseph", "kléber", "louis", "marcel", "nicolas", "oscar", "pierre", "quintal", "raoul",
                     "suzanne", "thérèse", "ursule", "victor", "william", "xavier", "yvonne", "zoé")
DIGIT_WORDS = ("zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf")
_NUMBER_WORDS = ("dix", "onze", "douze", "treize", "quatorze", "quinze", "seize", "dix-sept", "dix-huit", "dix-neuf",
                 "vingt", "trente", "quarante", "cinquante", "soixante", "soixante-dix", "quatre-vingt",
                 "quatre-vingts", "quatre-vingt-dix", "et", "cent", "double")
WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
HINT_PHRASES: dict[HintSet, tuple[str, ...]] = {
    HintSet.YES_NO: ("oui", "non", "d'accord", "ouais", "si", "exactement", "c'est ça", "tout à fait", "bien sûr",
                     "absolument", "c'est bon", "parfait", "je confirme", "voilà", "ok", "pas du tout", "non merci",
                     "oui merci", "pas encore"),
    HintSet.DIGITS: (*DIGIT_WORDS, *_NUMBER_WORDS),
    HintSet.DATES: (*WEEKDAYS, "aujourd'hui", "demain", "après-demain", "matin", "après-midi", "midi", "soir",
                    "prochain", "prochaine", "la semaine prochaine", "cette semaine", "le", "heure", "heures",
                    "et demie", "et quart", "moins le quart", "premier", "plus tôt", "plus tard", "dès que possible",
                    "janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
                    "novembre", "décembre"),
    HintSet.SPELLING: (*_LETTERS, *SPELLING_ALPHABET, "comme"),
}
# The dialogue's requested slot (bot/domain) → what to listen for. Slots not listed (names, free questions) get none.
SLOT_HINTS: dict[str, tuple[HintSet, ...]] = {
    "has_predemande": (HintSet.YES_NO,),
    "predemande_checked": (HintSet.YES_NO,),
    "booking_confirmed": (HintSet.YES_NO,),
    "cancel_confirmed": (HintSet.YES_NO,),
    "move_confirmed": (HintSet.YES_NO,),
    "phone": (HintSet.DIGITS,),
    "people": (HintSet.DIGITS,),
    "child_age": (HintSet.DIGITS,),
    "when": (HintSet.DATES, HintSet.DIGITS),
    "predemande_ids": (HintSet.SPELLING, HintSet.DIGITS),
    "reference": (HintSet.SPELLING, HintSet.DIGITS),
}


def normalize_hints(phrases: Iterable[str]) -> tuple[str, ...]:
    """Lower-case, single spaces, no duplicates, order kept (Vosk vocabularies are lower-case)."""
    seen: dict[str, None] = {}
    for phrase in phrases:
        cleaned = " ".join(phrase.lower().replace("’", "'").split())
        if cleaned:
            seen.setdefault(cleaned)
    return tuple(seen)


def slots_hinted(hint: HintSet) -> frozenset[str]:
    """The requested slots whose answer is of this kind (the yes/no questions, the ones answered with numbers)."""
    return frozenset(slot for slot, sets in SLOT_HINTS.items() if hint in sets)


def hints_for(*sets: HintSet) -> tuple[str, ...]:
    """The phrases of these hint sets, plus the escapes; empty (free recognition) when no set is given."""
    if not sets:
        return ()
    return normalize_hints([p for s in sets for p in HINT_PHRASES[s]] + list(ESCAPES))


def hints_for_slot(requested_slot: str | None) -> tuple[str, ...]:
    """Hints for the slot the bot has just asked for; empty for open questions."""
    return hints_for(*SLOT_HINTS.get(requested_slot or "", ()))



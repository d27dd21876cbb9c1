"""Is this message a request for an appointment, whatever NLU made of it?

« faire passeport et carte d'identité en même temps pour ma femme et moi » is close, word for word, to the question
« puis-je faire une carte d'identité et un passeport au même rendez-vous ? »; a classifier trained on many questions
can read the first as the second and answer it instead of booking. A message that asks nothing (no question mark, no
question word) and says what the citizen wants (« rendez-vous », « je voudrais ») or gives a title with a number of
people or a day is a booking request: the question actions hand it to the booking form.
"""

from __future__ import annotations

import re

from actions.details import Details, normalized

# Said as a question: a question mark, a question word at the start, or an inverted verb.
_QUESTION = re.compile(
    r"^(?:est ce|puis je|peut on|pouvez vous|pourriez vous|comment|combien|quel|quelle|quels|quelles|ou|quand|"
    r"pourquoi|faut il|dois je|doit on|doit il|y a t il|a t on|est il|c est possible|c est combien|c est quoi|"
    r"qu est ce|que faut il|que dois je|je peux|on peut|peut etre|je me demande|savez vous)\b"
    r"|\best ce que\b|\b(?:faut|doit|peut|faudra|suffit|ai|dois|puis)[ -](?:il|je|on|elle)\b"
    r"|\b(?:savoir|connaitre|renseignement|information|infos?|question)s?\b")
# Says what the citizen wants to do.
_REQUEST = re.compile(
    r"\b(?:rendez vous|rdv|reserver|reservation|un creneau|prendre (?:un )?(?:rendez vous|rdv|creneau)|"
    r"je (?:voudrais|veux|souhaite|souhaiterais|desire|viens pour)|j aimerais|je voudrai)\b")
# About an appointment already made (cancel, move, check): not a new booking.
_EXISTING = re.compile(r"\b(?:annuler|annulation|deplacer|modifier|reporter|decaler)\b"
                       r"|\b(?:mon|ma|notre) (?:rendez vous|rdv)\b"
                       r"|\bchanger (?:de |mon |la |l )?(?:rendez vous|rdv|date|heure|horaire|creneau)\b")
# A day or a part of the day.
_WHEN = re.compile(
    r"\b(?:lundi|mardi|mercredi|jeudi|vendredi|samedi|demain|apres demain|aujourd hui|semaine|matin|apres midi|"
    r"soir|janvier|fevrier|mars|avril|mai|juin|juillet|aout|septembre|octobre|novembre|decembre|le \d{1,2})\b")


def asks_a_question(text: str, plain: str | None = None) -> bool:
    """Whether ``text`` is said as a question (« combien… », « puis-je… », « … ? »); ``plain``: its normalized form,
    when already computed."""
    return "?" in text or _QUESTION.search(normalized(text) if plain is None else plain) is not None


def is_booking_request(text: str, details: Details) -> bool:
    """Whether ``text`` asks for an appointment rather than asking a question (``details``: what it carries)."""
    plain = normalized(text)
    if not text.strip() or asks_a_question(text, plain):
        return False
    if _EXISTING.search(plain):
        return False
    if _REQUEST.search(plain):
        return details.procedure is not None or "rendez vous" in plain or "rdv" in plain
    return details.procedure is not None and (details.people is not None or _WHEN.search(plain) is not None)

"""« Dites-le nous une seule fois », through the real stack: what a citizen said is never asked again.

Each conversation checks both the outcome (the appointment in the booking database, with the right procedure and
people, or the right answer) and that no question whose answer was already given was asked.
"""

from __future__ import annotations

import re
import sqlite3

import pytest

from tests.integration.chat import Conversation, expect
from tests.integration.stack import Stack

pytestmark = pytest.mark.rasa_env

# The bot's questions, as they appear in its replies (bot/domain/responses.yml, actions).
ASKS = {
    "procedure": "passeport, une carte d'identité, ou les deux",
    "people": "combien de personnes",
    "has_predemande": "avez-vous déjà fait la pré-demande",
    "predemande_ids": "quel est le numéro de pré-demande",
    "when": "quel jour vous arrangerait",
    "case": "quelle est votre situation",
    "age_group": "pour un adulte ou pour un enfant",
    "phone": "à quel numéro de téléphone",
}


def never_asked(conversation: Conversation, *slots: str) -> None:
    """None of these questions was asked in the whole conversation."""
    said = "\n".join(bot for _, bot in conversation.turns).lower()
    asked = [slot for slot in slots if ASKS[slot] in said]
    assert not asked, f"asked again: {asked}\n{conversation.transcript()}"


def book_first_offer(c: Conversation, name: str) -> str:
    """From the proposals to the reference: first slot, name, phone (if asked), yes."""
    reply = c.say("le premier")
    if "à quel nom" in reply.lower():
        reply = c.say(name)
    if ASKS["phone"] in reply.lower():
        reply = c.say("06 12 34 56 78")
    expect(c, reply, "je récapitule")
    done = c.say("oui")
    expect(c, done, "c'est réservé")
    reference = re.search(r"référence : ([2-9A-Z]{4})-([2-9A-Z]{4})", done)
    assert reference, c.transcript()
    return reference[1] + reference[2]


def appointment(stack: Stack, reference: str) -> tuple[object, ...]:
    with sqlite3.connect(stack.booking_db) as db:
        row = db.execute("SELECT procedure, people, application_ids, name FROM appointments WHERE reference = ?",
                         (reference,)).fetchone()
    assert row is not None, reference
    return tuple(row)


def test_both_titles_for_two_people_in_the_opening_sentence(stack: Stack) -> None:
    c = Conversation(stack)
    reply = c.say("faire passeport et carte d'identité en même temps pour ma femme et moi")
    expect(c, reply, "pré-demande")
    reply = c.say("non")
    expect(c, reply, "quel jour")
    expect(c, c.say("le plus tôt possible"), "créneaux")
    reference = book_first_offer(c, "Claire Martin")
    never_asked(c, "procedure", "people")
    assert "passeport et carte d'identité pour 2 personnes" in c.transcript(), c.transcript()
    assert appointment(stack, reference)[:2] == ("both", 2), c.transcript()


def test_without_predemande_said_up_front_is_not_asked(stack: Stack) -> None:
    c = Conversation(stack)
    reply = c.say("rendez-vous passeport pour une personne la semaine prochaine le matin sans pré-demande")
    expect(c, reply, "créneaux")
    reference = book_first_offer(c, "Paul Girard")
    never_asked(c, "procedure", "people", "has_predemande", "when")
    assert appointment(stack, reference)[:3] == ("passport", 1, ""), c.transcript()


def test_three_predemande_numbers_in_one_message(stack: Stack) -> None:
    c = Conversation(stack)
    expect(c, c.say("un rdv pour des passeports pour 3 personnes"), "pré-demande")
    reply = c.say("oui KL12MN34PQ et 12AB34CD56 et ZZ98YY76XX")
    expect(c, reply, "quel jour")
    assert "10 caractères" not in reply, c.transcript()
    expect(c, c.say("le plus tôt possible"), "créneaux")
    reference = book_first_offer(c, "Famille Moreau")
    never_asked(c, "predemande_ids")
    procedure, people, ids, _ = appointment(stack, reference)
    assert (procedure, people) == ("passport", 3), c.transcript()
    assert sorted(str(ids).split()) == ["12AB34CD56", "KL12MN34PQ", "ZZ98YY76XX"], c.transcript()


def test_details_given_at_the_recap_change_the_booking(stack: Stack) -> None:
    c = Conversation(stack)
    c.say("je voudrais un rendez-vous pour une carte d'identité")
    c.say("1")
    c.say("non")
    c.say("le plus tôt possible")
    c.say("le premier")
    c.say("Lucie Bernard")
    expect(c, c.say("06 12 34 56 78"), "je récapitule", "carte d'identité pour 1 personne")
    # At the recap: both titles after all. The slot proposed for one title does not fit two: new proposals.
    reply = c.say("ah non en fait passeport et carte d'identité")
    expect(c, reply, "créneaux")
    reference = book_first_offer(c, "Lucie Bernard")
    assert appointment(stack, reference)[:2] == ("both", 1), c.transcript()


def test_documents_for_a_first_passport_ask_only_what_is_missing(stack: Stack) -> None:
    c = Conversation(stack)
    reply = c.say("Quels documents faut-il pour un premier passeport ?")
    never_asked(c, "procedure", "case")
    if ASKS["age_group"] in reply.lower():
        reply = c.say("pour moi, je suis majeur")
    expect(c, reply, "photo", "justificatif de domicile")
    assert "je n'ai pas reconnu" not in c.transcript().lower(), c.transcript()


def test_the_situation_question_answered_with_the_age(stack: Stack) -> None:
    c = Conversation(stack)
    reply = c.say("quels papiers faut-il pour une carte d'identité ?")
    expect(c, reply, ASKS["case"])
    reply = c.say("pour moi, je suis majeur")  # answers another question than the one asked
    assert "je n'ai pas reconnu" not in reply.lower(), c.transcript()
    expect(c, reply, ASKS["case"])  # asked again, without the reproach
    reply = c.say("c'est un renouvellement")
    expect(c, reply, "ancienne carte")
    never_asked(c, "procedure", "age_group")


def test_a_child_fee_question_is_answered_with_the_childs_price(stack: Stack) -> None:
    c = Conversation(stack)
    reply = c.say("Quel est le prix d'un passeport pour un enfant de 8 ans ?")
    expect(c, reply, "17")
    never_asked(c, "age_group", "procedure")


def test_asking_for_a_human_says_what_happens_before_asking_the_number(stack: Stack) -> None:
    c = Conversation(stack)
    reply = c.say("je veux parler à un humain")
    expect(c, reply, "agent", "rappellera", "numéro")
    assert reply.lower().index("agent") < reply.lower().index("numéro"), c.transcript()
    done = c.say("06 12 34 56 78")
    expect(c, done, "demande n°")

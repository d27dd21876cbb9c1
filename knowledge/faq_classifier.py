"""A classifier of citizens' questions: which knowledge entry answers it, or none.

Features: the question's sentence embedding (:mod:`knowledge.embeddings`, multilingual-e5-small) beside its TF-IDF
words and character n-grams (the folded, stemmed text of :func:`knowledge.faq.words`); a logistic regression is
trained on every way of asking every entry, plus one more class, « none », trained on the off-topic examples
(questions a town hall hears that the knowledge base does not answer). Its probabilities are the entries' scores:
when « none » is the most likely, every entry scores 0 and the bot says it does not know.

Fitting takes ~15 s on two cores for ~1,800 questions, so the fitted model is kept in the cache folder, keyed by
everything it was fitted from (questions, off-topic examples, settings, library versions): changing an answer's text
changes nothing, adding a question refits once. Embeddings are cached the same way.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import pickle
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from knowledge.embeddings import Embedder
from knowledge.faq_schema import FaqEntry

log = logging.getLogger(__name__)

_STALE_S = 30 * 86400  # a fitted model not used for 30 days is deleted from the cache folder


class QuestionClassifier:
    """Scores every entry for a question (probabilities); see the module's description."""

    def __init__(self, entries: Sequence[FaqEntry], off_topic: Sequence[str], embedder: Embedder, *,
                 preprocess: Callable[[str], str], c: float = 64.0, tfidf_weight: float = 0.5,
                 cache_dir: Path | None = None) -> None:
        if not entries:
            raise ValueError("no entries")
        self.entries = tuple(entries)
        self.embedder = embedder
        self.c, self.tfidf_weight = c, tfidf_weight
        texts = [q for e in self.entries for q in e.questions] + list(off_topic)
        labels = [i for i, e in enumerate(self.entries) for _ in e.questions] + [len(self.entries)] * len(off_topic)
        self._none = len(self.entries)
        key = self._key(texts, labels)
        fitted = self._load(cache_dir, key)
        if fitted is None:
            fitted = self._fit(texts, labels, preprocess)
            self._store(cache_dir, key, fitted)
        self._words, self._chars, self._model = fitted
        # the class of each column of predict_proba (classes absent from the training set have no column)
        self._columns = np.asarray(self._model.classes_)

    def _key(self, texts: Sequence[str], labels: Sequence[int]) -> str:
        digest = hashlib.sha256(json.dumps([self.embedder.name, self.c, self.tfidf_weight, sklearn.__version__,
                                            list(texts), list(labels)], ensure_ascii=False).encode("utf-8"))
        return digest.hexdigest()[:24]

    def _features(self, texts: Sequence[str], words: TfidfVectorizer, chars: TfidfVectorizer) -> csr_matrix:
        dense = csr_matrix(self.embedder.encode(list(texts)))
        w = self.tfidf_weight
        return hstack([dense, w * words.transform(texts), w * chars.transform(texts)]).tocsr()

    def _fit(self, texts: Sequence[str], labels: Sequence[int],
             preprocess: Callable[[str], str]) -> tuple[TfidfVectorizer, TfidfVectorizer, LogisticRegression]:
        log.info("fitting the questions classifier on %d questions (once: the result is cached)", len(texts))
        words = TfidfVectorizer(preprocessor=preprocess, ngram_range=(1, 2), sublinear_tf=True).fit(texts)
        chars = TfidfVectorizer(preprocessor=preprocess, analyzer="char_wb", ngram_range=(3, 5),
                                sublinear_tf=True).fit(texts)
        model = LogisticRegression(C=self.c, max_iter=5000).fit(self._features(texts, words, chars), labels)
        return words, chars, model

    def scores(self, question: str) -> np.ndarray:
        """The probability of every entry; all 0 when « none of them » is the most likely."""
        probabilities = self._model.predict_proba(self._features([question], self._words, self._chars))[0]
        per_class = np.zeros(self._none + 1)
        per_class[self._columns] = probabilities
        if per_class[self._none] >= per_class[:self._none].max():
            return np.zeros(self._none)
        return per_class[:self._none]

    # --- the cache ----------------------------------------------------------------------------------------------

    @staticmethod
    def _load(folder: Path | None, key: str) -> Any:
        path = folder / f"faq-classifier-{key}.pickle" if folder else None
        if path is None or not path.exists():
            return None
        try:
            with path.open("rb") as stored:
                fitted = pickle.load(stored)  # our own cache file, keyed by its inputs
            os.utime(path)  # in use: not stale
            return fitted
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
            log.warning("questions classifier cache %s unreadable: fitted again", path.name)
            return None

    @staticmethod
    def _store(folder: Path | None, key: str, fitted: Any) -> None:
        if folder is None:
            return
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".faq-classifier-")
            with os.fdopen(fd, "wb") as out:
                pickle.dump(fitted, out)
            os.replace(tmp, folder / f"faq-classifier-{key}.pickle")
        except OSError as exc:
            log.warning("questions classifier not cached (%s)", exc)
            return
        now = time.time()
        for stale in folder.glob("faq-classifier-*.pickle"):
            if now - stale.stat().st_mtime > _STALE_S:
                stale.unlink(missing_ok=True)

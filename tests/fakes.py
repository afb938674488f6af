"""Fakes registered through the same seams production uses (the embedder registry)."""

from __future__ import annotations

import hashlib
import itertools
import os
import threading
import time
import unicodedata
from collections.abc import Sequence

import numpy as np

from index.embedding import EmbedderOptions, register_embedder


class HashingEmbedder:
    """Character-bigram hashing: deterministic, fast, and similar texts get similar vectors,
    so retrieval tests still mean something. Counts every text it embeds."""

    def __init__(self, name: str, dim: int = 64) -> None:
        self.name = name
        self.dim = dim
        self.embedded = 0
        self.fail_after: int | None = None  # raise once this many texts were embedded
        self.delay = float(os.environ.get("FAKE_EMBED_DELAY", "0"))  # seconds per text, for kill tests
        self._lock = threading.Lock()

    def _vector(self, text: str) -> np.ndarray:
        text = unicodedata.normalize("NFKC", text).lower()
        vec = np.zeros(self.dim, dtype=np.float32)
        for a, b in itertools.pairwise(text):
            h = int.from_bytes(hashlib.blake2b((a + b).encode(), digest_size=4).digest(), "little")
            vec[h % self.dim] += 1.0
        norm = float(np.linalg.norm(vec))
        return vec / norm if norm else vec

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            if self.fail_after is not None and self.embedded + len(texts) > self.fail_after:
                raise RuntimeError("fake embedder failure (simulated crash)")
            self.embedded += len(texts)
        if self.delay:
            time.sleep(self.delay * len(texts))
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._vector(t) for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self._vector(text)


_INSTANCES: dict[str, HashingEmbedder] = {}


def fake_embedder(name: str = "fake:64") -> HashingEmbedder:
    """The shared instance for `name`, so tests can read its counters."""
    if name not in _INSTANCES:
        _INSTANCES[name] = HashingEmbedder(name, int(name.split(":", 1)[1] or 64))
    return _INSTANCES[name]


def _factory(name: str, options: EmbedderOptions) -> HashingEmbedder:
    return fake_embedder(name)


def register() -> None:
    register_embedder("fake", _factory)

"""Sentences scored by meaning (the embedder's cosines) for one request: evidence selection, the key
passage and the citation check score the same sentences, so each vector is embedded once. Embedding
costs about 0.1 s a sentence on this CPU: between batches it looks whether the reader is still there."""

from __future__ import annotations

import threading

import numpy as np

from index.embedding import Embedder

STEP = 16  # sentences embedded between two looks at whether the reader is still there
MOST = 4096  # vectors kept; beyond, the memory starts afresh


class Departed(Exception):
    """The reader left during the CPU work before the model; the answer ends without a result."""


class Meaning:
    def __init__(self, embedder: Embedder, cancel: threading.Event | None = None) -> None:
        self.embedder = embedder
        self.cancel = cancel or threading.Event()
        self._vectors: dict[tuple[str, str], np.ndarray] = {}

    def cosines(self, claims: list[str], texts: list[str]) -> np.ndarray:
        """(claims, texts) cosines, the claims read as queries and the texts as passages."""
        if len(self._vectors) > MOST:
            self._vectors.clear()
        for kind, items in (("q", claims), ("d", texts)):
            missing = [t for t in dict.fromkeys(items) if (kind, t) not in self._vectors]
            for at in range(0, len(missing), STEP):
                if self.cancel.is_set():
                    raise Departed  # the rest of these embeddings would be for nobody
                part = missing[at : at + STEP]
                vectors = self.embedder.embed_documents(part) if kind == "d" else [
                    self.embedder.embed_query(t) for t in part
                ]  # fmt: skip
                self._vectors.update({(kind, t): np.asarray(v) for t, v in zip(part, vectors, strict=True)})
        q = np.stack([self._vectors[("q", c)] for c in claims])
        return q @ np.stack([self._vectors[("d", t)] for t in texts]).T

    def of(self, question: str, sentences: list[str]) -> np.ndarray:
        """One question's cosines to each sentence."""
        return self.cosines([question], sentences)[0]

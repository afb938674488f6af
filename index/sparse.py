"""The sparse leg: Japanese morphological tokens and a BM25 matrix stored in each index version.

Our own BM25 over a SciPy matrix instead of bm25s: bm25s needs every token as a Python list and
rebuilds its vocabulary on each publish (5 s for 49k chunks here, 9 ms a query); a column matrix
built from stored token ids takes 0.9 s to rebuild and 1 ms to score a query (measured here)."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from index.text import nfkc

SPARSE = "sparse.npz"
SPARSE_META = "sparse.json"
# Particles, auxiliary verbs, symbols and whitespace carry no topic; light verbs (する, できる) neither.
_DROP_POS = {"助詞", "助動詞", "補助記号", "記号", "空白"}
# English questions meet Japanese posts through names and numbers; their function words only add noise.
_ENGLISH_STOP = frozenset(
    "a an the of to in on at by for with from as is are was were be been being do does did what which who whom "
    "whose when where why how and or but not no this that these those it its it's they their them there here "
    "according blog post article say says said about into than then so such can could would should will may "
    "much many any some each per have has had get got make made use used s".split()
)
TOKENIZER_ID = "sudachi-core-C+A/nfkc-lower/en-stop/v2"


class JapaneseTokenizer:
    """SudachiPy, split mode C (compounds such as 量子化 stay whole) plus the mode-A parts of each
    compound, so a query for ストレージ still meets ストレージサービス. Thread-safe."""

    name = TOKENIZER_ID

    def __init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        self._dictionary: Any = None

    def _tokenizer(self) -> Any:
        # One dictionary (about 70 MB) shared; Sudachi tokenizers are not thread-safe, so one per thread.
        tok = getattr(self._local, "tok", None)
        if tok is None:
            from sudachipy import Dictionary, SplitMode

            with self._lock:
                if self._dictionary is None:
                    self._dictionary = Dictionary(dict="core")
            tok = self._local.tok = self._dictionary.tokenizer(mode=SplitMode.C)
            self._local.mode_a = SplitMode.A
        return tok

    def __call__(self, text: str) -> list[str]:
        tok = self._tokenizer()
        text = nfkc(text).lower()
        # A lone surrogate (from a JSON "\\ud800" escape) cannot be encoded for Sudachi: make it "?".
        text = text.encode("utf-8", "replace").decode("utf-8")
        out: list[str] = []
        for piece in _pieces(text):
            for m in tok.tokenize(piece):
                pos = m.part_of_speech()
                if pos[0] in _DROP_POS or (pos[0] == "動詞" and pos[1] == "非自立可能"):
                    continue
                if m.surface() in _ENGLISH_STOP:  # Sudachi would turn "the" into ザ
                    continue
                form = m.normalized_form().lower()
                out.append(form)
                parts = m.split(self._local.mode_a)
                if len(parts) > 1:
                    out.extend(p.normalized_form().lower() for p in parts if p.part_of_speech()[0] not in _DROP_POS)
        return out

    def morphemes(self, text: str) -> list[tuple[str, str, str]]:
        """(surface, part of speech, its first subdivision) in split mode C, for phrase-level readings
        such as which noun a figure belongs to. The text is taken as given (no normalization)."""
        tok = self._tokenizer()
        text = text.encode("utf-8", "replace").decode("utf-8")
        return [(m.surface(), *m.part_of_speech()[:2]) for piece in _pieces(text) for m in tok.tokenize(piece)]


def _pieces(text: str, limit: int = 12000) -> Iterable[str]:
    """Sudachi refuses inputs over 49,149 bytes; cut long texts at line ends."""
    while len(text.encode()) > 3 * limit:
        cut = text.rfind("\n", 0, limit)
        cut = cut if cut > 0 else limit
        yield text[:cut]
        text = text[cut:]
    yield text


def ensure_vocab_table(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE IF NOT EXISTS vocab (term TEXT PRIMARY KEY, id INTEGER NOT NULL UNIQUE)")


class Vocab:
    """Term ids that never change within an index folder, so stored chunk tokens stay valid."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        ensure_vocab_table(conn)
        self.conn = conn
        self.ids: dict[str, int] = dict(conn.execute("SELECT term, id FROM vocab"))

    def encode(self, tokens: Sequence[str], grow: bool = True) -> np.ndarray:
        ids = []
        for t in tokens:
            i = self.ids.get(t)
            if i is None:
                if not grow:
                    continue
                i = self.ids[t] = len(self.ids)
                self.conn.execute("INSERT INTO vocab VALUES (?, ?)", (t, i))
            ids.append(i)
        return np.asarray(ids, dtype=np.int32)


@dataclass(frozen=True)
class BM25Params:
    k1: float = 1.2
    b: float = 0.75


def build_bm25(conn: sqlite3.Connection, folder: Path, params: BM25Params | None = None) -> None:
    """Rows follow chunk ids in ascending order, like the snapshot's arrays."""
    params = params or BM25Params()
    ensure_vocab_table(conn)
    rows = conn.execute("SELECT tokens FROM chunks ORDER BY id").fetchall()
    n_terms = int(conn.execute("SELECT COUNT(*) FROM vocab").fetchone()[0])
    arrays = [np.frombuffer(r[0], dtype=np.int32) if r[0] else np.zeros(0, np.int32) for r in rows]
    n = len(arrays)
    lengths = np.fromiter((a.size for a in arrays), dtype=np.int64, count=n)
    terms = np.concatenate(arrays) if arrays else np.zeros(0, np.int32)
    docs = np.repeat(np.arange(n, dtype=np.int32), lengths)
    tf = sp.csr_matrix((np.ones(terms.size, np.float32), (docs, terms)), shape=(n, max(n_terms, 1)))
    tf.sum_duplicates()
    avgdl = float(lengths.mean()) if n else 1.0
    df = np.bincount(tf.indices, minlength=tf.shape[1])
    idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
    row_len = np.repeat(lengths, np.diff(tf.indptr))
    k1, b = params.k1, params.b
    tf.data = (tf.data * (k1 + 1) / (tf.data + k1 * (1 - b + b * row_len / max(avgdl, 1e-9))) * idf[tf.indices]).astype(
        np.float32
    )
    sp.save_npz(folder / SPARSE, tf.tocsc(), compressed=False)
    meta = {"tokenizer": TOKENIZER_ID, "k1": k1, "b": b, "chunks": n, "terms": n_terms, "avgdl": avgdl}
    (folder / SPARSE_META).write_text(json.dumps(meta), encoding="utf-8")


class BM25Index:
    def __init__(self, matrix: sp.csc_matrix, vocab: dict[str, int]) -> None:
        self.matrix = matrix
        # each term's best contribution to any chunk: the most a query's terms could score together
        sizes = np.diff(matrix.indptr)
        best = np.zeros(matrix.shape[1], dtype=np.float32)
        filled = sizes > 0
        if matrix.nnz:
            best[filled] = np.maximum.reduceat(matrix.data, matrix.indptr[:-1][filled])
        self._best = best
        self.vocab = vocab

    @classmethod
    def load(cls, folder: Path, conn: sqlite3.Connection) -> BM25Index:
        matrix = sp.load_npz(folder / SPARSE).tocsc()
        return cls(matrix, dict(conn.execute("SELECT term, id FROM vocab")))

    def idf(self, term: str) -> float:
        """How rare a term is across chunks; a term no chunk contains is as rare as can be."""
        j = self.vocab.get(term)
        n = self.matrix.shape[0]
        df = 0 if j is None or j >= self.matrix.shape[1] else int(self.matrix.indptr[j + 1] - self.matrix.indptr[j])
        return float(np.log1p((n - df + 0.5) / (df + 0.5)))

    def scores(self, tokens: Sequence[str]) -> np.ndarray:
        """BM25 score of every chunk row for the query tokens (repeated query terms count again)."""
        scores = np.zeros(self.matrix.shape[0], dtype=np.float32)
        m = self.matrix
        for t in tokens:
            j = self.vocab.get(t)
            if j is None or j >= m.shape[1]:
                continue
            lo, hi = m.indptr[j], m.indptr[j + 1]
            scores[m.indices[lo:hi]] += m.data[lo:hi]
        return scores

    def ceiling(self, tokens: Sequence[str]) -> float:
        """The highest score these tokens could give a chunk: a scale for a top score that does not depend
        on this archive's size or chunk lengths (a top score of 60% of it means the same anywhere)."""
        ids = [self.vocab[t] for t in tokens if t in self.vocab and self.vocab[t] < self._best.size]
        return float(self._best[ids].sum()) if ids else 0.0

    def search(self, tokens: Sequence[str], k: int, mask: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Top-k (row, score) with score > 0; `mask` (bool per row) applies before truncation."""
        scores = self.scores(tokens)
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        k = min(k, int(np.count_nonzero(scores)))
        if k <= 0:
            return []
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(r), float(scores[r])) for r in top]

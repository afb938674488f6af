"""Vectors by (embedder, text hash), kept beside the versions: a killed ingest restarts without
re-embedding what it already did, and re-chunking reuses every unchanged chunk's vector."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np


class EmbeddingCache:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(path)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS vectors (model TEXT, hash TEXT, vector BLOB, PRIMARY KEY (model, hash))"
        )

    def get_many(self, model: str, hashes: Sequence[str], dim: int | None) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(hashes))
        for start in range(0, len(unique), 500):
            part = unique[start : start + 500]
            marks = ",".join("?" * len(part))
            rows = self.conn.execute(
                f"SELECT hash, vector FROM vectors WHERE model = ? AND hash IN ({marks})", (model, *part)
            )
            for h, blob in rows:
                vec = np.frombuffer(blob, dtype=np.float32)
                if dim is None or vec.shape[0] == dim:
                    found[h] = vec
        return found

    def put_many(self, model: str, hashes: Sequence[str], vectors: np.ndarray) -> None:
        with self.conn:
            self.conn.executemany(
                "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
                [(model, h, np.asarray(v, dtype=np.float32).tobytes()) for h, v in zip(hashes, vectors, strict=True)],
            )

    def retain(self, model: str, keep: set[str]) -> int:
        """Drop vectors no published chunk uses any more; returns how many went."""
        stale = [h for (h,) in self.conn.execute("SELECT hash FROM vectors WHERE model = ?", (model,)) if h not in keep]
        with self.conn:
            self.conn.executemany("DELETE FROM vectors WHERE model = ? AND hash = ?", [(model, h) for h in stale])
        return len(stale)

    def close(self) -> None:
        self.conn.close()

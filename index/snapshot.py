"""A published index version opened for reading: what the query side searches."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from index import docstore
from index.docstore import PostMeta, StoredChunk
from index.store import DOCSTORE, IndexFolder, Manifest, read_dense


@dataclass
class Snapshot:
    """One immutable version. Arrays are aligned by row: `chunk_ids[i]` belongs to post
    `chunk_post[i]`, an index into `posts` (so filters become numpy masks, not SQL)."""

    path: Path
    manifest: Manifest
    dense: faiss.Index
    conn: sqlite3.Connection
    posts: list[PostMeta]
    chunk_ids: np.ndarray  # int64, sorted
    chunk_post: np.ndarray  # int32

    @classmethod
    def open(cls, root: Path, embedder: str | None = None, dim: int | None = None) -> Snapshot:
        """Open the published version; with `embedder`, refuse one built by another model."""
        path = IndexFolder(root).require_current()
        manifest = Manifest.read(path)
        if embedder is not None:
            manifest.check_embedder(path, embedder, dim)
        conn = docstore.connect(path / DOCSTORE, readonly=True)
        posts = docstore.all_posts(conn)
        row_of = {p.source: i for i, p in enumerate(posts)}
        pairs = docstore.chunk_index(conn)
        chunk_ids = np.fromiter((i for i, _ in pairs), dtype=np.int64, count=len(pairs))
        chunk_post = np.fromiter((row_of[s] for _, s in pairs), dtype=np.int32, count=len(pairs))
        return cls(path, manifest, read_dense(path), conn, posts, chunk_ids, chunk_post)

    @property
    def version(self) -> str:
        return self.manifest.version

    def post_of(self, chunk_id: int) -> PostMeta:
        row = int(np.searchsorted(self.chunk_ids, chunk_id))
        return self.posts[int(self.chunk_post[row])]

    def chunks(self, ids: list[int]) -> dict[int, StoredChunk]:
        return docstore.chunks_by_id(self.conn, ids)

    def post_chunks(self, sources: list[str]) -> dict[str, list[StoredChunk]]:
        return docstore.chunks_of_posts(self.conn, sources)

    def search_dense(
        self, query: np.ndarray, k: int, selector: faiss.IDSelector | None = None
    ) -> list[tuple[int, float]]:
        """Top-k (chunk id, cosine); a `selector` restricts the search before truncation (filters)."""
        k = min(k, self.dense.ntotal)
        if k <= 0:
            return []
        params = None
        if selector is not None:
            params = faiss.SearchParameters()
            params.sel = selector
        scores, ids = self.dense.search(query.reshape(1, -1).astype(np.float32), k, params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def close(self) -> None:
        self.conn.close()

"""Builds the query-side objects from settings, once: the CLI and the app factory share this."""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from pathlib import Path
from zoneinfo import ZoneInfo

from index.docstore import PostMeta, StoredChunk
from index.embedding import Embedder, load_embedder
from index.sparse import JapaneseTokenizer
from index.store import IndexFolder
from index.text import language_of
from rag.retrieval.filters import Filters
from rag.retrieval.relevance import RelevanceModel
from rag.retrieval.retriever import Retriever, SearchResult
from rag.settings import Settings


@dataclass(frozen=True)
class Search:
    result: SearchResult
    relevance: float  # calibrated probability that the archive holds an answer
    not_in_archive: bool


class Engine:
    """The loaded index and models. `reload()` swaps in a newly published index version; a search
    that already holds the old retriever finishes on it."""

    def __init__(self, settings: Settings, index: Path | None = None, embedder: Embedder | None = None) -> None:
        import faiss

        # One query at a time is too small to split: OpenMP threads made FAISS 3.5x slower per query here
        # (27 ms against 7.5 ms on 47k vectors), fighting torch and the other requests for the two cores.
        faiss.omp_set_num_threads(1)
        self.settings = settings
        self.index_root = index or settings.index_path
        self.embedder = embedder or load_embedder(settings.embedding_model, settings.embedder_options())
        self.tokenize = JapaneseTokenizer()
        self.config = settings.retrieval_config()
        self.relevance = RelevanceModel.load(self.embedder.name, settings.relevance_threshold)
        self.english_threshold = settings.relevance_threshold_en  # None: the relevance model's own
        self._lock = threading.Lock()
        self.retriever = Retriever.open(self.index_root, self.embedder, self.tokenize, self.config)
        self.reranker = None
        if settings.reranker:
            from rag.retrieval.rerank import Reranker

            self.reranker = Reranker(settings.reranker, settings.reranker_depth)

    @property
    def version(self) -> str:
        return self.retriever.snapshot.version

    # --- what the answer and the desk need of the index, by name -----------------------------------------

    @property
    def timezone(self) -> ZoneInfo:
        """The site's timezone: post dates, periods and months are read in it."""
        return self.retriever.tz

    @property
    def posts(self) -> list[PostMeta]:
        """Every post of the served version (title, date, URL, categories, tags)."""
        return self.retriever.snapshot.posts

    @property
    def site_title(self) -> str:
        """The archive's name as its site config gives it (empty for an index built before it was kept)."""
        return str(self.retriever.snapshot.manifest.extra.get("site_title") or "")

    def idf(self, term: str) -> float:
        """How much a search term weighs in this index (BM25's idf)."""
        return float(self.retriever.bm25.idf(term))

    def post_chunks(self, sources: list[str]) -> dict[str, list[StoredChunk]]:
        """Every chunk of the given posts, in reading order."""
        return self.retriever.snapshot.post_chunks(sources)

    def published_version(self) -> str | None:
        current = IndexFolder(self.index_root).current()
        return current.name if current else None

    def reload(self) -> bool:
        """Open the published version if it is newer; True when it switched."""
        with self._lock:
            if self.published_version() in (None, self.version):
                return False
            fresh = Retriever.open(self.index_root, self.embedder, self.tokenize, self.config)
            self.retriever = fresh  # the old snapshot's connection closes when its last user drops it
            return True

    def search(self, query: str, k: int = 10, filters: Filters | None = None, sparse_extra: str = "") -> Search:
        if self.reranker is None:
            result = self.retriever.search(query, k, filters, sparse_extra)
        else:  # the cross-encoder sees a deeper list than it returns
            result = self.retriever.search(query, max(k, self.reranker.depth), filters, sparse_extra)
            result = replace(result, hits=self.reranker.rerank(query, result.hits)[:k])
        p = self.relevance.probability(result)
        if self.english_threshold is not None and language_of(query) == "en":
            return Search(result, p, p < self.english_threshold)
        return Search(result, p, self.relevance.flags(p))

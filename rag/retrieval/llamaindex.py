"""Our retrieval as a LlamaIndex retriever, for researchers who build their own LlamaIndex pipelines
(query engines, agents) over the archive and want its Japanese hybrid search, filters and one hit per post."""

from __future__ import annotations

from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from rag.retrieval.engine import Engine
from rag.retrieval.filters import Filters


class ArchiveRetriever(BaseRetriever):
    def __init__(self, engine: Engine, k: int = 10, filters: Filters | None = None) -> None:
        super().__init__()
        self._engine, self._k, self._filters = engine, k, filters

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        result = self._engine.search(query_bundle.query_str, self._k, self._filters).result
        return [
            NodeWithScore(
                node=TextNode(
                    id_=f"{hit.source}#{hit.passages[0].chunk_id}",
                    text=hit.text,
                    metadata={
                        "source": hit.source, "url": hit.url, "title": hit.title, "date": hit.date.isoformat(),
                        "categories": list(hit.categories), "tags": list(hit.tags), "heading": " > ".join(hit.heading),
                    },
                ),
                score=hit.score,
            )
            for hit in result.hits
        ]  # fmt: skip

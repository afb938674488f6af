"""Optional second stage: a sentence-transformers CrossEncoder (RAG_RERANKER) re-scores the fused
posts by their best passage. No multilingual cross-encoder ships with weights on PyPI, so it is off
by default; users with hub access can set e.g. RAG_RERANKER=hotchpotch/japanese-reranker-cross-encoder-small-v1."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from index.errors import ModelNotFound
from rag.retrieval.retriever import Hit


class Reranker:
    def __init__(self, name: str, depth: int = 20) -> None:
        from sentence_transformers import CrossEncoder

        try:
            self.model: Any = CrossEncoder(name, device="cpu")
        except (OSError, ValueError) as exc:
            raise ModelNotFound(
                f"reranker {name!r} could not be loaded: {str(exc).splitlines()[0]}; "
                "download it first or unset RAG_RERANKER"
            ) from exc
        self.name, self.depth = name, depth

    def rerank(self, query: str, hits: list[Hit]) -> list[Hit]:
        """The top `depth` hits in the cross-encoder's order (the rest keep theirs), ranks renumbered."""
        head, tail = hits[: self.depth], hits[self.depth :]
        if len(head) < 2:
            return hits
        scores = self.model.predict([(query, f"{h.title}\n{h.text}") for h in head], show_progress_bar=False)
        order = sorted(range(len(head)), key=lambda i: -float(scores[i]))
        ranked = [replace(head[i], score=float(scores[i])) for i in order] + tail
        return [replace(h, rank=r) for r, h in enumerate(ranked, start=1)]

"""The retrieval side's configuration, a frozen dataclass built from `Settings` at the entry points."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

RetrievalMode = Literal["hybrid", "dense", "sparse"]


@dataclass(frozen=True)
class RetrievalConfig:
    mode: RetrievalMode = "hybrid"
    candidates: int = 100  # per leg, before fusion
    rrf_k: int = 60
    collapse: bool = True  # one hit per post
    passages_per_post: int = 3
    # Fuse post rankings rather than chunk rankings: a leg that returns ten chunks of one post
    # should vote for that post once, not push every other post down.
    fuse_posts: bool = True
    # BM25 counts three times the dense leg: best MRR on both dev.jsonl and JaQuAD (docs/retrieval.md)
    dense_weight: float = 1.0
    sparse_weight: float = 3.0
    # The same weights for questions with no Japanese in them, whose words BM25 can rarely match.
    en_dense_weight: float = 1.0
    en_sparse_weight: float = 3.0

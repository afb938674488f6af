"""The retrieval side's configuration, a frozen dataclass built from `Settings` at the entry points."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

RetrievalMode = Literal["hybrid", "dense", "sparse"]


@dataclass(frozen=True)
class RetrievalConfig:
    """Every value comes from `Settings.retrieval_config()`, where the defaults and their reasons live."""

    mode: RetrievalMode
    candidates: int  # per leg, before fusion
    rrf_k: int
    collapse: bool  # one hit per post
    passages_per_post: int
    fuse_posts: bool  # fuse post rankings rather than chunk rankings (only when collapsing)
    dense_weight: float
    sparse_weight: float
    en_dense_weight: float  # the weights for questions with no Japanese in them
    en_sparse_weight: float

"""Does the archive hold anything on the question? A logistic model over retrieval evidence,
fitted by `python -m bench.calibrate` (dev.jsonl + JaQuAD) and stored per embedder in relevance.json."""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

from rag.retrieval.retriever import SearchResult

log = logging.getLogger(__name__)
MODELS = Path(__file__).with_name("relevance.json")
# log_sparse_top is a raw BM25 score, whose scale moves with the archive's size and chunk lengths;
# sparse_share is the same evidence on a scale that holds on any archive (docs/retrieval.md).
FEATURES = ("dense_top", "dense_gap", "log_sparse_top", "agree")
SCALE_FREE = ("dense_top", "dense_gap", "sparse_share", "agree")


def features(result: SearchResult, names: tuple[str, ...] = FEATURES) -> list[float]:
    legs = result.legs
    known = {
        "dense_top": legs.dense_top, "dense_gap": legs.dense_gap,
        "log_sparse_top": math.log1p(max(legs.sparse_top, 0.0)), "sparse_share": legs.sparse_share,
        "agree": float(legs.agree),
    }  # fmt: skip
    return [known[n] for n in names]


@dataclass(frozen=True)
class RelevanceModel:
    weights: tuple[float, ...] = ()
    bias: float = 0.0
    threshold: float = 0.0  # flag "not in archive" below this probability; 0 never flags
    names: tuple[str, ...] = FEATURES  # the features the weights belong to, as stored with them

    @classmethod
    def load(cls, embedder: str, threshold: float | None = None, path: Path = MODELS) -> RelevanceModel:
        table = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        entry = table.get(embedder)
        if entry is None:
            log.warning("no relevance calibration for embedder %r: nothing will be flagged as not in the "
                        "archive (run python -m bench.calibrate)", embedder)  # fmt: skip
            return cls(threshold=0.0)
        t = entry["threshold"] if threshold is None else threshold
        return cls(tuple(entry["weights"]), float(entry["bias"]), float(t), tuple(entry.get("features", FEATURES)))

    def probability(self, result: SearchResult) -> float:
        if not self.weights:
            return 1.0 if result.hits else 0.0
        if not result.hits:
            return 0.0
        z = self.bias + sum(w * x for w, x in zip(self.weights, features(result, self.names), strict=True))
        return 1.0 / (1.0 + math.exp(-z))

    def flags(self, probability: float) -> bool:
        return probability < self.threshold

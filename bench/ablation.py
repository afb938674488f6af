"""Retrieval ablations on the dev questions over the full index: each leg alone, fused, fused and
collapsed to one hit per post, and the fusion settings. Prints a markdown table for docs/retrieval.md.

    python -m bench.ablation --index data/bench/ingest-index [--out bench/results/ablation.json]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from bench.bench_jaquad import JaquadQuestion, build_archive, retrieval_scores
from bench.common import ROOT, add_questions_arg, env_path, write
from index.embedding import Embedder, load_embedder
from rag.evaluation.evaluate import evaluate, load_questions
from rag.retrieval.engine import Engine
from rag.settings import Settings

CHUNK_RRF = {"mode": "hybrid", "fuse_posts": False, "sparse_weight": 1.0}
POST_RRF = {"mode": "hybrid", "fuse_posts": True}
VARIANTS: dict[str, dict[str, Any]] = {
    "bm25 only": {"mode": "sparse"},
    "dense only": {"mode": "dense"},
    "dense only, chunks": {"mode": "dense", "collapse": False},
    "fused (RRF k=60), chunks": {**CHUNK_RRF, "collapse": False},
    "fused + collapse": CHUNK_RRF,
    "fused + collapse, RRF k=20": {**CHUNK_RRF, "rrf_k": 20},
    "fused + collapse, 50 candidates a leg": {**CHUNK_RRF, "candidates": 50},
    "fused + collapse, 200 candidates a leg": {**CHUNK_RRF, "candidates": 200},
    "fused + collapse, bm25 weight 2": {**CHUNK_RRF, "sparse_weight": 2.0},
    "fused by post ranks": {**POST_RRF, "sparse_weight": 1.0},
    "fused by post ranks, bm25 weight 2": {**POST_RRF, "sparse_weight": 2.0},
    "fused by post ranks, bm25 weight 3 (default)": {**POST_RRF, "sparse_weight": 3.0},
    "fused by post ranks, bm25 weight 5": {**POST_RRF, "sparse_weight": 5.0},
}


class MemoEmbedder:
    """Embeds each query once across variants: the ablation compares rankings, not embedding speed."""

    def __init__(self, inner: Embedder) -> None:
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.memo: dict[str, np.ndarray] = {}

    def embed_query(self, text: str) -> np.ndarray:
        if text not in self.memo:
            self.memo[text] = self.inner.embed_query(text)
        return self.memo[text]

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_documents(texts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/ablation.json")
    parser.add_argument("--index", type=Path, default=None)
    add_questions_arg(parser)
    parser.add_argument("--jaquad-work", type=Path, default=ROOT / "data/bench/jaquad", help="from make bench-jaquad")
    args = parser.parse_args()
    settings = Settings()
    embedder = MemoEmbedder(load_embedder(settings.embedding_model, settings.embedder_options()))
    engine = Engine(settings, index=args.index, embedder=embedder)
    questions = load_questions(args.questions)
    jaquad: tuple[Engine, list[JaquadQuestion]] | None = None
    if (args.jaquad_work / "index").is_dir():
        jaquad_questions = build_archive(env_path("JAQUAD_DIR", str(ROOT.parent / "shared/external/jaquad")),
                                         args.jaquad_work / "archive")  # fmt: skip
        jaquad = Engine(settings, index=args.jaquad_work / "index", embedder=embedder), jaquad_questions
    rows: dict[str, Any] = {}
    defaults = asdict(settings.retrieval_config())  # each variant changes the configured retrieval only
    for name, changes in VARIANTS.items():
        engine.retriever = engine.retriever.with_config(**{**defaults, **changes})
        m = evaluate(engine, questions)["metrics"]
        rows[name] = {
            "hit@1": m["answerable"]["hit@1"], "hit@3": m["answerable"]["hit@3"], "hit@5": m["answerable"]["hit@5"],
            "hit@10": m["answerable"]["hit@10"], "mrr@10": m["answerable"]["mrr@10"],
            "en_hit@5": m["by_lang"].get("en", {}).get("hit@5"),
        }  # fmt: skip
        if jaquad:
            j_engine, j_questions = jaquad
            j_engine.retriever = j_engine.retriever.with_config(**{**defaults, **changes})
            j = retrieval_scores(j_engine, j_questions, changes.get("mode", "hybrid"))
            rows[name] |= {"jaquad_hit@1": j["hit@1"], "jaquad_hit@5": j["hit@5"], "jaquad_mrr@10": j["mrr@10"]}
        print(name, json.dumps(rows[name]), flush=True)
    keys = ["hit@1", "hit@3", "hit@5", "hit@10", "mrr@10", "en_hit@5", "jaquad_hit@1", "jaquad_hit@5", "jaquad_mrr@10"]
    table = [
        "| variant | dev hit@1 | hit@3 | hit@5 | hit@10 | MRR@10 | English hit@5 | JaQuAD hit@1 | hit@5 | MRR@10 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in rows.items():
        table.append(f"| {name} | " + " | ".join(str(r.get(k, "")) for k in keys) + " |")
    print("\n".join(table))
    write(args.out, {"variants": rows, "table": table}, "python -m bench.ablation")


if __name__ == "__main__":
    main()

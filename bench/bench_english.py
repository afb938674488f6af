"""English questions over the Japanese archive: retrieval with the two legs weighted by the question's
language, and with Japanese search terms written by the model joining the BM25 leg.

For every English question of the dev set: the rank of the first gold post under each variant, and
hit@1/3/5 and MRR@10 per variant; the time the model took for the terms (it counts in ttft).

    python -m bench.bench_english [--index data/bench/ingest-index] [--questions dev.jsonl]
"""

from __future__ import annotations

import threading
import time
from typing import Any

from bench.common import bench_parser, latency, write
from rag.evaluation.evaluate import _block, _source, load_questions
from rag.llm.gate import ModelGate
from rag.llm.registry import load_llm
from rag.retrieval.query_terms import japanese_terms
from rag.settings import Settings

WEIGHTS = {"dense 1 : bm25 3 (default)": (1.0, 3.0), "dense 1 : bm25 1": (1.0, 1.0), "dense 3 : bm25 1": (3.0, 1.0)}


def main() -> None:
    parser = bench_parser(__doc__, "english.json")
    args = parser.parse_args()
    settings = Settings()
    from rag.retrieval.engine import Engine

    engine = Engine(settings, index=args.index)
    llm = load_llm(settings.llm_backend, settings.llm_options())
    assert llm is not None, "this benchmark needs the LLM"
    gate, cfg = ModelGate(1), settings.answer_config()
    questions = [q for q in load_questions(args.questions) if q.lang == "en" and q.answerable]
    terms: dict[str, str] = {}
    took: list[float] = []
    for q in questions:
        t0 = time.perf_counter()
        terms[q.id] = japanese_terms(llm, gate, q.question, cfg.limits(), threading.Event())
        took.append((time.perf_counter() - t0) * 1000)
    base = engine.retriever
    variants: dict[str, Any] = {}
    for label, (dense_w, sparse_w) in WEIGHTS.items():
        engine.retriever = base.with_config(**{"en_dense_weight": dense_w, "en_sparse_weight": sparse_w})
        for with_terms in (False, True):
            records = []
            for q in questions:
                hits = engine.search(q.question, 10, None, terms[q.id] if with_terms else "").result.hits
                top = [_source(h.source) for h in hits]
                rank = next((i + 1 for i, s in enumerate(top) if s in q.gold), None)
                records.append({"id": q.id, "gold_rank": rank})
            name = f"{label}{' + model terms' if with_terms else ''}"
            variants[name] = {**_block(records), "ranks": {r["id"]: r["gold_rank"] for r in records}}
    figures = {"questions": len(questions), "terms": terms, "terms_ms": latency(took), "variants": variants}
    write(args.out, figures, "python -m bench.bench_english")


if __name__ == "__main__":
    main()

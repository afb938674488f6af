"""Search latency on the full-archive index: the dev questions, each searched as a reader would
(query embedding, BM25, dense, fusion, post collapse), after a warm-up.

    python -m bench.bench_search [--index data/index] [--questions ../shared/eval/dev.jsonl] [--rounds 5]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.common import ROOT, add_questions_arg, latency, write
from rag.evaluation.evaluate import load_questions
from rag.retrieval.engine import Engine
from rag.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/search.json")
    parser.add_argument("--index", type=Path, default=None)
    add_questions_arg(parser)
    parser.add_argument("--rounds", type=int, default=5, help="times each question is searched")
    args = parser.parse_args()
    settings = Settings()
    engine = Engine(settings, index=args.index)
    questions = [q.question for q in load_questions(args.questions)]
    for q in questions[:5]:  # warm-up: first calls pay for lazy initialisation
        engine.search(q, 10)
    took: list[float] = []
    parts: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        for q in questions:
            result = engine.search(q, 10).result
            took.append(result.took_ms)
            for name, ms in result.timings.items():
                parts.setdefault(name, []).append(ms)
    figures = {
        "index_version": engine.version,
        "chunks": int(engine.retriever.snapshot.chunk_ids.size),
        "embedder": engine.embedder.name,
        "threads": settings.cpu_threads,
        "questions": len(questions),
        "searches": len(took),
        "search_ms": latency(took),
        "parts_ms": {name: latency(values) for name, values in parts.items()},
    }
    write(args.out, figures, "make bench-search")


if __name__ == "__main__":
    main()

"""Retrieval ablations on the dev questions over the full index: each leg alone, fused, fused and
collapsed to one hit per post, and the fusion settings. Prints a markdown table for docs/retrieval.md.

    python -m bench.ablation --index data/bench/ingest-index [--out bench/results/ablation.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bench.common import ROOT, env_path, write
from rag.engine import Engine
from rag.evaluate import evaluate, load_questions
from rag.settings import Settings

VARIANTS: dict[str, dict[str, Any]] = {
    "bm25 only": {"mode": "sparse"},
    "dense only": {"mode": "dense"},
    "fused (RRF k=60), chunks": {"mode": "hybrid", "collapse": False},
    "fused + collapse (default)": {"mode": "hybrid"},
    "fused + collapse, RRF k=20": {"mode": "hybrid", "rrf_k": 20},
    "fused + collapse, 50 candidates a leg": {"mode": "hybrid", "candidates": 50},
    "fused + collapse, 200 candidates a leg": {"mode": "hybrid", "candidates": 200},
    "dense only, chunks": {"mode": "dense", "collapse": False},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/ablation.json")
    parser.add_argument("--index", type=Path, default=None)
    parser.add_argument(
        "--questions", type=Path, default=env_path("RAG_EVAL", str(ROOT.parent / "shared/eval/dev.jsonl"))
    )
    args = parser.parse_args()
    engine = Engine(Settings(), index=args.index)
    questions = load_questions(args.questions)
    base = engine.retriever
    rows: dict[str, Any] = {}
    for name, changes in VARIANTS.items():
        engine.retriever = base.with_config(**changes)
        m = evaluate(engine, questions)["metrics"]
        rows[name] = {
            "hit@1": m["answerable"]["hit@1"], "hit@5": m["answerable"]["hit@5"], "hit@10": m["answerable"]["hit@10"],
            "mrr@10": m["answerable"]["mrr@10"], "en_hit@5": m["by_lang"].get("en", {}).get("hit@5"),
            "search_ms_p50": m["search_ms"]["p50"],
        }  # fmt: skip
        print(name, json.dumps(rows[name]))
    engine.retriever = base
    table = [
        "| variant | hit@1 | hit@5 | hit@10 | MRR@10 | English hit@5 | p50 ms |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in rows.items():
        cells = [r[k] for k in ("hit@1", "hit@5", "hit@10", "mrr@10", "en_hit@5", "search_ms_p50")]
        table.append(f"| {name} | " + " | ".join(str(c) for c in cells) + " |")
    print("\n".join(table))
    write(args.out, {"variants": rows, "table": table}, "python -m bench.ablation")


if __name__ == "__main__":
    main()

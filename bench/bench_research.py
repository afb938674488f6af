"""The research desk on the full archive: time of `research()` over up to 50 posts per topic once the
index is loaded (no LLM), and a seeded sample of 20 extracted figures for the manual precision check
(docs/research.md records the verdicts).

    python -m bench.bench_research --index data/bench/ingest-index [--out bench/results/research.json]
"""

from __future__ import annotations

import random
import time
from dataclasses import asdict

from bench.common import bench_parser, latency, write
from rag.desk.research import research
from rag.retrieval.engine import Engine
from rag.settings import Settings

# Companies, products and themes the archive follows over time (not questions from any eval set).
TOPICS = ["生成AI市場", "NVIDIA", "OpenAI", "TSMC", "ソフトバンク", "AIエージェント", "データセンター", "Google Gemini",
          "半導体", "自動運転"]  # fmt: skip
SAMPLE = 20


def main() -> None:
    parser = bench_parser(__doc__, "research.json", questions=False)
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7, help="which 20 figures are drawn for the manual check")
    args = parser.parse_args()
    started = time.perf_counter()
    engine = Engine(Settings(), index=args.index)
    load_s = time.perf_counter() - started
    research(engine, "AI", limit=5)  # the first call loads Sudachi's dictionary: not part of a research run
    runs: list[dict[str, object]] = []
    times: list[float] = []
    figures = []
    for topic in TOPICS:
        result = research(engine, topic, limit=args.limit)
        runs.append({"topic": topic, "ms": result.took_ms, "posts": len(result.posts), "figures": len(result.figures),
                     "changes": len(result.changes), "disagreements": len(result.disagreements)})  # fmt: skip
        times.append(result.took_ms)
        figures += [(topic, f) for f in result.figures]
    sample = random.Random(args.seed).sample(figures, min(SAMPLE, len(figures)))
    write(
        args.out,
        {
            "index": str(args.index),
            "index_load_s": round(load_s, 2),
            "limit": args.limit,
            "research_ms": latency(times),
            "runs": runs,
            "figures_total": len(figures),
            "seed": args.seed,
            "sample_for_manual_check": [{"topic": t, **asdict(f)} for t, f in sample],
        },
        f"python -m bench.bench_research --index {args.index} --seed {args.seed}",
    )


if __name__ == "__main__":
    main()

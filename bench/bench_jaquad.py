"""External retrieval benchmark on JaQuAD (Japanese Wikipedia QA, CC BY-SA 3.0): its 1,431
paragraphs become posts of a throwaway Jekyll archive, indexed by the normal ingest, and its 3,939
questions are searched with BM25 only, dense only and fused.

    python -m bench.bench_jaquad [--out bench/results/jaquad.json]   (JAQUAD_DIR, default ../shared/external/jaquad)
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import ROOT, env_path, latency, write
from index.embedding import load_embedder
from index.ingest import ingest
from rag.retrieval.engine import Engine
from rag.settings import Settings


@dataclass(frozen=True)
class JaquadQuestion:
    id: str
    question: str
    source: str  # the post the paragraph became


def build_archive(jaquad: Path, dest: Path) -> list[JaquadQuestion]:
    """One post per paragraph; the post's file name is the gold answer of the paragraph's questions."""
    posts = dest / "_posts"
    posts.mkdir(parents=True, exist_ok=True)
    questions: list[JaquadQuestion] = []
    n = 0
    for path in sorted(jaquad.glob("*.json")):
        for article in json.loads(path.read_text(encoding="utf-8"))["data"]:
            for para in article["paragraphs"]:
                n += 1
                name = f"2020-01-01-p{n:05d}.md"
                title = article["title"].replace('"', "'")
                text = f'---\ntitle: "{title}"\ndate: 2020-01-01 00:00:00 +0900\n---\n\n{para["context"]}\n'
                target = posts / name
                if not target.exists() or target.read_text(encoding="utf-8") != text:
                    target.write_text(text, encoding="utf-8")
                questions.extend(JaquadQuestion(q["id"], q["question"], name) for q in para["qas"])
    return questions


def retrieval_scores(engine: Engine, questions: list[JaquadQuestion], mode: str) -> dict[str, float]:
    retriever = engine.retriever.with_config(mode=mode)
    ranks: list[int | None] = []
    took: list[float] = []
    for q in questions:
        result = retriever.search(q.question, 10)
        top = [h.source for h in result.hits]
        ranks.append(top.index(q.source) + 1 if q.source in top else None)
        took.append(result.took_ms)
    n = len(ranks)
    return {
        "hit@1": round(sum(1 for r in ranks if r == 1) / n, 4),
        "hit@5": round(sum(1 for r in ranks if r and r <= 5) / n, 4),
        "mrr@10": round(sum(1 / r for r in ranks if r) / n, 4),
        "search_ms": latency(took),  # type: ignore[dict-item]
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/jaquad.json")
    parser.add_argument("--work", type=Path, default=ROOT / "data/bench/jaquad")
    parser.add_argument("--limit", type=int, default=0, help="only the first N questions (a quick look)")
    args = parser.parse_args()
    settings = Settings()
    jaquad = env_path("JAQUAD_DIR", str(ROOT.parent / "shared/external/jaquad"))
    questions = build_archive(jaquad, args.work / "archive")
    if args.limit:
        questions = questions[: args.limit]
    embedder = load_embedder(settings.embedding_model, settings.embedder_options())
    t0 = time.monotonic()
    summary = ingest(args.work / "archive", args.work / "index", embedder.name, lambda: embedder,
                     settings.ingest_options(), progress=True)  # fmt: skip
    engine = Engine(settings, index=args.work / "index", embedder=embedder)
    figures = {
        "paragraphs": summary.posts_seen, "chunks": summary.chunks_total, "questions": len(questions),
        "embedder": embedder.name, "ingest_seconds": round(time.monotonic() - t0, 1),
        "sparse": retrieval_scores(engine, questions, "sparse"), "dense": retrieval_scores(engine, questions, "dense"),
        "hybrid": retrieval_scores(engine, questions, "hybrid"),
    }  # fmt: skip
    write(args.out, figures, "make bench-jaquad")


if __name__ == "__main__":
    main()

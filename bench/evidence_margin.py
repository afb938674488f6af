"""How far ahead the best post's evidence is, and what quoting it alone would cost: per margin threshold,
the share of answerable questions whose evidence would be one post, and how often the evidence holds the
gold answer with and without the rule. No model is asked (a minute or two).

    python -m bench.evidence_margin --questions bench/data/tuning.jsonl --index data/bench/ingest-index \\
        --out bench/results/evidence-margin.json"""

from __future__ import annotations

from typing import Any

from bench.common import answerer_on, bench_parser, write
from index.text import language_of
from rag.answering.evidence import candidates, evidence_depth, lead
from rag.answering.meaning import Meaning
from rag.evaluation.evaluate import load_questions
from rag.evaluation.grading import grade
from rag.settings import Settings

MARGINS = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5)


def main() -> None:
    parser = bench_parser(__doc__, "evidence-margin.json")
    args = parser.parse_args()
    settings = Settings()
    answerer = answerer_on(args.index, settings)
    engine = answerer.engine
    cfg = answerer.config
    rows: list[dict[str, Any]] = []
    for q in load_questions(args.questions):
        if not q.answerable:
            continue
        lang = language_of(q.question)
        hits = engine.search(q.question, evidence_depth(cfg)).result.hits
        found = candidates(
            q.question, hits, answerer.scorer(), chars_per_source=cfg.chars_per_source,
            dense=Meaning(engine.embedder).of, prefer_dense=lang == "en",
            pool=max(cfg.evidence_pool, cfg.max_sources), favour_type=cfg.favour_type,
        )  # fmt: skip
        if not found:
            continue
        both = " ".join(c.text for c in found[: cfg.max_sources])
        alone_holds, both_hold = grade(found[0].text, q.answer).correct, grade(both, q.answer).correct
        rows.append({"id": q.id, "lang": lang, "lead": round(lead(found), 4) if len(found) > 1 else None,
                     "alone_holds": alone_holds, "both_hold": both_hold})  # fmt: skip
    table = []
    for margin in MARGINS:
        alone = [r for r in rows if r["lead"] is not None and r["lead"] >= margin]
        holds = sum(r["alone_holds"] if r in alone else r["both_hold"] for r in rows)
        table.append({"margin": margin, "quoted_alone": round(len(alone) / len(rows), 4),
                      "evidence_holds_gold": round(holds / len(rows), 4),
                      "alone_lost": sum(1 for r in alone if r["both_hold"] and not r["alone_holds"]),
                      "alone_gained": sum(1 for r in alone if r["alone_holds"] and not r["both_hold"])})  # fmt: skip
    baseline = round(sum(r["both_hold"] for r in rows) / len(rows), 4)
    write(args.out, {"questions": len(rows), "evidence_holds_gold_without_rule": baseline, "by_margin": table,
                     "rows": rows}, f"python -m bench.evidence_margin --questions {args.questions}")  # fmt: skip


if __name__ == "__main__":
    main()

"""Calibrates the key passage's support threshold (rag/answering/passages.py, KEY_PASSAGE_MIN for Japanese
questions, KEY_PASSAGE_MIN_MEANING for English ones) on dev.jsonl: for every question, the best
candidate sentence of the evidence the answer step would select, its support, and whether it alone
holds the gold answer (the grading of answer accuracy). The table gives, per threshold, how often a
passage is shown, how often a shown one holds the answer, and how often one is shown for a question
the archive cannot answer. No LLM is involved.

    python -m bench.calibrate_passage [--index data/bench/ingest-index] [--questions dev.jsonl]
"""

from __future__ import annotations

from typing import Any

from bench.common import answerer_on, bench_parser, write
from index.text import language_of
from rag.answering.evidence import evidence_depth
from rag.answering.meaning import Meaning
from rag.answering.passages import key_passages
from rag.evaluation.evaluate import load_questions
from rag.evaluation.grading import grade
from rag.settings import Settings

THRESHOLDS = (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def table(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    out = []
    for t in THRESHOLDS:
        shown = [r for r in answerable if r["support"] is not None and r["support"] >= t]
        right = sum(1 for r in shown if r["holds_answer"])
        out.append({
            "threshold": t,
            "shown_answerable": round(len(shown) / len(answerable), 3) if answerable else 0,
            "precision": round(right / len(shown), 3) if shown else 0,
            "holds_answer_share": round(right / len(answerable), 3) if answerable else 0,
            "shown_unanswerable": round(
                sum(1 for r in unanswerable if r["support"] is not None and r["support"] >= t) / len(unanswerable), 3
            ) if unanswerable else 0,
        })  # fmt: skip
    return out


def main() -> None:
    parser = bench_parser(__doc__, "passage-calibration.json")
    args = parser.parse_args()
    settings = Settings(llm_backend="none")

    answerer = answerer_on(args.index, settings)
    engine = answerer.engine
    cfg, scorer = answerer.config, answerer.scorer()
    rows = []
    for q in load_questions(args.questions):
        lang = language_of(q.question)
        search = engine.search(q.question, evidence_depth(cfg))
        meaning = Meaning(engine.embedder)
        sources = answerer.evidence(q.question, search.result.hits, lang, meaning)
        best = key_passages(q.question, sources, scorer, dense=meaning.of, by_meaning=lang == "en", threshold=0.0)
        text = best[0].text if best else ""
        rows.append({
            "id": q.id, "lang": lang, "answerable": q.answerable, "flagged": search.not_in_archive,
            "support": None if search.not_in_archive or not best else best[0].support,
            "holds_answer": bool(text) and q.answerable and grade(text, q.answer).correct, "passage": text,
        })  # fmt: skip
    figures = {
        "ja": table([r for r in rows if r["lang"] == "ja"]),
        "en": table([r for r in rows if r["lang"] == "en"]),
        "questions": rows,
    }
    write(args.out, figures, "python -m bench.calibrate_passage")


if __name__ == "__main__":
    main()

"""What RAG_ANSWER_VERSION_CHECK would refuse, without the model: for every question, whether it names a
product version and whether the posts evidence is drawn from name none of them. On questions the rule
was not written from (the tuning set past its first 200, dev), the refused answerable ones bound what it
can cost and the refused unanswerable ones what it can gain (minutes, no model).

    python -m bench.version_check --questions bench/data/tuning.jsonl --skip 200 \\
        --out bench/results/version-check-heldout.json"""

from __future__ import annotations

from typing import Any

from bench.common import answerer_on, bench_parser, write
from rag.answering.evidence import evidence_depth
from rag.answering.versions import unnamed_versions, versions_asked
from rag.evaluation.evaluate import load_questions
from rag.settings import Settings


def main() -> None:
    parser = bench_parser(__doc__, "version-check.json")
    parser.add_argument("--skip", type=int, default=0, help="leave out the first N questions")
    args = parser.parse_args()
    answerer = answerer_on(args.index, Settings())
    rows: list[dict[str, Any]] = []
    for q in load_questions(args.questions)[args.skip :]:
        if not versions_asked(q.question):
            continue
        hits = answerer.engine.search(q.question, evidence_depth(answerer.config)).result.hits
        missing = unnamed_versions(q.question, hits)
        rows.append({"id": q.id, "answerable": q.answerable, "asked": versions_asked(q.question),
                     "refused": bool(missing)})  # fmt: skip
    questions = load_questions(args.questions)[args.skip :]
    figures = {
        "questions": len(questions),
        "answerable": sum(q.answerable for q in questions),
        "unanswerable": sum(not q.answerable for q in questions),
        "naming_a_version": len(rows),
        "answerable_refused": sum(r["refused"] and r["answerable"] for r in rows),
        "unanswerable_refused": sum(r["refused"] and not r["answerable"] for r in rows),
        "rows": rows,
    }
    write(args.out, figures, f"python -m bench.version_check --questions {args.questions} --skip {args.skip}")


if __name__ == "__main__":
    main()

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
from rag.retrieval.conversation import standalone
from rag.settings import Settings


def main() -> None:
    parser = bench_parser(__doc__, "version-check.json")
    parser.add_argument("--skip", type=int, default=0, help="leave out the first N questions")
    args = parser.parse_args()
    answerer = answerer_on(args.index, Settings())
    questions = load_questions(args.questions)[args.skip :]
    rows: list[dict[str, Any]] = []
    for q in questions:
        # as the answer path asks it: the period it names read into filters, the rest searched and checked
        r = answerer.request(q.question)
        if not versions_asked(r.content):
            continue
        query = standalone(r.content, r.history).query
        hits = answerer.engine.search(query, evidence_depth(answerer.config, r.dating.latest), r.filters).result.hits
        rows.append({"id": q.id, "answerable": q.answerable, "asked": versions_asked(r.content),
                     "refused": bool(unnamed_versions(r.content, hits))})  # fmt: skip
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

"""Why answerable questions were answered wrongly in a stored `rag eval --answers --json` run: each one is
put in the first stage that lost it, so the counts add up to the misses.

- flagged: the not-in-archive signal refused before the model was asked;
- retrieval: no gold post among the posts evidence is drawn from (top 5);
- evidence: a gold post was there, but the evidence the model read does not hold the gold answer
  (`evidence_gold_quoted` lists those where a gold post was quoted, only not the part with the answer);
- model refused: the evidence holds the answer and the model replied NOT_IN_ARCHIVE (or its sentences
  failed the checks);
- model wrong: the evidence holds the answer and the model wrote something else.

    python -m bench.failures bench/results/answers-dev-scale-free.json [--index data/bench/ingest-index]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

from bench.common import add_questions_arg, answerer_on
from index.text import language_of
from rag.answering.evidence import evidence_depth
from rag.evaluation.evaluate import load_questions
from rag.evaluation.grading import grade
from rag.settings import Settings


def stage(record: dict[str, Any], holds: bool) -> str:
    if record["flagged_not_in_archive"]:
        return "flagged"
    if record["gold_rank"] is None or record["gold_rank"] > 5:
        return "retrieval"
    if not holds:
        return "evidence"
    return "model refused" if record["refused"] or record["mode"] != "generative" else "model wrong"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("result", type=Path)
    parser.add_argument("--index", type=Path, default=None)
    add_questions_arg(parser)
    args = parser.parse_args()
    result = json.loads(args.result.read_text(encoding="utf-8"))
    gold = {q.id: q for q in load_questions(args.questions)}
    settings = Settings()
    answerer = answerer_on(args.index, settings)
    engine = answerer.engine
    depth = evidence_depth(answerer.config)
    stages: dict[str, list[str]] = {}
    quoted: list[str] = []
    for record in result["questions"]:
        q = gold[record["id"]]
        if not q.answerable or record["correct"]:
            continue
        hits = engine.search(q.question, depth).result.hits
        sources = answerer.evidence(q.question, hits, language_of(q.question))
        holds = grade(" ".join(s.text for s in sources), q.answer).correct
        stages.setdefault(stage(record, holds), []).append(record["id"])
        if stage(record, holds) == "evidence" and {s.source for s in sources} & set(q.gold):
            quoted.append(record["id"])
    counts = Counter({k: len(v) for k, v in stages.items()})
    report = {"missed": sum(counts.values()), "by_stage": stages, "evidence_gold_quoted": quoted}
    print(json.dumps(report, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()

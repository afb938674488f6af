"""Grades a stored `rag eval --answers --json` result again with today's rag/evaluation/grading.py, without asking the
model again: the answers and passages are in the file. Writes the file back with `regraded` set.

    python -m bench.regrade bench/results/answers-jaquad-3x120.json data/bench/jaquad/questions-200.jsonl
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rag.evaluation.evaluate import answer_metrics, graded, load_questions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("result", type=Path)
    parser.add_argument("questions", type=Path)
    args = parser.parse_args()
    result = json.loads(args.result.read_text(encoding="utf-8"))
    gold = {q.id: q for q in load_questions(args.questions)}
    changed = 0
    for record in result["questions"]:
        passages = [p["text"] for p in record.get("passages", [])]
        correct, passage_correct = graded(record["answer"], passages, gold[record["id"]], record.get("refused", False))
        changed += (correct, passage_correct) != (record["correct"], record["passage_correct"])
        record["correct"], record["passage_correct"] = correct, passage_correct
    before = result["metrics"]["answers"]["answer_accuracy"]
    result["metrics"]["answers"] = answer_metrics(result["questions"])
    result["regraded"] = "python -m bench.regrade"
    args.result.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    after = result["metrics"]["answers"]["answer_accuracy"]
    print(f"{args.result}: {changed} records regraded; answer accuracy {before} -> {after}")


if __name__ == "__main__":
    main()

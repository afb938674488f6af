"""The tuning set from the drafts and their blind reviews: every question that passes the mechanical
checks and the review, with posts holding the same evidence added to its gold posts, in dev.jsonl's
format (`bench/data/tuning.jsonl`); beside it, per question, what was checked (`tuning-checks.jsonl`).

    python -m bench.tuning.build data/tuning/drafts/sheet-*.jsonl --reviews data/tuning/reviews/sheet-*.jsonl"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

from bench.common import ROOT, env_path
from bench.tuning.check import FIELDS, Checker, counts, paraphrase_overlap, read_jsonl, reviewed
from bench.tuning.corpus import load_articles

OUT = ROOT / "bench" / "data"


def month_of(q: dict[str, Any], by_source: dict[str, Any]) -> str:
    gold = [by_source[g.removeprefix("_posts/")] for g in q["gold_posts"] if g.removeprefix("_posts/") in by_source]
    return gold[0].post.date.strftime("%Y-%m") if gold else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("drafts", nargs="+", type=Path)
    parser.add_argument("--reviews", nargs="+", type=Path, required=True)
    parser.add_argument("--archive", type=Path, default=env_path("RAG_ARCHIVE", "../shared/corpus"))
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    articles = load_articles(args.archive)
    checker = Checker(articles)
    by_source = {a.source: a for a in articles}
    reviews = {str(r.get("id")): r for r in read_jsonl(args.reviews)}
    kept: list[dict[str, Any]] = []
    checks: list[dict[str, Any]] = []
    dropped: Counter[str] = Counter()
    for q in read_jsonl(args.drafts):
        verdict = checker.check(q)
        problems = list(verdict.problems) or reviewed(q, reviews.get(verdict.id))
        if problems:
            dropped[problems[0].split(":")[0]] += 1
            continue
        row = {k: q[k] for k in FIELDS}
        row["gold_posts"] = list(dict.fromkeys([*q["gold_posts"], *(f"_posts/{s}" for s in verdict.also_gold)]))
        kept.append(row)
        checks.append(
            {
                "id": q["id"], "style": q.get("style", ""), "overlap": paraphrase_overlap(q["question"], q["evidence"]),
                "month": month_of(row, by_source), "added_gold": list(verdict.also_gold),
                "review": {k: reviews[q["id"]].get(k) for k in ("reply", "post_answers", "unambiguous")},
            }
        )  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    write_jsonl(args.out / "tuning.jsonl", kept)
    write_jsonl(args.out / "tuning-checks.jsonl", checks)
    japanese = [c for c, q in zip(checks, kept, strict=True) if q["lang"] == "ja" and q["answerable"]]
    summary = {
        **counts(kept),
        "dropped": dict(dropped),
        "months": dict(sorted(Counter(c["month"] for c in checks if c["month"]).items())),
        "japanese_paraphrase_share": round(
            sum(1 for c in japanese if c["style"] == "paraphrase") / len(japanese), 3
        ) if japanese else 0,
        "japanese_overlap_below_0.5": sum(1 for c in japanese if c["overlap"] < 0.5),
    }  # fmt: skip
    print(json.dumps(summary, ensure_ascii=False, indent=2))


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


if __name__ == "__main__":
    main()

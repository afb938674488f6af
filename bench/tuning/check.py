"""The checks every kept question passes, mechanical first, then the blind review.

    python -m bench.tuning.check DRAFTS.jsonl [...] --mechanical        # the drafter's own check
    python -m bench.tuning.check DRAFTS.jsonl [...] --reviews REVIEWS.jsonl [...]

Mechanical, per question: the fields and kinds of dev.jsonl; the evidence verbatim in a gold post's
cleaned text (NFKC, white space and emphasis aside); the gold answer graded right against its own
evidence by `rag.evaluation.grading` (for a multi-post question, against its gold posts together), so it holds
nothing its evidence does not state; a filter question's gold posts inside the period or category it
names; a latest question's gold post the newest whose title names its topic; an unanswerable
question's absent terms never all in one post. Blind review: a reviewer who saw the question and the
gold post, never the answer, wrote what the post answers and whether the question has one answer;
the gold answer must grade that reply right and the reviewer must call the question unambiguous."""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from bench.common import env_path
from bench.tuning.corpus import Article, flat, load_articles
from rag.evaluation.grading import grade
from rag.retrieval.periods import read_period

FIELDS = ("id", "question", "lang", "answerable", "gold_posts", "answer", "evidence", "kind")
KINDS = {"numeric", "temporal", "factoid", "comparison", "multi-post", "filter", "latest", "unanswerable"}
# The day the periods of filter questions are read against: after the last post, so 「昨年」 is 2025.
ASKED_ON = date(2026, 12, 7)


@dataclass(frozen=True)
class Verdict:
    id: str
    problems: tuple[str, ...]
    also_gold: tuple[str, ...] = ()  # other posts holding the evidence verbatim

    @property
    def ok(self) -> bool:
        return not self.problems


def read_jsonl(paths: list[Path]) -> list[dict[str, Any]]:
    rows = []
    for path in paths:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    rows.append({"id": f"{path.name}:{n}", "_broken": str(exc)})
    return rows


class Checker:
    def __init__(self, articles: list[Article]) -> None:
        self.by_source = {a.source: a for a in articles}
        self.articles = articles

    def _gold(self, q: dict[str, Any]) -> tuple[list[Article], list[str]]:
        found, problems = [], []
        for g in q.get("gold_posts", []):
            a = self.by_source.get(str(g).removeprefix("_posts/"))
            if a is None:
                problems.append(f"gold post not in the archive: {g}")
            else:
                found.append(a)
        return found, problems

    def check(self, q: dict[str, Any]) -> Verdict:
        qid = str(q.get("id", "?"))
        if "_broken" in q:
            return Verdict(qid, (f"not JSON: {q['_broken']}",))
        problems = [f"missing field {f}" for f in FIELDS if f not in q]
        if problems:
            return Verdict(qid, tuple(problems))
        if q["lang"] not in ("ja", "en"):
            problems.append(f"lang {q['lang']!r}")
        if q["kind"] not in KINDS:
            problems.append(f"kind {q['kind']!r}")
        if not q["answerable"]:
            return Verdict(qid, tuple(problems + self._absent(q)))
        gold, missing = self._gold(q)
        problems += missing
        if not gold:
            return Verdict(qid, tuple(problems or ["no gold post"]))
        ev = flat(q["evidence"])
        if len(ev) < 8 or not any(ev in a.flat for a in gold):
            problems.append("evidence is not verbatim in a gold post")
        support = " ".join(a.text for a in gold) if q["kind"] == "multi-post" else q["evidence"]
        if not grade(support, q["answer"]).correct:
            problems.append("the answer is not graded right against its own evidence")
        if flat(q["answer"]) and flat(q["answer"]) == ev:
            problems.append("the answer is the whole evidence sentence")
        if q["kind"] == "filter":
            problems += self._filter(q, gold)
        if q["kind"] == "latest":
            problems += self._latest(q, gold)
        listed = {a.source for a in gold}
        also = tuple(a.source for a in self.articles if a.source not in listed and len(ev) >= 8 and ev in a.flat)
        return Verdict(qid, tuple(problems), also)

    def _absent(self, q: dict[str, Any]) -> list[str]:
        terms = [flat(t).lower() for t in q.get("absent_terms") or [] if flat(t)]
        if not terms:
            return ["an unanswerable question needs absent_terms"]
        holders = [a.source for a in self.articles if all(t in a.flat.lower() for t in terms)]
        return [f"absent terms all found in {holders[0]} (+{len(holders) - 1})"] if holders else []

    def _filter(self, q: dict[str, Any], gold: list[Article]) -> list[str]:
        period = read_period(q["question"], ASKED_ON)
        if period is not None:
            outside = [a.source for a in gold if not period.since <= a.post.date.date() <= period.until]
            return [f"gold post outside {period.label}: {outside[0]}"] if outside else []
        named = [c for a in gold for c in a.post.categories if c and c in q["question"]]
        if named:
            return []
        return ["a filter question names no period of posts and no category of its gold post"]

    def _latest(self, q: dict[str, Any], gold: list[Article]) -> list[str]:
        topic = str(q.get("topic") or "").lower()
        if not topic:
            return ["a latest question needs its topic"]
        on_topic = [a for a in self.articles if topic in a.post.title.lower()]
        if not on_topic:
            return [f"no post title names the topic {topic!r}"]
        newest = max(on_topic, key=lambda a: a.post.date)
        if gold[0].source != newest.source:
            return [f"the newest post on {topic!r} is {newest.source}"]
        return []


def paraphrase_overlap(question: str, evidence: str) -> float:
    """Share of the question's character bigrams that occur in the evidence: 1.0 is a copy."""
    q, e = flat(question), flat(evidence)
    grams = {q[i : i + 2] for i in range(len(q) - 1)}
    return round(sum(1 for g in grams if g in e) / len(grams), 3) if grams else 0.0


def counts(rows: list[dict[str, Any]]) -> dict[str, Any]:
    kinds: dict[str, int] = {}
    for r in rows:
        kinds[str(r.get("kind"))] = kinds.get(str(r.get("kind")), 0) + 1
    return {
        "n": len(rows),
        "english": sum(1 for r in rows if r.get("lang") == "en"),
        "unanswerable": sum(1 for r in rows if r.get("answerable") is False),
        "kinds": dict(sorted(kinds.items())),
    }


def reviewed(q: dict[str, Any], review: dict[str, Any] | None) -> list[str]:
    if review is None:
        return ["no blind review"]
    if not q["answerable"]:
        return [] if review.get("post_answers") is False else ["the reviewer found an answer in the archive"]
    problems = []
    if not review.get("post_answers"):
        problems.append("the reviewer found no answer in the post")
    if not review.get("unambiguous"):
        problems.append(f"the reviewer called it ambiguous: {review.get('note', '')}")
    if not grade(str(review.get("reply", "")), q["answer"]).correct:
        problems.append(f"the reviewer's reply {review.get('reply')!r} does not grade right")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("drafts", nargs="+", type=Path)
    parser.add_argument("--archive", type=Path, default=env_path("RAG_ARCHIVE", "../shared/corpus"))
    parser.add_argument("--mechanical", action="store_true", help="only the mechanical checks")
    parser.add_argument("--reviews", nargs="*", type=Path, default=[])
    args = parser.parse_args()
    rows = read_jsonl(args.drafts)
    checker = Checker(load_articles(args.archive))
    reviews = {str(r.get("id")): r for r in read_jsonl(args.reviews)} if args.reviews else {}
    failed = 0
    seen: set[str] = set()
    for q in rows:
        v = checker.check(q)
        problems = list(v.problems)
        if v.id in seen:
            problems.append("duplicate id")
        seen.add(v.id)
        if not args.mechanical and not problems:
            problems += reviewed(q, reviews.get(v.id))
        if problems:
            failed += 1
            print(f"{v.id}: " + "; ".join(problems))
        elif v.also_gold:
            print(f"{v.id}: ok, evidence also in {', '.join(v.also_gold)}")
    c = counts(rows)
    print(json.dumps({**c, "failed": failed}, ensure_ascii=False))
    if re.search(r"sheet-\d+", " ".join(map(str, args.drafts))) and len(args.drafts) == 1:
        short = [k for k, least in (("n", 45), ("english", 12), ("unanswerable", 5)) if c[k] < least]
        if short:
            print("short of the sheet's counts: " + ", ".join(short))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

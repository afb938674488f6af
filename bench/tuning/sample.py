"""Draw posts across the archive's months and, from each, the sentences that state checkable facts;
write one drafting sheet per drafter (under data/, never committed: they quote the archive).

    python -m bench.tuning.sample [--seed 17] [--posts 360] [--sheets 8] [--out data/tuning/sheets]

Posts are drawn per month in proportion to the month's size (at least 12 from each), so every part of
the archive is asked about; sentences are ranked by how many figures, dates and names they hold, and
topics that several posts share are listed for questions across posts and "latest" questions."""

from __future__ import annotations

import argparse
import json
import random
import re
from collections import Counter, defaultdict
from pathlib import Path

from bench.common import env_path
from bench.tuning.corpus import Article, load_articles
from index.text.quantities import quantities

_DATE = re.compile(r"\d{4}年|\d{1,2}月\d{1,2}日|\d{1,2}月")
_NAME = re.compile(r"[A-Z][A-Za-z0-9.\-]{2,}|[\u30a0-\u30ffー]{4,}")
_TOPIC = re.compile(r"[A-Z][A-Za-z0-9\-]{2,}")
_HEDGE = re.compile(r"[？?]|でしょうか|かもしれ|思います|ませんか|ですよね")
PER_POST = 8


def fact_score(sentence: str) -> int:
    if not 25 <= len(sentence) <= 220 or _HEDGE.search(sentence):
        return 0
    return 2 * len(quantities(sentence)) + len(_DATE.findall(sentence)) + min(len(_NAME.findall(sentence)), 3)


def draw_posts(articles: list[Article], n: int, rng: random.Random, least: int = 12) -> list[Article]:
    """`n` posts, per month in proportion to the month's size, at least `least` from each."""
    by_month: dict[str, list[Article]] = defaultdict(list)
    for a in articles:
        by_month[a.post.date.strftime("%Y-%m")].append(a)
    total = len(articles)
    picked: list[Article] = []
    for month in sorted(by_month):
        pool = sorted(by_month[month], key=lambda a: a.source)
        k = min(len(pool), max(least, round(n * len(pool) / total)))
        picked.extend(rng.sample(pool, k))
    rng.shuffle(picked)
    return picked[:n] if len(picked) > n else picked


def topics(articles: list[Article], exclude: set[str]) -> dict[str, list[Article]]:
    """Latin-script names in titles that 3 to 15 posts share (a company, a product, a model)."""
    counts: Counter[str] = Counter()
    for a in articles:
        counts.update(set(_TOPIC.findall(a.post.title)))
    common = {"AI", "LLM", "API", "GPU", "DX", "SaaS", "The", "RAG", "IoT", "CEO", "AGI", "ROI"}
    out: dict[str, list[Article]] = {}
    for name, c in counts.items():
        if 3 <= c <= 15 and name not in common and name not in exclude:
            out[name] = sorted((a for a in articles if name in a.post.title), key=lambda a: a.post.date)
    return out


def sheet(articles: list[Article], topic_posts: dict[str, list[Article]], archive: Path) -> str:
    lines = [f"Archive: {archive}/_posts (read a whole post there when a sentence needs context)", ""]
    for a in articles:
        p = a.post
        ranked = sorted(a.sentences(), key=fact_score, reverse=True)
        facts = [s for s in ranked if fact_score(s) > 1][:PER_POST]
        lines += [f"## _posts/{p.source}", f"date: {p.date.date().isoformat()}  title: {p.title}",
                  f"categories: {', '.join(p.categories)}"]  # fmt: skip
        lines += [f"- {s}" for s in facts] + [""]
    lines += ["# Topics shared by several posts (for multi-post and latest questions)", ""]
    for name, posts in topic_posts.items():
        lines.append(f"## {name}")
        lines += [f"- {a.post.date.date().isoformat()} _posts/{a.source}: {a.post.title}" for a in posts]
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--archive", type=Path, default=env_path("RAG_ARCHIVE", "../shared/corpus"))
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--posts", type=int, default=360)
    parser.add_argument("--sheets", type=int, default=8)
    parser.add_argument("--topics", type=int, default=3, help="shared topics per sheet")
    parser.add_argument("--out", type=Path, default=Path("data/tuning/sheets"))
    parser.add_argument("--since", default="", help="only posts of this month (YYYY-MM) or later")
    parser.add_argument("--first-sheet", type=int, default=1, help="number of the first sheet written")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    articles = load_articles(args.archive)
    manifest_path = args.out / "manifest.json"
    earlier = json.loads(manifest_path.read_text(encoding="utf-8")) if args.first_sheet > 1 else {"sheets": []}
    taken = {p for sheet in earlier["sheets"] for p in sheet["posts"]}
    pool = [a for a in articles if a.source not in taken and a.post.date.strftime("%Y-%m") >= args.since]
    picked = draw_posts(pool, args.posts, rng, least=0)
    shared = topics(articles, set())
    names = sorted(shared)
    rng.shuffle(names)
    args.out.mkdir(parents=True, exist_ok=True)
    manifest = {"seed": args.seed, "archive_posts": len(articles), "sheets": earlier["sheets"]}
    used_topics = {t for sheet in earlier["sheets"] for t in sheet["topics"]}
    names = [n for n in names if n not in used_topics]
    for i in range(args.sheets):
        number = args.first_sheet + i
        part = picked[i :: args.sheets]
        chosen = {n: shared[n] for n in names[i * args.topics : (i + 1) * args.topics]}
        (args.out / f"sheet-{number}.md").write_text(sheet(part, chosen, args.archive), encoding="utf-8")
        manifest["sheets"].append({"sheet": number, "posts": [a.source for a in part], "topics": list(chosen),
                                   "seed": args.seed, "since": args.since})  # fmt: skip
    manifest_path.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    months = Counter(a.post.date.strftime("%Y-%m") for a in picked)
    print(f"{len(picked)} posts over {len(months)} months into {args.sheets} sheets: {dict(sorted(months.items()))}")


if __name__ == "__main__":
    main()

"""The research desk and the editors' reports: `rag research` and `rag report gaps|feedback`.
Registered on the `rag` parser by rag/cli/main.py; errors are turned into messages there."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from rag.desk.escaping import csv_cell, safe_url
from rag.settings import Settings

if TYPE_CHECKING:
    from rag.retrieval.filters import Filters

T = TypeVar("T")


def day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {text!r}") from None


INDEX_HELP = "index folder (default: data/index)"


def add_post_filters(p: argparse.ArgumentParser) -> None:
    """The posts a search or a research keeps: --category, --tag, --since, --until (site timezone)."""
    p.add_argument("--category", help="only posts in this category")
    p.add_argument("--tag", action="append", help="only posts with this tag (repeatable: all must match)")
    p.add_argument("--since", type=day, help="posts on or after YYYY-MM-DD (site timezone)")
    p.add_argument("--until", type=day, help="posts on or before YYYY-MM-DD (site timezone)")


def post_filters(args: argparse.Namespace) -> Filters:
    from rag.retrieval.filters import Filters  # numpy and the docstore: not for `rag --help`

    return Filters(args.category, tuple(args.tag or ()), args.since, args.until)


def _bar(items: Iterable[T], total: int, what: str) -> Iterable[T]:
    """A progress bar on a terminal; plain iteration in pipes and logs."""
    if not sys.stderr.isatty():
        return items
    from tqdm import tqdm

    return tqdm(items, total=total, desc=what, unit="post", leave=False)


def _write_file(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}", file=sys.stderr)


def _research(args: argparse.Namespace, settings: Settings) -> int:
    from rag.desk.report import html, markdown, research_json
    from rag.desk.research import research
    from rag.retrieval.engine import Engine

    engine = Engine(settings, index=args.index)
    filters = post_filters(args)
    result = research(engine, args.topic, filters, args.limit, lambda it, n: _bar(it, n, "reading posts"))
    if args.json:
        print(json.dumps(research_json(result), ensure_ascii=False))
    if args.md:
        _write_file(args.md, markdown(result))
    if args.html:
        _write_file(args.html, html(result))
    if not (args.json or args.md or args.html):
        print(markdown(result))
    return 0


def _since(day: date | None) -> datetime | None:
    return datetime.combine(day, time(), tzinfo=UTC) if day else None


def _gaps(args: argparse.Namespace, settings: Settings) -> int:
    from rag.desk.gaps import gap_clusters, gaps_json, gaps_markdown
    from rag.desk.questionlog import open_question_log, unanswered
    from rag.retrieval.engine import Engine

    wanted = unanswered(open_question_log(settings).entries(since=_since(args.since)))
    engine = Engine(settings, index=args.index)
    clusters = gap_clusters(wanted, engine, settings.gap_similarity)
    if args.json:
        print(json.dumps(gaps_json(clusters), ensure_ascii=False))
    if args.md:
        _write_file(args.md, gaps_markdown(clusters))
    if not (args.json or args.md):
        print(gaps_markdown(clusters))
    return 0


def _feedback(args: argparse.Namespace, settings: Settings) -> int:
    from rag.desk.questionlog import open_question_log

    rated = open_question_log(settings).entries(since=_since(args.since), rated_only=True)
    out = open(args.csv, "w", newline="", encoding="utf-8") if args.csv else sys.stdout  # noqa: SIM115
    try:
        writer = csv.writer(out)
        writer.writerow(["asked_at", "answer_id", "question", "rating", "comment", "mode", "cited"])
        for e in rated:
            cited = " ".join(safe_url(c["url"]) for c in e.cited)
            row = [e.asked_at.isoformat(), e.id, e.question, e.rating, e.comment, e.mode, cited]
            writer.writerow([csv_cell(cell) for cell in row])  # a comment 「=HYPERLINK(…)」 stays text
    finally:
        if args.csv:
            out.close()
            print(f"wrote {args.csv} ({len(rated)} rated answers)", file=sys.stderr)
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("research", help="posts, timeline, figures and disagreements on a topic (no LLM)")
    p.add_argument("topic")
    p.add_argument("--index", type=Path, help=INDEX_HELP)
    add_post_filters(p)
    p.add_argument("--limit", type=int, default=50, help="at most this many relevant posts (default 50)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.add_argument("--md", type=Path, metavar="FILE", help="write a Markdown report")
    p.add_argument("--html", type=Path, metavar="FILE", help="write a self-contained HTML report")
    p.set_defaults(func=_research)

    report = sub.add_parser("report", help="editors' reports from the question log")
    kinds = report.add_subparsers(dest="report", required=True)
    p = kinds.add_parser("gaps", help="what readers asked that the archive could not answer, by theme")
    p.add_argument("--index", type=Path, help="index folder, for the closest posts (default: data/index)")
    p.add_argument("--since", type=day, help="questions asked on or after YYYY-MM-DD (UTC)")
    p.add_argument("--json", action="store_true", help="print the clusters as JSON")
    p.add_argument("--md", type=Path, metavar="FILE", help="write a Markdown report")
    p.set_defaults(func=_gaps)
    p = kinds.add_parser("feedback", help="every rated answer, as CSV")
    p.add_argument("--index", type=Path, help="accepted like every command; the log does not need it")
    p.add_argument("--since", type=day, help="answers given on or after YYYY-MM-DD (UTC)")
    p.add_argument("--csv", type=Path, metavar="FILE", help="write to FILE instead of standard output")
    p.set_defaults(func=_feedback)

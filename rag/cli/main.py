"""The `rag` command. Domain errors become a one-line message and exit code 1 here, nowhere else."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.cli import desk as cli_desk
from rag.cli.desk import INDEX_HELP, add_post_filters, post_filters
from rag.errors import ArchiveQAError
from rag.settings import Settings

if TYPE_CHECKING:
    from rag.evaluation.evaluate import Question
    from rag.retrieval.engine import Engine

log = logging.getLogger("rag")


def _ingest(args: argparse.Namespace, settings: Settings) -> int:
    from rag.indexing import ingest_archive, settings_embedder

    archive = args.archive or settings.archive
    if archive is None:
        raise SystemExit("error: give the archive folder: rag ingest ARCHIVE_DIR (or set RAG_ARCHIVE)")
    summary = ingest_archive(
        settings,
        Path(archive),
        lambda: settings_embedder(settings),
        index=args.index,
        rebuild=args.rebuild,
        progress=not args.json and sys.stderr.isatty(),
    )
    if args.json:
        print(json.dumps(summary.as_dict()))
    else:
        s = summary
        print(
            f"posts: {s.posts_seen} seen, {s.posts_added} added, {s.posts_updated} updated, "
            f"{s.posts_removed} removed, {s.posts_skipped} skipped\n"
            f"chunks: {s.chunks_total} total, {s.chunks_embedded} embedded\n"
            f"took {s.seconds:.1f} s" + (f" (index version {s.version})" if s.version else ""),
            file=sys.stderr,
        )
    return 0


def _engine(args: argparse.Namespace, settings: Settings) -> Engine:
    from rag.retrieval.engine import Engine

    return Engine(settings, index=args.index)


def _search(args: argparse.Namespace, settings: Settings) -> int:
    from rag.render import hit_json

    engine = _engine(args, settings)
    search = engine.search(args.query, args.k, post_filters(args))
    result = search.result
    if args.json:
        print(json.dumps({"hits": [hit_json(h) for h in result.hits], "took_ms": result.took_ms}, ensure_ascii=False))
        return 0
    if not result.hits:
        print("no posts match", file=sys.stderr)
    for hit in result.hits:
        heading = " > ".join(hit.heading)
        print(f"{hit.rank:>2}. {hit.title}  ({hit.date.date()}, score {hit.score:.4f})\n    {hit.url}")
        if heading:
            print(f"    § {heading}")
        print("    " + hit.text[:160].replace("\n", " ") + ("…" if len(hit.text) > 160 else ""))
    note = "  (the archive seems to hold nothing on this)" if search.not_in_archive else ""
    print(
        f"{len(result.hits)} posts in {result.took_ms:.0f} ms, relevance {search.relevance:.2f}{note}", file=sys.stderr
    )
    return 0


def _eval(args: argparse.Namespace, settings: Settings) -> int:
    from rag.evaluation.evaluate import evaluate, load_questions

    if not args.questions.is_file():
        raise SystemExit(f"error: no questions file at {args.questions}")
    engine = _engine(args, settings)
    questions = load_questions(args.questions)

    def progress(done: int, total: int) -> None:
        if sys.stderr.isatty():
            print(f"\r{done}/{total} questions", end="" if done < total else "\n", file=sys.stderr)

    answer = None
    if args.answers:
        from rag.answering.pipeline import Answerer
        from rag.evaluation.evaluate import answer_record
        from rag.llm.registry import load_llm

        answerer = Answerer(engine, load_llm(settings.llm_backend, settings.llm_options()), settings.answer_config())
        answerer.warm()  # the fixed prompt prefix read once, as a running service does at start

        def answer(q: Question) -> dict[str, Any]:
            return answer_record(answerer, q)

    report = evaluate(engine, questions, answer, progress=progress)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
    else:
        print(json.dumps(report["metrics"], ensure_ascii=False, indent=1))
    return 0


_FALLBACK = {
    "timeout": "the model was too slow", "failure": "the model failed", "queue": "the model was busy",
    "refused": "the model found no answer beyond the quoted passage", "unsupported": "no checked sentence",
    "echo": "the model only repeated source titles",
}  # fmt: skip


def _ask(args: argparse.Namespace, settings: Settings) -> int:
    from rag.answering.pipeline import Answerer
    from rag.llm.registry import load_llm
    from rag.render import answer_json
    from rag.types import Delta, Done, Passages, Sources

    engine = _engine(args, settings)
    try:
        llm = load_llm(settings.llm_backend, settings.llm_options())
    except ArchiveQAError as exc:
        print(f"warning: {exc}; answering extractively", file=sys.stderr)
        llm = None
    answerer = Answerer(engine, llm, settings.answer_config())
    for event in answerer.stream(args.question):
        if isinstance(event, Sources) and not args.json:
            print(f"searching {len(event.posts)} posts…", file=sys.stderr)
        elif isinstance(event, Passages) and not args.json:
            for q in event.quotes:  # the key passage, verbatim, while the model reads
                print(f"> {q.text}[{q.n}]\n>   — {q.title} ({q.date})")
            print(flush=True)
        elif isinstance(event, Delta) and not args.json:
            print(event.text, end="", flush=True)
        elif isinstance(event, Done):
            answer = event.answer
            if args.json:
                print(json.dumps(answer_json(answer), ensure_ascii=False))
                return 0
            if answer.mode != "generative":
                print(answer.answer, end="")
            print()
            for c in answer.citations:
                print(f"[{c.n}] {c.title} ({c.date}) {c.url}")
            t = answer.timings
            note = f" ({_FALLBACK.get(answer.fallback, answer.fallback)})" if answer.fallback else ""
            print(
                f"{answer.mode}{note}{', cached' if answer.cached else ''}; "
                f"first text after {t.get('ttft_ms', 0) / 1000:.1f} s, "
                f"done after {t.get('total_ms', 0) / 1000:.1f} s",
                file=sys.stderr,
            )
    return 0


APP_FACTORIES = "archive_qa.http"  # the entry-point group of the HTTP app factory (pyproject.toml)


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    changes: dict[str, object] = {}  # the flags override the settings they stand for
    if args.index:
        changes["index_dir"] = args.index
    if args.watch:
        if not (args.watch / "_posts").is_dir():
            raise SystemExit(f"error: {args.watch} has no _posts/ folder: give the Jekyll site folder to --watch")
        changes.update(archive=args.watch, watch_archive=True)
    if args.llm_server:
        changes["llm_server"] = True
    settings = settings.model_copy(update=changes)
    # Behind a proxy, the client address (rate limits, public readers) comes from X-Forwarded-For, but only
    # when the proxy is trusted: RAG_FORWARDED_ALLOW_IPS (docs/security.md).
    trusted = settings.forwarded_allow_ips or None
    host, port = args.host or settings.host, args.port or settings.port
    uvicorn.run(http_app(settings), host=host, port=port, log_config=None, timeout_graceful_shutdown=10,
                proxy_headers=trusted is not None, forwarded_allow_ips=trusted)  # fmt: skip
    return 0


def http_app(settings: Settings) -> Any:
    """The HTTP app for these settings, from the factory the `api` package registers as an entry point
    (imports flow api → rag → index: rag never imports api)."""
    from importlib.metadata import entry_points

    factories = list(entry_points(group=APP_FACTORIES))
    if not factories:
        raise SystemExit(
            'error: the HTTP service is not installed (no "archive_qa.http" entry point): run "make install"'
        )
    return factories[0].load()(settings)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag", description="Question answering over a Jekyll blog archive.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="index an archive (incrementally)")
    p.add_argument("archive", nargs="?", type=Path, help="Jekyll site folder holding _posts/ (default: RAG_ARCHIVE)")
    p.add_argument("--index", type=Path, help=INDEX_HELP)
    p.add_argument("--json", action="store_true", help="print only the summary, as JSON")
    p.add_argument("--rebuild", action="store_true", help="ignore the existing index and build anew")
    p.set_defaults(func=_ingest)

    p = sub.add_parser("search", help="find the posts that match a query")
    p.add_argument("query")
    p.add_argument("--index", type=Path, help=INDEX_HELP)
    p.add_argument("-k", type=int, default=10, help="number of posts (default 10)")
    add_post_filters(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_search)

    p = sub.add_parser("eval", help="retrieval (and answer) metrics over a questions file")
    p.add_argument("questions", type=Path, help="JSONL in the format of dev.jsonl")
    p.add_argument("--index", type=Path, help=INDEX_HELP)
    p.add_argument("--answers", action="store_true", help="also answer each question and score the answers")
    p.add_argument("--json", action="store_true", help="print metrics and every question's record")
    p.set_defaults(func=_eval)

    p = sub.add_parser("ask", help="answer a question from the archive, with citations")
    p.add_argument("question")
    p.add_argument("--index", type=Path, help=INDEX_HELP)
    p.add_argument("--json", action="store_true", help="print only the final answer object")
    p.set_defaults(func=_ask)

    p = sub.add_parser("serve", help="run the HTTP service (API, OpenAI-compatible endpoint, widget)")
    p.add_argument("--index", type=Path, help=INDEX_HELP)
    p.add_argument("--host", help="default 127.0.0.1 (RAG_HOST)")
    p.add_argument("--port", type=int, help="default 8000 (RAG_PORT)")
    p.add_argument("--watch", type=Path, metavar="ARCHIVE_DIR",
                   help="ingest this archive whenever a post changes, through the loaded embedder")  # fmt: skip
    p.add_argument("--llm-server", action="store_true",
                   help="run llama.cpp's llama-server (RAG_LLM_SLOTS parallel slots) as a managed child")  # fmt: skip
    p.set_defaults(func=_serve)
    cli_desk.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    settings = Settings()
    func: Callable[[argparse.Namespace, Settings], int] = args.func
    try:
        return func(args, settings)
    except ArchiveQAError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; the previous index is untouched", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

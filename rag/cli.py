"""The `rag` command. Domain errors become a one-line message and exit code 1 here, nowhere else."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from index.errors import ArchiveQAError
from rag.settings import Settings

log = logging.getLogger("rag")


def _ingest(args: argparse.Namespace, settings: Settings) -> int:
    from index.embedding import load_embedder
    from index.ingest import ingest

    archive = args.archive or settings.archive
    if archive is None:
        raise SystemExit("error: give the archive folder: rag ingest ARCHIVE_DIR (or set RAG_ARCHIVE)")
    summary = ingest(
        Path(archive),
        args.index or settings.index_path,
        settings.embedding_model,
        lambda: load_embedder(settings.embedding_model, settings.embedder_options()),
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag", description="Question answering over a Jekyll blog archive.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="index an archive (incrementally)")
    p.add_argument("archive", nargs="?", type=Path, help="Jekyll site folder holding _posts/ (default: RAG_ARCHIVE)")
    p.add_argument("--index", type=Path, help="index folder (default: data/index)")
    p.add_argument("--json", action="store_true", help="print only the summary, as JSON")
    p.add_argument("--rebuild", action="store_true", help="ignore the existing index and build anew")
    p.set_defaults(func=_ingest)
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

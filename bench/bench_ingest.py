"""Ingestion benchmark: the archive from scratch, then unchanged, then with one post edited.
Each run is the real CLI (`rag ingest --json`) in a child process, so wall time includes start-up.

    python -m bench.bench_ingest [--out bench/results/ingest.json] [--index data/bench/ingest-index]
    (archive: $RAG_ARCHIVE; the edit is made in a copy under data/bench, never in the archive)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.common import ROOT, write
from index.store import IndexFolder


def mirror(archive: Path, dest: Path) -> Path:
    """A copy of the archive's posts, so one post can be edited without touching it. (Not symlinks: the
    ingest skips links that lead outside the archive it reads.)"""
    shutil.rmtree(dest, ignore_errors=True)
    (dest / "_posts").mkdir(parents=True)
    if (archive / "_config.yml").is_file():
        shutil.copy2(archive / "_config.yml", dest / "_config.yml")
    for post in sorted((archive / "_posts").iterdir()):
        shutil.copy2(post, dest / "_posts" / post.name)
    return dest


def edit_one(mirror_dir: Path) -> str:
    post = sorted((mirror_dir / "_posts").iterdir())[len(os.listdir(mirror_dir / "_posts")) // 2]
    text = post.read_text(encoding="utf-8")
    post.write_text(text.rstrip() + "\n\n追記：この段落はベンチマークのための編集です。\n", encoding="utf-8")
    return post.name


def timed_ingest(archive: Path, index: Path, label: str) -> dict[str, float | int | str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.monotonic()
    cmd = [sys.executable, "-m", "rag.cli.main", "ingest", str(archive), "--index", str(index), "--json"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.monotonic() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{label}: ingest failed:\n{proc.stderr[-2000:]}")
    summary = json.loads(proc.stdout)
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    figures: dict[str, float | int | str] = {
        "wall_seconds": round(wall, 2), "ingest_seconds": summary["seconds"],
        "posts": summary["posts_seen"], "posts_per_s": round(summary["posts_seen"] / wall, 2),
        "chunks_total": summary["chunks_total"], "chunks_embedded": summary["chunks_embedded"],
        "chunks_per_s": round(summary["chunks_embedded"] / wall, 2) if summary["chunks_embedded"] else 0,
        "peak_rss_mb": round(max(rss, before) / 1024, 1),
        "summary": json.dumps(summary),
    }  # fmt: skip
    print(label, figures, file=sys.stderr)
    return figures


def size_mb(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return round(sum(p.stat().st_size for p in files) / 1e6, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/ingest.json")
    parser.add_argument("--index", type=Path, default=ROOT / "data/bench/ingest-index")
    parser.add_argument(
        "--keep-scratch", action="store_true",
        help="reuse the index and the from-scratch figures of the previous run; measure only the re-ingests",
    )  # fmt: skip
    args = parser.parse_args()
    archive = Path(os.environ.get("RAG_ARCHIVE", ""))
    if not (archive / "_posts").is_dir():
        raise SystemExit("set RAG_ARCHIVE to the archive folder (holding _posts/)")
    work = mirror(archive, ROOT / "data/bench/archive-mirror")
    if args.keep_scratch:
        previous = json.loads(args.out.read_text(encoding="utf-8")) if args.out.is_file() else {}
        scratch = previous.get("from_scratch") or {"posts": len(os.listdir(work / "_posts")), "note": "not measured"}
        timed_ingest(work, args.index, "catch up with the current code")  # settles any re-chunking first
    else:
        shutil.rmtree(args.index, ignore_errors=True)  # from scratch: no index, no embedding cache
        scratch = timed_ingest(work, args.index, "from scratch")
    unchanged = timed_ingest(work, args.index, "unchanged")
    edited_post = edit_one(work)
    edited = timed_ingest(work, args.index, "one post edited")
    version = IndexFolder(args.index).require_current()
    figures = {
        "archive_posts": scratch["posts"], "from_scratch": scratch, "unchanged": unchanged,
        "one_edited": {**edited, "post": edited_post},
        "index_size_mb": {"version": size_mb(version), "embedding_cache": size_mb(args.index / "embed-cache.sqlite")},
    }  # fmt: skip
    write(args.out, figures, "make bench-ingest")


if __name__ == "__main__":
    main()

"""What hostile text costs: every pattern of the project over its worst 100,000-character hostile text, and
`rag ingest` of an archive of the posts that once stalled it (issue 18), with the machine's load beside them.

    python -m bench.hostile_input [--out bench/results/hostile-input.json]

The patterns and texts are the test suite's (tests/hostile.py); the ingest runs the installed `rag`
with the default embedder on a temporary archive of the nine hostile posts and one ordinary post."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, bench_parser, write
from tests.hostile import HOSTILE_BODIES, LIMIT_S, hostile_post, project_patterns, slowest


def pattern_times() -> dict[str, object]:
    worst: list[tuple[float, str, str]] = []
    for where, pattern in sorted(project_patterns().items()):
        label, seconds = slowest(pattern, give_up_s=10.0)
        worst.append((seconds, where, label))
        print(f"{seconds:7.3f} s  {where}  ({label})", file=sys.stderr, flush=True)
    worst.sort(reverse=True)
    return {"patterns": len(worst), "limit_s": LIMIT_S, "over_limit": sum(s >= LIMIT_S for s, _, _ in worst),
            "slowest": [{"where": w, "text": label, "seconds": round(s, 3)} for s, w, label in worst[:10]]}  # fmt: skip


def hostile_ingest() -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "archive" / "_posts"
        archive.mkdir(parents=True)
        for name, body in HOSTILE_BODIES.items():
            (archive / f"2025-09-01-{name}").write_bytes(hostile_post(body))
        ordinary = hostile_post("生成AIの導入が進んでいます。\n\n" * 20, "普通の記事")
        (archive / "2025-09-02-ordinary.md").write_bytes(ordinary)
        started = time.perf_counter()
        done = subprocess.run(
            [str(ROOT / ".venv/bin/rag"), "ingest", str(archive.parent), "--index", str(Path(tmp) / "index"), "--json"],
            capture_output=True, text=True, env={**os.environ, "RAG_CACHE_ENABLED": "0"}, timeout=1800,
        )  # fmt: skip
        took = time.perf_counter() - started
    summary = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else {}
    return {"posts": len(HOSTILE_BODIES) + 1, "exit": done.returncode, "seconds": round(took, 1),
            "posts_added": summary.get("posts_added"), "posts_skipped": summary.get("posts_skipped"),
            "chunks_total": summary.get("chunks_total"), "stderr_tail": done.stderr[-600:]}  # fmt: skip


def main() -> None:
    args = bench_parser(__doc__, "hostile-input.json", questions=False).parse_args()
    figures = {"load_average": os.getloadavg(), "ingest": hostile_ingest(), **pattern_times()}
    write(Path(args.out), figures, "python -m bench.hostile_input")


if __name__ == "__main__":
    main()

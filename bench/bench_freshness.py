"""How current the served index stays, on the full archive (part of `make bench-ingest`):

- edit → searchable: a post is edited in a mirror of the archive, `POST /v1/admin/ingest` is sent to a
  running replica, and the time until a search for a word only the edit holds finds the post is taken,
  on that replica and on a second one that follows `CURRENT` (RAG_WATCH_INDEX_S=0.5);
- first lexical version: a fresh `rag ingest` into an empty index folder while a server waits on it;
  the time from the ingest's start until the server answers /readyz (BM25 only) is taken, then the
  ingest is stopped (its full run is the from-scratch figure of bench_ingest).

    python -m bench.bench_freshness --index data/bench/ingest-index [--out bench/results/freshness.json]
    (archive: $RAG_ARCHIVE; edits are made in a copy, never in the archive)
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bench.bench_ingest import mirror
from bench.common import ROOT, bench_parser, latency, write
from rag.llm.server import answers, free_port, stop_child, until_ready

OPERATOR = "bench-operator"


@contextmanager
def server(index: Path, archive: Path, watch_s: float) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "RAG_INDEX_DIR": str(index), "RAG_ARCHIVE": str(archive), "RAG_LLM_BACKEND": "none",
           "RAG_ADMIN_KEYS": OPERATOR, "RAG_WATCH_INDEX_S": str(watch_s), "RAG_RATE_LIMIT_PER_MINUTE": "0",
           "RAG_CACHE_ENABLED": "false", "RAG_DATA_DIR": tempfile.mkdtemp(prefix="rag-fresh-")}  # fmt: skip
    log = open(Path(tempfile.mkdtemp()) / "server.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "rag.cli.main", "serve", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=log, stderr=log)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        if not until_ready(answers(f"{url}/healthz"), proc, timeout=300):
            raise SystemExit(f"the server did not start; see {log.name}")
        yield url
    finally:
        stop_child(proc, timeout=30)
        log.close()


def _ready(url: str) -> bool:
    return answers(f"{url}/readyz")()


AUTH = {"Authorization": f"Bearer {OPERATOR}"}  # with an operator key set, every endpoint wants a key


def _finds(url: str, word: str, post: str) -> bool:
    """The edited post is the first hit for a word only its edit holds (its best passage may be another)."""
    hits = httpx.post(f"{url}/v1/search", json={"query": word, "k": 1}, headers=AUTH, timeout=30).json()["hits"]
    return bool(hits) and hits[0]["source"] == post


def edit_to_search(index: Path, archive: Path, edits: int) -> dict[str, object]:
    work = Path(tempfile.mkdtemp(prefix="rag-fresh-index-"))
    shutil.copytree(index, work / "idx", symlinks=True)
    mirrored = mirror(archive, ROOT / "data/bench/freshness-mirror")
    posts = sorted((mirrored / "_posts").iterdir())
    here, other, runs = [], [], []
    with server(work / "idx", mirrored, 0.0) as a, server(work / "idx", mirrored, 0.5) as b:
        while not (_ready(a) and _ready(b)):
            time.sleep(0.2)
        for i in range(edits):
            post, word = posts[(i * 997) % len(posts)], f"zqfresh{i}xk"  # one BM25 term no post holds
            text = post.read_text(encoding="utf-8")
            post.write_text(text.rstrip() + f"\n\nこの記事では{word}にも触れます。\n", encoding="utf-8")
            t0 = time.monotonic()
            r = httpx.post(f"{a}/v1/admin/ingest", headers=AUTH, timeout=600)
            answered = time.monotonic() - t0
            while not _finds(a, word, post.name):
                time.sleep(0.05)
            here.append(time.monotonic() - t0)
            while not _finds(b, word, post.name):
                time.sleep(0.05)
            other.append(time.monotonic() - t0)
            runs.append({"post": post.name, "request_s": round(answered, 3), "summary": r.json().get("summary")})
    shutil.rmtree(work, ignore_errors=True)
    return {"this_replica_s": latency(here), "other_replica_s": latency(other), "runs": runs}


def first_lexical(archive: Path) -> dict[str, object]:
    fresh = Path(tempfile.mkdtemp(prefix="rag-fresh-scratch-")) / "idx"
    with server(fresh, archive, 0.5) as url:
        t0 = time.monotonic()
        ingest = subprocess.Popen([sys.executable, "-m", "rag.cli.main", "ingest", str(archive), "--index", str(fresh)],
                                  cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            while not _ready(url):
                if ingest.poll() is not None:
                    raise SystemExit("the ingest ended before anything was served")
                time.sleep(0.2)
            served = time.monotonic() - t0
            ready = httpx.get(f"{url}/readyz", timeout=5).json()
            search = {"query": "生成AI 市場規模", "k": 3}
            hits = httpx.post(f"{url}/v1/search", json=search, headers=AUTH, timeout=30).json()["hits"]
        finally:
            ingest.send_signal(signal.SIGINT)
            ingest.wait(timeout=60)
    shutil.rmtree(fresh.parent, ignore_errors=True)
    return {"served_after_s": round(served, 1), "readyz": ready, "search_hits": len(hits)}


def main() -> None:
    parser = bench_parser(__doc__, "freshness.json", questions=False)
    parser.add_argument("--edits", type=int, default=5)
    args = parser.parse_args()
    archive = Path(os.environ.get("RAG_ARCHIVE", ""))
    if not (archive / "_posts").is_dir():
        raise SystemExit("set RAG_ARCHIVE to the archive folder (holding _posts/)")
    figures = {"edit_to_searchable": edit_to_search(args.index, archive, args.edits),
               "first_lexical_version": first_lexical(archive)}  # fmt: skip
    write(args.out, figures, f"python -m bench.bench_freshness --index {args.index}")


if __name__ == "__main__":
    main()

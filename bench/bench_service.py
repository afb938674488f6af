"""Service load and fault benchmark over loopback, against a real `rag serve` on the full index.

Load: search-only at 1, 8 and 32 concurrent clients, then a mixed load (searches and streamed asks)
for a fixed duration: p50/p95 latency, errors (anything but 2xx and deliberate 429s), 429s, and time
to the first SSE event of each ask. Faults: kill -9 the server under load, and kill -9 an ingest into
the served index; after each restart the index must open and agree with itself (chunks in the
manifest = rows in SQLite = vectors in FAISS) and searches must work.

    python -m bench.bench_service --index data/bench/ingest-index [--mixed-seconds 300]
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx

from bench.common import ROOT, bench_parser, env_path, latency, sse_events, write
from index import docstore
from index.store import DOCSTORE, IndexFolder, Manifest, read_dense
from rag.evaluation.evaluate import load_questions
from rag.llm.server import answers, stop_child, until_ready


class Server:
    def __init__(self, index: Path, port: int, log: Path) -> None:
        self.index, self.port, self.log = index, port, log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> float:
        env = {
            **os.environ,
            "RAG_INDEX_DIR": str(self.index),
            "RAG_RATE_LIMIT_PER_MINUTE": "0",
            "RAG_WATCH_INDEX_S": "1",
        }
        cmd = [sys.executable, "-m", "rag.cli.main", "serve", "--port", str(self.port)]
        t0 = time.monotonic()
        with open(self.log, "ab") as sink:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=sink, stderr=sink)
        if not until_ready(answers(f"{self.url}/readyz"), self.proc, timeout=300, every=0.5):
            raise TimeoutError("server did not become ready")
        return time.monotonic() - t0

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc:
            stop_child(self.proc, timeout=30)


async def mixed_client_loop(url: str, questions: list[str], deadline: float, ask_share: float,
                            stats: dict[str, list[Any]], rng: random.Random) -> None:  # fmt: skip
    async with httpx.AsyncClient(base_url=url, timeout=180) as http:
        while time.monotonic() < deadline:
            q = rng.choice(questions)
            ask = rng.random() < ask_share
            t0 = time.monotonic()
            try:
                if ask:
                    async with http.stream("POST", "/v1/ask", json={"question": q, "stream": True}) as r:
                        if r.status_code == 200:
                            first = None
                            async for event, _ in sse_events(r):
                                if first is None:
                                    first = time.monotonic() - t0
                                if event == "error":
                                    stats["errors"].append("sse error event")
                            stats["first_event_s"].append(first)
                        status = r.status_code
                else:
                    status = (await http.post("/v1/search", json={"query": q, "k": 10})).status_code
            except httpx.HTTPError as exc:
                stats["errors"].append(type(exc).__name__)
                continue
            took = (time.monotonic() - t0) * 1000
            if status == 429:
                stats["rejected_429"].append(took)
                await asyncio.sleep(1.0)
            elif status >= 400:
                stats["errors"].append(status)
            else:
                stats["ask_ms" if ask else "search_ms"].append(took)


def run_load(url: str, questions: list[str], clients: int, seconds: float, ask_share: float) -> dict[str, Any]:
    stats: dict[str, list[Any]] = {k: [] for k in ("search_ms", "ask_ms", "first_event_s", "errors", "rejected_429")}
    deadline = time.monotonic() + seconds

    async def all_clients() -> None:
        await asyncio.gather(*(mixed_client_loop(url, questions, deadline, ask_share, stats, random.Random(i))
                               for i in range(clients)))  # fmt: skip

    asyncio.run(all_clients())
    first = [f for f in stats["first_event_s"] if f is not None]
    return {
        "clients": clients, "seconds": seconds, "ask_share": ask_share,
        "search_ms": latency(stats["search_ms"]), "ask_ms": latency(stats["ask_ms"]),
        "first_sse_event_ms": latency([f * 1000 for f in first]),
        "errors": len(stats["errors"]), "error_kinds": sorted({str(e) for e in stats["errors"]}),
        "rejected_429": len(stats["rejected_429"]),
        "requests": len(stats["search_ms"]) + len(stats["ask_ms"]) + len(stats["rejected_429"]),
    }  # fmt: skip


def consistent(index: Path) -> dict[str, Any]:
    """The published version opens, and manifest, docstore and vectors agree."""
    version = IndexFolder(index).require_current()
    manifest = Manifest.read(version)
    with closing(docstore.connect(version / DOCSTORE, readonly=True)) as conn:
        rows = int(conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])
    vectors = int(read_dense(version).ntotal)
    return {
        "version": version.name,
        "manifest_chunks": manifest.chunks,
        "sqlite_chunks": rows,
        "faiss_vectors": vectors,
        "ok": manifest.chunks == rows == vectors,
    }


def faults(server: Server, questions: list[str], archive: Path, work: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    # 1. kill -9 while under load
    before = consistent(server.index)
    load = asyncio.new_event_loop()
    stats: dict[str, list[Any]] = {k: [] for k in ("search_ms", "ask_ms", "first_event_s", "errors", "rejected_429")}
    task = load.create_task(
        mixed_client_loop(server.url, questions, time.monotonic() + 6, 0.2, stats, random.Random(1))
    )
    load.run_until_complete(asyncio.sleep(3))
    server.kill9()
    load.run_until_complete(task)
    load.close()
    restart = server.start()
    after = consistent(server.index)
    ok = httpx.post(f"{server.url}/v1/search", json={"query": questions[0]}, timeout=60).status_code
    out["kill_server_under_load"] = {"before": before, "after": after, "restart_seconds": round(restart, 1),
                                     "search_after_restart": ok, "unchanged": before == after}  # fmt: skip
    # 2. kill -9 during an ingest into the served index (a mirror with ten posts edited)
    mirror = work / "fault-archive"
    shutil.rmtree(mirror, ignore_errors=True)
    (mirror / "_posts").mkdir(parents=True)
    posts = sorted((archive / "_posts").iterdir())
    for i, post in enumerate(posts):
        target = mirror / "_posts" / post.name
        if i % 250 == 0:
            target.write_text(post.read_text(encoding="utf-8") + "\n\n追記：障害試験のための編集。\n", encoding="utf-8")
        else:  # copies, not links: the ingest skips posts that link outside the archive
            shutil.copy2(post, target)
    if (archive / "_config.yml").exists():
        shutil.copy2(archive / "_config.yml", mirror / "_config.yml")
    cmd = [sys.executable, "-m", "rag.cli.main", "ingest", str(mirror), "--index", str(server.index), "--json"]
    ingest = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    t0 = time.monotonic()
    while not list((server.index / "versions").glob(".build-*")) and time.monotonic() - t0 < 120:
        time.sleep(0.2)
    time.sleep(2)
    ingest.send_signal(signal.SIGKILL)
    ingest.wait()
    during = consistent(server.index)
    served = httpx.get(f"{server.url}/readyz", timeout=10).json()
    rerun = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    time.sleep(3)  # the server's watcher picks the new version up
    final = consistent(server.index)
    now_served = httpx.get(f"{server.url}/readyz", timeout=10).json()
    out["kill_ingest"] = {
        "after_kill": during, "served_after_kill": served.get("index_version"),
        "rerun_exit": rerun.returncode, "rerun_summary": rerun.stdout.strip(), "after_rerun": final,
        "served_after_rerun": now_served.get("index_version"),
        "old_version_kept_until_publish": during["version"] == before["version"],
        "server_switched": now_served.get("index_version") == final["version"],
    }  # fmt: skip
    return out


def main() -> None:
    parser = bench_parser(__doc__, "service.json")
    parser.add_argument("--search-seconds", type=float, default=30)
    parser.add_argument("--mixed-seconds", type=float, default=300)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    archive = env_path("RAG_ARCHIVE", "")
    questions = [q.question for q in load_questions(args.questions)]
    work = ROOT / "data/bench/service"
    work.mkdir(parents=True, exist_ok=True)
    # the fault run writes into the index: work on a copy of it
    index = work / "index"
    shutil.rmtree(index, ignore_errors=True)
    shutil.copytree(args.index, index, symlinks=True)
    server = Server(index, args.port, work / "server.log")
    figures: dict[str, Any] = {"startup_seconds": round(server.start(), 1)}
    try:
        figures["search_only"] = [run_load(server.url, questions, n, args.search_seconds, 0.0) for n in (1, 8, 32)]
        figures["mixed"] = run_load(server.url, questions, 8, args.mixed_seconds, 0.1)
        if (archive / "_posts").is_dir():
            figures["faults"] = faults(server, questions, archive, work)
    finally:
        server.stop()
    write(args.out, figures, "make bench-service")


if __name__ == "__main__":
    main()

"""Throughput of streamed answers under a readers' load, against `rag serve` over loopback.

Phases of 1, 4 and 8 concurrent clients (`--clients`), each for `--seconds` (300 by default). Every client
loops until the phase deadline: it draws a dev question with Zipf-like repeats (the questions in a fixed
seeded order, rank r drawn with probability ∝ 1/(r+1)^s, `--zipf`), asks `POST /v1/ask` with
`stream: true`, reads the SSE stream (`sources`, optional `passage`, `delta`…, `done` or `error`), and
pauses `--think` seconds before the next question. A share of the clients' requests (`--leave`, 20 %)
close the stream right after the `sources` event, as a reader who got the links and left. A full queue
answers 429: the client sleeps Retry-After (at most 5 s) and counts it. Between phases the script
sleeps 5 s so the server drains.

Per phase: requests, answers completed (`done` events), answers/min, streams left after `sources`,
429s, errors (HTTP errors, `error` events, transport errors, streams that ended early; with kinds),
answer modes, cached answers and the cache hit rate, extractive fallbacks (all, and uncached), and
p50/p95 of the time to the `passage` event (client) and `timings.passage_ms` (server), the server's
`timings.ttft_ms` of generative answers and the client's time to the first `delta`, and the client's
time to `done`. Server-side timings are taken from uncached answers only (a cached answer did not
retrieve or generate); client-side ones are given over all answers and over uncached ones.

Starts its own server on `--index` and `--port` unless `--url` names one already running (the later
comparison of LLM backends points it at servers configured differently). The started server inherits
the environment, so RAG_* settings pass through, e.g.

    python -m bench.bench_answers_load --index data/bench/ingest-index --out bench/results/answers-load.json
    RAG_LLM_URL=http://127.0.0.1:8080/v1 python -m bench.bench_answers_load --clients 4 --seconds 120
    python -m bench.bench_answers_load --url http://127.0.0.1:8000 --out /tmp/answers-load.json
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.bench_service import Server
from bench.common import ROOT, add_questions_arg, latency, sse_events, write
from rag.evaluation.evaluate import load_questions

MODES = ("generative", "extractive", "refusal")
RETRY_AFTER_CAP_S = 5.0
IDLE_BETWEEN_PHASES_S = 5.0
REQUEST_TIMEOUT_S = 300.0
SECRET_WORDS = ("KEY", "TOKEN", "SECRET", "PASSWORD")


@dataclass
class Phase:
    """What the clients of one phase saw; appended to from all of them (one event loop, no locks)."""

    requests: int = 0
    completed: int = 0
    left: int = 0
    rejected_429: int = 0
    errors: list[str] = field(default_factory=list)
    modes: Counter[str] = field(default_factory=Counter)
    fallbacks: Counter[str] = field(default_factory=Counter)
    cached: int = 0
    extractive_uncached: int = 0
    asked: set[str] = field(default_factory=set)
    passage_client_ms: list[float] = field(default_factory=list)
    passage_server_ms: list[float] = field(default_factory=list)
    ttft_server_ms: list[float] = field(default_factory=list)
    first_delta_ms: list[float] = field(default_factory=list)
    first_delta_uncached_ms: list[float] = field(default_factory=list)
    total_ms: list[float] = field(default_factory=list)
    total_uncached_ms: list[float] = field(default_factory=list)


class Workload:
    """Dev questions in a fixed seeded order, drawn with probability ∝ 1/(rank+1)^s."""

    def __init__(self, questions: list[str], zipf: float, seed: int) -> None:
        self.order = list(questions)
        random.Random(seed).shuffle(self.order)
        weights = [1.0 / (rank + 1) ** zipf for rank in range(len(self.order))]
        self.cum_weights = list(itertools.accumulate(weights))

    def draw(self, rng: random.Random) -> str:
        return rng.choices(self.order, cum_weights=self.cum_weights)[0]


def ms_since(t0: float) -> float:
    return round((time.monotonic() - t0) * 1000, 1)


def retry_after(response: httpx.Response) -> float:
    try:
        return min(max(float(response.headers.get("retry-after", "1")), 0.0), RETRY_AFTER_CAP_S)
    except ValueError:
        return 1.0


def number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def record_done(stats: Phase, answer: dict[str, Any], t0: float, first_delta: float | None,
                passage_event_ms: float | None) -> None:  # fmt: skip
    stats.completed += 1
    total = ms_since(t0)
    mode = str(answer.get("mode", "unknown"))
    cached = bool(answer.get("cached", False))
    timings = answer.get("timings") or {}
    stats.modes[mode] += 1
    if answer.get("fallback"):
        stats.fallbacks[str(answer["fallback"])] += 1
    stats.total_ms.append(total)
    if first_delta is not None:
        stats.first_delta_ms.append(first_delta)
    if cached:
        stats.cached += 1
        return
    stats.total_uncached_ms.append(total)
    if first_delta is not None:
        stats.first_delta_uncached_ms.append(first_delta)
    if mode == "extractive":
        stats.extractive_uncached += 1
    server_passage = number(timings.get("passage_ms"))
    if server_passage is None:
        server_passage = passage_event_ms
    if server_passage is not None:
        stats.passage_server_ms.append(server_passage)
    ttft = number(timings.get("ttft_ms"))
    if mode == "generative" and ttft is not None:
        stats.ttft_server_ms.append(ttft)


async def ask_once(http: httpx.AsyncClient, question: str, leave: bool, stats: Phase) -> float | None:
    """One streamed answer; returns a 429's Retry-After to wait, or None: the reader's usual pause."""
    stats.requests += 1
    stats.asked.add(question)
    t0 = time.monotonic()
    first_delta: float | None = None
    passage_event_ms: float | None = None
    async with http.stream("POST", "/v1/ask", json={"question": question, "stream": True}) as r:
        if r.status_code == 429:
            stats.rejected_429 += 1
            return retry_after(r)
        if r.status_code >= 400:
            body = (await r.aread()).decode("utf-8", "replace")
            try:
                code = json.loads(body).get("error", "")
            except (ValueError, AttributeError):
                code = ""
            stats.errors.append(f"http {r.status_code}" + (f" {code}" if code else ""))
            return None
        async for event, raw in sse_events(r):
            if event == "sources":
                if leave:
                    stats.left += 1
                    return None  # leaving the `async with` closes the connection mid-stream
            elif event == "passage":
                stats.passage_client_ms.append(ms_since(t0))
                passage_event_ms = number(json.loads(raw).get("passage_ms"))
            elif event == "delta":
                if first_delta is None:
                    first_delta = ms_since(t0)
            elif event == "done":
                record_done(stats, json.loads(raw), t0, first_delta, passage_event_ms)
                return None
            elif event == "error":
                try:
                    kind = str(json.loads(raw).get("error", "unknown"))
                except (ValueError, AttributeError):
                    kind = "unparsable"
                stats.errors.append(f"sse error {kind}")
                return None
    stats.errors.append("stream ended without done")
    return None


async def reader_loop(url: str, headers: dict[str, str], workload: Workload, deadline: float, leave_share: float,
                      think: float, rng: random.Random, stats: Phase) -> None:  # fmt: skip
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=REQUEST_TIMEOUT_S) as http:
        while time.monotonic() < deadline:
            question = workload.draw(rng)
            leave = rng.random() < leave_share
            pause: float | None = None
            try:
                pause = await ask_once(http, question, leave, stats)
            except (httpx.HTTPError, json.JSONDecodeError) as exc:
                stats.errors.append(type(exc).__name__)
            # after an answer, a left stream or an error the reader thinks; after a 429 it waits Retry-After
            await asyncio.sleep(think if pause is None else pause)


def run_phase(url: str, headers: dict[str, str], workload: Workload, clients: int, seconds: float,
              leave: float, think: float, seed: int) -> dict[str, Any]:  # fmt: skip
    stats = Phase()
    t0 = time.monotonic()
    deadline = t0 + seconds

    async def all_clients() -> None:
        await asyncio.gather(*(reader_loop(url, headers, workload, deadline, leave, think,
                                           random.Random(f"{seed}-{clients}-{i}"), stats)
                               for i in range(clients)))  # fmt: skip

    asyncio.run(all_clients())
    elapsed = time.monotonic() - t0  # includes the answers in flight at the deadline
    extractive = stats.modes.get("extractive", 0)
    return {
        "clients": clients, "seconds": seconds, "elapsed_s": round(elapsed, 1),
        "requests": stats.requests, "distinct_questions": len(stats.asked),
        "answers_completed": stats.completed,
        "answers_per_min": round(stats.completed / (elapsed / 60), 2) if elapsed > 0 else 0.0,
        "left_after_sources": stats.left, "rejected_429": stats.rejected_429,
        "errors": len(stats.errors), "error_kinds": dict(Counter(stats.errors)),
        "modes": {**{m: 0 for m in MODES}, **stats.modes},
        "cached": stats.cached,
        "cache_hit_rate": round(stats.cached / stats.completed, 4) if stats.completed else 0.0,
        "extractive_fallbacks": extractive, "extractive_fallbacks_uncached": stats.extractive_uncached,
        "fallback_reasons": dict(stats.fallbacks),
        "passage_ms": {"client_to_event": latency(stats.passage_client_ms),
                       "server_uncached": latency(stats.passage_server_ms)},
        "ttft_ms": {"server_generative_uncached": latency(stats.ttft_server_ms),
                    "client_first_delta": latency(stats.first_delta_ms),
                    "client_first_delta_uncached": latency(stats.first_delta_uncached_ms)},
        "total_ms": {"client": latency(stats.total_ms), "client_uncached": latency(stats.total_uncached_ms)},
    }  # fmt: skip


def rag_env() -> dict[str, str]:
    """The RAG_* settings in this environment (what a started server inherits), secrets masked."""
    return {k: ("***" if any(w in k.upper() for w in SECRET_WORDS) else v)
            for k, v in sorted(os.environ.items()) if k.startswith("RAG_")}  # fmt: skip


def server_info(url: str, headers: dict[str, str]) -> dict[str, Any]:
    try:
        r = httpx.get(f"{url}/readyz", headers=headers, timeout=10)
        info: dict[str, Any] = r.json()
        return info
    except (httpx.HTTPError, ValueError) as exc:
        return {"error": type(exc).__name__}


def clients_list(text: str) -> list[int]:
    values = [int(v) for v in text.split(",") if v.strip()]
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError("expected positive integers separated by commas, e.g. 1,4,8")
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/answers-load.json")
    parser.add_argument("--index", type=Path, default=ROOT / "data/bench/ingest-index",
                        help="index the started server serves (ignored with --url)")  # fmt: skip
    parser.add_argument("--url", default="", help="an already running server, instead of starting one")
    parser.add_argument("--port", type=int, default=8766, help="port of the started server")
    parser.add_argument("--api-key", default="", help="sent as a bearer token (servers with RAG_API_KEYS)")
    add_questions_arg(parser)
    parser.add_argument("--clients", type=clients_list, default=[1, 4, 8], help="concurrent clients per phase")
    parser.add_argument("--seconds", type=float, default=300, help="length of each phase")
    parser.add_argument("--zipf", type=float, default=1.1, help="exponent s of the question popularity")
    parser.add_argument("--leave", type=float, default=0.2, help="share of requests closed after `sources`")
    parser.add_argument("--think", type=float, default=1.0, help="seconds a client pauses between questions")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    questions = [q.question for q in load_questions(args.questions)]
    if not questions:
        parser.error(f"no questions in {args.questions}")
    workload = Workload(questions, args.zipf, args.seed)
    headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}
    figures: dict[str, Any] = {
        "settings": {
            "clients": args.clients, "seconds": args.seconds, "zipf": args.zipf, "leave": args.leave,
            "think": args.think, "seed": args.seed, "questions": len(questions),
            "request_timeout_s": REQUEST_TIMEOUT_S, "server_started": not args.url, "url": args.url or None,
            "env": rag_env(),
        },
    }  # fmt: skip
    server: Server | None = None
    if args.url:
        url = args.url.rstrip("/")
    else:
        work = ROOT / "data/bench/answers-load"
        work.mkdir(parents=True, exist_ok=True)
        # a cold answer cache for every run: repeats within the run are what the hit rate measures
        cache = work / "answers.sqlite"
        for leftover in work.glob("answers.sqlite*"):
            leftover.unlink()
        os.environ.setdefault("RAG_CACHE_PATH", str(cache))
        server = Server(args.index, args.port, work / "server.log")
        url = server.url
    try:
        if server is not None:
            figures["startup_seconds"] = round(server.start(), 1)
        figures["server"] = server_info(url, headers)
        phases = []
        for i, clients in enumerate(args.clients):
            if i:
                time.sleep(IDLE_BETWEEN_PHASES_S)
            phase = run_phase(url, headers, workload, clients, args.seconds, args.leave, args.think, args.seed)
            print(json.dumps({k: phase[k] for k in ("clients", "answers_completed", "answers_per_min", "errors")}),
                  flush=True)  # fmt: skip
            phases.append(phase)
        figures["phases"] = phases
    finally:
        if server is not None:
            server.stop()
    write(args.out, figures, "make bench-answers-load")


if __name__ == "__main__":
    main()

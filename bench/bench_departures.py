"""Readers who leave cost no model time: the ttft of an ask right after 12 streaming clients left
mid-answer, against the ttft of an ask on an idle server (the issue's target: within 1.5x).

Each departing client opens a streamed ask and closes it after its first `passage` or `delta` event
(or after `--leave-after` seconds), all twelve at once; the next ask is sent as the last one leaves.
The answer cache is off so every ask reaches the model path.

    python -m bench.bench_departures --index data/bench/ingest-index [--rounds 3]
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import httpx

from bench.bench_service import Server
from bench.common import ROOT, bench_parser, latency, sse_events, write
from rag.evaluation.evaluate import load_questions


async def ask_and_stay(url: str, question: str) -> dict[str, Any]:
    """A reader who stays: the final answer object of a streamed ask."""
    async with httpx.AsyncClient(base_url=url, timeout=300) as http:
        r = await http.post("/v1/ask", json={"question": question})
        r.raise_for_status()
        answer: dict[str, Any] = r.json()
        return answer


async def ask_and_leave(url: str, question: str, after_s: float) -> str:
    """A reader who leaves: reads the stream until the answer starts (or `after_s`), then closes it."""
    async with httpx.AsyncClient(base_url=url, timeout=300) as http:
        try:
            async with asyncio.timeout(after_s):
                async with http.stream("POST", "/v1/ask", json={"question": question, "stream": True}) as r:
                    async for event, _ in sse_events(r):
                        if event in ("passage", "delta", "done"):
                            return event
        except TimeoutError:
            return "timeout"
    return "ended"


async def round_(url: str, questions: list[str], leavers: int, after_s: float) -> dict[str, Any]:
    idle = await ask_and_stay(url, questions[0])
    left = await asyncio.gather(*(ask_and_leave(url, q, after_s) for q in questions[1 : 1 + leavers]))
    after = await ask_and_stay(url, questions[1 + leavers])
    return {
        "idle": {"mode": idle["mode"], "ttft_ms": idle["timings"].get("ttft_ms")},
        "left_at": left,
        "after": {
            "mode": after["mode"],
            "ttft_ms": after["timings"].get("ttft_ms"),
            "queue_ms": after["timings"].get("queue_ms"),
        },
    }


def main() -> None:
    parser = bench_parser(__doc__, "departures.json")
    parser.add_argument("--port", type=int, default=8767)
    parser.add_argument("--leavers", type=int, default=12)
    parser.add_argument("--leave-after", type=float, default=3.0, help="seconds a departing reader waits at most")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    questions = [q.question for q in load_questions(args.questions) if q.answerable and q.lang == "ja"]
    os.environ["RAG_CACHE_ENABLED"] = "false"
    work = ROOT / "data/bench/departures"
    work.mkdir(parents=True, exist_ok=True)
    server = Server(args.index, args.port, work / "server.log")
    server.start()
    rounds = []
    try:
        step = args.leavers + 2
        for i in range(args.rounds):  # fresh questions each round while they last, then around again
            chunk = [questions[(i * step + j) % len(questions)] for j in range(step)]
            rounds.append(asyncio.run(round_(server.url, chunk, args.leavers, args.leave_after)))
            time.sleep(2)
    finally:
        server.stop()
    idle = [r["idle"]["ttft_ms"] for r in rounds if r["idle"]["mode"] == "generative"]
    after = [r["after"]["ttft_ms"] for r in rounds if r["after"]["mode"] == "generative"]
    figures = {
        "leavers": args.leavers, "rounds": rounds,
        "after_generative": sum(1 for r in rounds if r["after"]["mode"] == "generative"),
        "idle_ttft_ms": latency(idle), "after_ttft_ms": latency(after),
        "ratio_p50": round(latency(after)["p50"] / latency(idle)["p50"], 2) if idle and after else None,
    }  # fmt: skip
    write(args.out, figures, "make bench-departures")


if __name__ == "__main__":
    main()

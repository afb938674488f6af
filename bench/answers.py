"""Answer accuracy of a question set under the settings in the environment (RAG_ANSWER_*), as `rag eval
--answers --json` reports it, plus what a comparison needs: the machine's prompt speed measured in the
same run (timings are only comparable beside it), and an optional replay cache of model outputs.

    python -m bench.answers bench/data/tuning.jsonl --index data/bench/ingest-index \\
        --out bench/results/tuning-baseline.json [--replay data/bench/llm-replay.sqlite] [--lang en]

Decoding is greedy, so a prompt always gets the same output from the same model: with --replay, a prompt
already answered in an earlier run is answered from the cache (accuracy exact, timings not; the count of
replayed model calls is in the output). Settings that change only what happens after the model (the
subject guard, when the span attempt runs) then cost no model time to compare."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from bench.common import ROOT, write
from rag.answering.pipeline import Answerer
from rag.evaluation.evaluate import answer_record, evaluate, load_questions
from rag.llm.base import LLM, Message, Usage
from rag.llm.registry import load_llm
from rag.retrieval.engine import Engine
from rag.settings import Settings

REFERENCE_PROMPT = "次の文章を読んでください。" + "生成AIの市場は急速に拡大しており、企業の導入も進んでいます。" * 18


class ReplayLLM:
    """The real model, with each (prompt, limits) it answered kept in SQLite and replayed."""

    def __init__(self, inner: LLM, path: Path) -> None:
        self.inner, self.name = inner, f"replay:{inner.name}"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, check_same_thread=False)
        self.db.execute("CREATE TABLE IF NOT EXISTS outputs (key TEXT PRIMARY KEY, deltas TEXT, usage TEXT)")
        self.lock = threading.Lock()
        self.replayed = self.generated = 0

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int = 400, temperature: float = 0.0,
        grammar: str | None = None, stop: Sequence[str] = (), cancel: threading.Event | None = None,
    ) -> Iterator[str | Usage]:  # fmt: skip
        key = hashlib.sha256(
            json.dumps([[m.role, m.content] for m in messages] + [max_tokens, grammar, list(stop)]).encode()
        ).hexdigest()
        with self.lock:
            row = self.db.execute("SELECT deltas, usage FROM outputs WHERE key = ?", (key,)).fetchone()
        if row is not None:
            self.replayed += 1
            yield from json.loads(row[0])
            yield Usage(*json.loads(row[1]))
            return
        deltas: list[str] = []
        usage = Usage(0, 0)
        for item in self.inner.stream(messages, max_tokens=max_tokens, temperature=temperature, grammar=grammar,
                                      stop=stop, cancel=cancel):  # fmt: skip
            if isinstance(item, Usage):
                usage = item
            else:
                deltas.append(item)
            yield item
        if cancel is not None and cancel.is_set():
            return  # a cut answer is not the model's answer
        self.generated += 1
        with self.lock, self.db:
            counts = json.dumps([usage.prompt_tokens, usage.completion_tokens])
            self.db.execute("INSERT OR REPLACE INTO outputs VALUES (?, ?, ?)", (key, json.dumps(deltas), counts))


def prompt_speed(llm: LLM) -> dict[str, float]:
    """Prompt tokens read per second on a fixed 400-odd-token prompt the cache has not seen."""
    messages = [Message("system", f"reference {time.time()}"), Message("user", REFERENCE_PROMPT)]
    started = time.perf_counter()
    usage = Usage(0, 0)
    for item in llm.stream(messages, max_tokens=1):
        if isinstance(item, Usage):
            usage = item
    took = time.perf_counter() - started
    return {"prompt_tokens": usage.prompt_tokens, "seconds": round(took, 2),
            "prompt_tokens_per_s": round(usage.prompt_tokens / took, 1) if took else 0.0}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("questions", type=Path)
    parser.add_argument("--index", type=Path, default=ROOT / "data/bench/ingest-index")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--replay", type=Path, help="SQLite file of model outputs to replay and extend")
    parser.add_argument("--lang", choices=("ja", "en"), help="only the questions in this language")
    parser.add_argument("--limit", type=int, default=0, help="only the first N questions")
    args = parser.parse_args()
    settings = Settings()
    engine = Engine(settings, index=args.index)
    real = load_llm(settings.llm_backend, settings.llm_options())
    assert real is not None, "the answer benchmark needs a model (RAG_LLM_BACKEND)"
    reference = prompt_speed(real)
    llm: LLM = ReplayLLM(real, args.replay) if args.replay else real
    answerer = Answerer(engine, llm, settings.answer_config())
    answerer.warm()
    questions = [q for q in load_questions(args.questions) if not args.lang or q.lang == args.lang]
    questions = questions[: args.limit] if args.limit else questions
    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        print(f"\r{done}/{total} questions, {time.perf_counter() - started:.0f} s", end="", flush=True)

    report = evaluate(engine, questions, lambda q: answer_record(answerer, q), progress=progress)
    print()
    settings_used = {k: v for k, v in settings.model_dump(mode="json").items() if k.startswith("answer_")}
    figures: dict[str, Any] = {"questions_file": str(args.questions), "lang": args.lang or "all",
                               "reference_prompt_speed": reference, "answer_settings": settings_used,
                               "seconds": round(time.perf_counter() - started, 1), **report}  # fmt: skip
    if isinstance(llm, ReplayLLM):
        figures["model_calls"] = {"replayed": llm.replayed, "generated": llm.generated}
    env = " ".join(f"{k}={v}" for k, v in sorted(os.environ.items()) if k.startswith("RAG_") and "KEY" not in k)
    write(args.out, figures, f"{env} python -m bench.answers {' '.join(sys.argv[1:])}".strip())


if __name__ == "__main__":
    main()

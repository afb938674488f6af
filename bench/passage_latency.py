"""What the key passage costs, stage by stage, with no model: for each of the first N tuning questions,
what the answer path does before the `Passages` event (`Answerer.prepare`: retrieval, then evidence;
then `Answerer.key_passages`), each stage timed, the sentences the embedder read for it counted, the
passage chosen and whether it holds the gold answer (rag.evaluation.grading.grade). `passage_ms` is
measured as the pipeline measures it: from the request to the key passage.

    python -m bench.passage_latency [--index data/bench/ingest-index] [--limit 200]
        [--compare [--timed 60] [--also 3,4,8,12]]

--compare runs each question with every sentence of the evidence pool embedded (the old path,
`RAG_ANSWER_MEANING_SENTENCES=0`) and, on the first --timed questions, also with the settings' bound,
alternating which goes first so the machine's noise falls on both. `passages` gives, for the bound and
each of --also, the passages holding the answer and those gained and lost against the old path, read
from the old path's vectors (the bounded sentences are a subset), so 200 questions cost one run."""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import ROOT, answerer_on, bench_parser, latency, write
from index.embedding import Embedder
from rag.answering.pipeline import Answerer
from rag.answering.prompts import Source
from rag.answering.request import Prepared
from rag.evaluation.evaluate import Question, load_questions
from rag.evaluation.grading import grade
from rag.settings import Settings

TUNING = ROOT / "bench/data/tuning.jsonl"
# Quiet machine, every sentence embedded, passages shown (24 questions): what this bench is compared with.
QUIET = {"passage_ms": {"p50": 770.0, "p95": 1354.45}, "from": "bench/results/tuning-timing-quiet.json"}
_REFERENCE_SENTENCES = [
    f"生成AIの導入で{n}社の業務時間が平均{n % 7 + 2}割削減されたと報告されています。" for n in range(32)
]


def embedding_speed(embedder: Embedder) -> float:
    """Sentences embedded per second on this machine now: timings are comparable only beside it."""
    t = time.perf_counter()
    embedder.embed_documents(_REFERENCE_SENTENCES)
    return round(len(_REFERENCE_SENTENCES) / (time.perf_counter() - t), 1)


class Counting:
    """The embedder, counting what it is asked to embed (the answer path's `Meaning` reads through it)."""

    def __init__(self, inner: Embedder) -> None:
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.documents = self.queries = 0

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.documents += len(texts)
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> np.ndarray:
        self.queries += 1
        return self.inner.embed_query(text)


@dataclass(frozen=True)
class Stage:
    ms: float
    documents: int  # sentences embedded
    queries: int  # questions embedded


def _prepare(answerer: Answerer, question: str) -> tuple[Any, Any]:
    """`Answerer.prepare` driven to its end: the request and what it returns (Prepared or an answer)."""
    request = answerer.request(question)
    steps = answerer.prepare(request)
    try:
        while True:
            next(steps)
    except StopIteration as end:
        return request, end.value


def one(answerer: Answerer, counting: Counting, q: Question) -> tuple[dict[str, Any], Prepared | None]:
    """The question timed as the answer path runs it; its row and what `prepare` returned."""
    before = (counting.documents, counting.queries)
    request, prepared = _prepare(answerer, q.question)
    prepare_ms = (time.perf_counter() - request.t0) * 1000
    after_prepare = (counting.documents, counting.queries)
    row: dict[str, Any] = {"id": q.id, "lang": request.lang, "answerable": q.answerable}
    if not isinstance(prepared, Prepared):  # refused or answered before evidence: no passage
        return row | {"prepared": False, "passage_ms": round(prepare_ms, 1)}, None
    t = time.perf_counter()
    keys = answerer.key_passages(request.content, prepared.sources, request.lang, prepared.meaning)
    key_ms = (time.perf_counter() - t) * 1000
    retrieve_ms = prepared.timings["retrieve_ms"]
    text = keys[0].text if keys else ""
    docs, queries = counting.documents, counting.queries
    evidence = Stage(round(prepare_ms - retrieve_ms, 1), after_prepare[0] - before[0], after_prepare[1] - before[1])
    return row | {
        "prepared": True,
        "retrieve_ms": retrieve_ms,
        "evidence": evidence.__dict__,
        "key": Stage(round(key_ms, 1), docs - after_prepare[0], queries - after_prepare[1]).__dict__,
        "passage_ms": round((time.perf_counter() - request.t0) * 1000, 1),
        "passage": _digest(text),
        "support": keys[0].support if keys else None,
        "holds_answer": bool(text) and q.answerable and grade(text, q.answer).correct,
        "evidence_holds_answer": _evidence_holds(prepared.sources, q),
    }, prepared  # fmt: skip


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    prepared = [r for r in rows if r["prepared"]]
    out: dict[str, Any] = {
        "n": len(rows),
        "passage_ms": latency([r["passage_ms"] for r in rows]),
        "passage_ms_shown": latency([r["passage_ms"] for r in prepared if r["passage"]]),  # as the service times
        "shown": sum(1 for r in prepared if r["passage"]),
        "holds_answer": sum(1 for r in prepared if r["holds_answer"]),
        "evidence_holds_answer": sum(1 for r in prepared if r["evidence_holds_answer"]),
    }
    for lang in ("ja", "en"):
        mine = [r for r in prepared if r["lang"] == lang]
        if mine:
            out[lang] = {
                "passage_ms": latency([r["passage_ms"] for r in mine]),
                "retrieve_ms": latency([r["retrieve_ms"] for r in mine]),
                "evidence_ms": latency([r["evidence"]["ms"] for r in mine]),
                "key_ms": latency([r["key"]["ms"] for r in mine]),
                "sentences_embedded": latency([_sum(r, "documents") for r in mine]),
                "questions_embedded": latency([_sum(r, "queries") for r in mine]),
            }  # fmt: skip
    return out


def _sum(row: dict[str, Any], what: str) -> float:
    return float(row["evidence"][what] + row["key"][what])


def changes(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> dict[str, Any]:
    """Which questions' passage changed, and which gained or lost one that holds the answer."""
    pairs = list(zip(old, new, strict=True))
    return {
        "passage_changed": [a["id"] for a, b in pairs if a.get("passage") != b.get("passage")],
        "gained": [a["id"] for a, b in pairs if b.get("holds_answer") and not a.get("holds_answer")],
        "lost": [a["id"] for a, b in pairs if a.get("holds_answer") and not b.get("holds_answer")],
        "evidence_gained": [
            a["id"] for a, b in pairs if b.get("evidence_holds_answer") and not a.get("evidence_holds_answer")
        ],
        "evidence_lost": [
            a["id"] for a, b in pairs if a.get("evidence_holds_answer") and not b.get("evidence_holds_answer")
        ],
    }


def untimed(answerer: Answerer, q: Question, bound: int, prepared: Prepared | None) -> dict[str, Any]:
    """The passage under another bound, from the retrieval and the vectors of the unbounded run (its
    bounded sentences are a subset: nothing new is embedded but a few of the quoted windows), not timed."""
    if prepared is None:
        return {"id": q.id, "prepared": False}
    other = Answerer(answerer.engine, None, replace(answerer.config, meaning_sentences=bound))
    lang = prepared.request.lang
    sources = other.evidence(prepared.turn.query, prepared.hits, lang, prepared.meaning)
    keys = other.key_passages(prepared.request.content, sources, lang, prepared.meaning)
    text = keys[0].text if keys else ""
    return {"id": q.id, "prepared": True, "passage": _digest(text),
            "holds_answer": bool(text) and q.answerable and grade(text, q.answer).correct,
            "evidence_holds_answer": _evidence_holds(sources, q)}  # fmt: skip


def _digest(text: str) -> str:
    """A passage named by a digest: the results compare passages without quoting the archive."""
    return hashlib.sha1(text.encode()).hexdigest()[:12] if text else ""


def _evidence_holds(sources: list[Source], q: Question) -> bool:
    """Whether the evidence the model reads holds the gold answer (what any model could answer from)."""
    return q.answerable and grade(" ".join(s.text for s in sources), q.answer).correct


def main() -> None:
    parser = bench_parser(__doc__, "passage-latency.json", questions=False)
    parser.add_argument("--questions", type=Path, default=TUNING)
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--compare", action="store_true", help="beside every sentence embedded (the old path)")
    parser.add_argument("--timed", type=int, default=None, help="with --compare: time the bound on the first N")
    parser.add_argument("--also", default="", help="with --compare: other bounds, passages only (e.g. 4,12)")
    args = parser.parse_args()
    settings = Settings(llm_backend="none")
    answerer = answerer_on(args.index, settings)
    counting = Counting(answerer.engine.embedder)
    answerer.engine.embedder = counting
    bound = answerer.config.meaning_sentences
    every = Answerer(answerer.engine, None, replace(answerer.config, meaning_sentences=0))
    bounds = [bound, *(int(b) for b in args.also.split(",") if b)] if args.compare else []
    questions = load_questions(args.questions)[: args.limit]
    timed = len(questions) if args.timed is None else args.timed
    t = time.perf_counter()
    one(answerer, counting, questions[0])  # the first question pays for loading Sudachi and warming the model
    first_ms = round((time.perf_counter() - t) * 1000, 1)
    speed = [embedding_speed(counting.inner)]
    rows: dict[str, list[dict[str, Any]]] = {"every": [], f"bound={bound}": []} if args.compare else {}
    rows[f"bound={bound}"] = []
    passages: dict[str, list[dict[str, Any]]] = {f"bound={b}": [] for b in bounds}
    t0 = time.perf_counter()
    for i, q in enumerate(questions):
        if not args.compare:
            rows[f"bound={bound}"].append(one(answerer, counting, q)[0])
            continue
        # both timed, alternating which goes first so the machine's noise falls on both
        if i < timed and i % 2:
            rows[f"bound={bound}"].append(one(answerer, counting, q)[0])
        row, prepared = one(every, counting, q)
        rows["every"].append(row)
        if i < timed and not i % 2:
            rows[f"bound={bound}"].append(one(answerer, counting, q)[0])
        for b in bounds:
            passages[f"bound={b}"].append(untimed(answerer, q, b, prepared))
        held = {
            n: (r[-1].get("holds_answer"), r[-1].get("evidence_holds_answer"))
            for n, r in (rows | passages).items()
            if r
        }
        print(q.id, {n: r[-1]["passage_ms"] for n, r in rows.items() if r}, held, flush=True)
    figures: dict[str, Any] = {
        "questions_file": str(args.questions),
        "quiet_reference": QUIET,
        "embedding_sentences_per_s": {"start": speed[0], "end": embedding_speed(counting.inner)},
        "first_question_ms": first_ms,
        "seconds": round(time.perf_counter() - t0, 1),
        "summary": {name: summary(r[:timed] if name == "every" and timed else r) for name, r in rows.items() if r},
    }  # fmt: skip
    if args.compare:
        figures["timed_questions"] = timed
        figures["passages"] = {
            name: {"holds_answer": sum(1 for r in r_ if r.get("holds_answer")),
                   "evidence_holds_answer": sum(1 for r in r_ if r.get("evidence_holds_answer")),
                   **changes(rows["every"], r_)}
            for name, r_ in {"every": rows["every"], **passages}.items()
        }  # fmt: skip
    figures["questions"] = rows
    write(args.out, figures, " ".join(["python -m bench.passage_latency", *sys.argv[1:]]))


if __name__ == "__main__":
    main()

"""`rag eval`: retrieval metrics (and, with answers, answer metrics) over a questions file in the
format of ../shared/eval/dev.jsonl. Every per-question record is kept so anyone can recompute them."""

from __future__ import annotations

import json
import statistics
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.answering.pipeline import Answerer
from rag.evaluation.grading import grade
from rag.render import answer_json
from rag.retrieval.engine import Engine

KS = (1, 3, 5, 10)


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    lang: str
    answerable: bool
    gold: tuple[str, ...]  # post file names
    answer: str = ""
    evidence: str = ""
    kind: str = ""


def _source(path: str) -> str:
    return unicodedata.normalize("NFC", path.removeprefix("_posts/"))


def load_questions(path: Path) -> list[Question]:
    questions = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            d = json.loads(line)
            questions.append(
                Question(
                    str(d["id"]), d["question"], d.get("lang", "ja"), bool(d.get("answerable", True)),
                    tuple(_source(g) for g in d.get("gold_posts", [])), d.get("answer", ""),
                    d.get("evidence", ""), d.get("kind", ""),
                )
            )  # fmt: skip
    return questions


def retrieval_record(engine: Engine, q: Question, k: int = 10) -> dict[str, Any]:
    search = engine.search(q.question, k)
    top = [_source(h.source) for h in search.result.hits]
    rank = next((i + 1 for i, s in enumerate(top) if s in q.gold), None)
    return {
        "id": q.id, "lang": q.lang, "kind": q.kind, "answerable": q.answerable, "top": top,
        "gold_rank": rank, "relevance": round(search.relevance, 4),
        "flagged_not_in_archive": search.not_in_archive, "took_ms": search.result.took_ms,
    }  # fmt: skip


def _block(records: list[dict[str, Any]]) -> dict[str, float | int]:
    n = len(records)
    out: dict[str, float | int] = {"n": n}
    for k in KS:
        out[f"hit@{k}"] = round(sum(1 for r in records if r["gold_rank"] and r["gold_rank"] <= k) / n, 4) if n else 0
    out["mrr@10"] = round(sum(1 / r["gold_rank"] for r in records if r["gold_rank"]) / n, 4) if n else 0
    return out


def _grouped(records: list[dict[str, Any]], key: str) -> dict[str, dict[str, float | int]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        groups[r[key]].append(r)
    return {name: _block(rs) for name, rs in sorted(groups.items())}


def percentile(values: Iterable[float], p: float) -> float:
    vals = sorted(values)
    if not vals:
        return 0.0
    if len(vals) == 1:
        return vals[0]
    return round(statistics.quantiles(vals, n=100, method="inclusive")[int(p) - 1], 2)


def retrieval_metrics(records: list[dict[str, Any]]) -> dict[str, Any]:
    answerable = [r for r in records if r["answerable"]]
    unanswerable = [r for r in records if not r["answerable"]]
    took = [r["took_ms"] for r in records]
    return {
        "answerable": _block(answerable),
        "by_lang": _grouped(answerable, "lang"),
        "by_kind": _grouped(answerable, "kind"),
        "answerable_flagged_not_in_archive": round(
            sum(r["flagged_not_in_archive"] for r in answerable) / len(answerable), 4
        ) if answerable else 0,
        "unanswerable": {
            "n": len(unanswerable),
            "flagged_not_in_archive": round(
                sum(r["flagged_not_in_archive"] for r in unanswerable) / len(unanswerable), 4
            ) if unanswerable else 0,
        },
        "search_ms": {"p50": percentile(took, 50), "p95": percentile(took, 95)},
    }  # fmt: skip


def evaluate(
    engine: Engine, questions: list[Question], answer: Callable[[Question], dict[str, Any]] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:  # fmt: skip
    records = []
    for i, q in enumerate(questions):
        record = retrieval_record(engine, q)
        if answer is not None:
            record.update(answer(q))
        records.append(record)
        if progress:
            progress(i + 1, len(questions))
    metrics = retrieval_metrics(records)
    if answer is not None:
        metrics["answers"] = answer_metrics(records)
    return {"metrics": metrics, "questions": records}


def graded(answer: str, passages: list[str], q: Question, refused: bool = False) -> tuple[bool | None, bool]:
    """Whether the answer, and the key passage alone, hold the gold answer (None: nothing to hold). A
    refusal is never right: it lists related posts, whose titles may hold the figure asked for."""
    if not q.answerable:
        return None, False
    passage = " ".join(passages)
    return not refused and grade(answer, q.answer).correct, bool(passage) and grade(passage, q.answer).correct


def answer_record(answerer: Answerer, q: Question) -> dict[str, Any]:
    """The fields of `rag ask --json`, plus what grading needs."""
    answer = answerer.ask(q.question)
    record = answer_json(answer)
    record.pop("id")  # an answer's log id (empty here) must not overwrite the question's id
    correct, passage_correct = graded(answer.answer, [p.text for p in answer.passages], q, answer.refused)
    record.update(
        {
            "correct": correct,
            "passage_correct": passage_correct,
            "fallback": answer.fallback,
            "cited_gold": [_source(c.source) in q.gold for c in answer.citations],
            "factual_sentences": answer.factual,
            "cited_sentences": answer.cited,
            "dropped_sentences": len(answer.dropped),
        }
    )
    return record


def _share(part: float, whole: float) -> float:
    return round(part / whole, 4) if whole else 0.0


def answer_metrics(records: list[dict[str, Any]]) -> dict[str, Any]:
    answerable = [r for r in records if r["answerable"]]
    unanswerable = [r for r in records if not r["answerable"]]
    cited = [ok for r in answerable for ok in r["cited_gold"]]
    factual = sum(r["factual_sentences"] for r in records)
    ttft = [r["timings"]["ttft_ms"] for r in records if "ttft_ms" in r["timings"]]
    first_token = [r["timings"]["first_token_ms"] for r in records if "first_token_ms" in r["timings"]]
    total = [r["timings"]["total_ms"] for r in records if "total_ms" in r["timings"]]
    sources = [r["timings"]["retrieve_ms"] for r in records if "retrieve_ms" in r["timings"]]
    passage = [r["timings"]["passage_ms"] for r in records if "passage_ms" in r["timings"]]
    shown = [r for r in answerable if r.get("passages")]
    return {
        "answer_accuracy": _share(sum(1 for r in answerable if r["correct"]), len(answerable)),
        "citation_precision": _share(sum(cited), len(cited)),
        "sentence_citation_coverage": _share(sum(r["cited_sentences"] for r in records), factual),
        "unsupported_sentences_dropped": sum(r["dropped_sentences"] for r in records),
        "unanswerable_refused": _share(sum(1 for r in unanswerable if r["refused"]), len(unanswerable)),
        "answerable_refused": _share(sum(1 for r in answerable if r["refused"]), len(answerable)),
        "modes": {m: sum(1 for r in records if r["mode"] == m) for m in ("generative", "extractive", "refusal")},
        "fallbacks": {
            f: sum(1 for r in records if r.get("fallback") == f)
            for f in sorted({r.get("fallback") or "" for r in records} - {""})
        },
        # the key passage: how often one is shown, and how often it alone holds the gold answer
        "passage_shown_answerable": _share(len(shown), len(answerable)),
        "passage_shown_unanswerable": _share(sum(1 for r in unanswerable if r.get("passages")), len(unanswerable)),
        "passage_accuracy": _share(sum(1 for r in answerable if r.get("passage_correct")), len(answerable)),
        "passage_precision": _share(sum(1 for r in shown if r.get("passage_correct")), len(shown)),
        "answer_or_passage_accuracy": _share(
            sum(1 for r in answerable if r["correct"] or r.get("passage_correct")), len(answerable)
        ),
        "passage_ms": {"p50": percentile(passage, 50), "p95": percentile(passage, 95)},
        "by_lang": {
            lang: _share(
                sum(1 for r in answerable if r["lang"] == lang and r["correct"]),
                sum(1 for r in answerable if r["lang"] == lang),
            )
            for lang in sorted({r["lang"] for r in answerable})
        },
        "sources_ms": {"p50": percentile(sources, 50), "p95": percentile(sources, 95)},
        "ttft_ms": {"p50": percentile(ttft, 50), "p95": percentile(ttft, 95)},
        "first_model_token_ms": {"p50": percentile(first_token, 50), "p95": percentile(first_token, 95)},
        "total_ms": {"p50": percentile(total, 50), "p95": percentile(total, 95)},
    }

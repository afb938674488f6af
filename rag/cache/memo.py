"""The answer pipeline's side of the cache: which answers may be kept, how a question finds one, and
how a kept answer is replayed as the same events (sources, passage, deltas, done) at once."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from datetime import date
from typing import Any

import numpy as np

from index.embedding import Embedder
from index.text import elapsed_ms
from rag.answering.prompts import Source
from rag.cache.store import AnswerStore, question_key
from rag.llm.base import Message, Usage
from rag.retrieval.filters import Filters
from rag.retrieval.periods import Period
from rag.types import Answer, Citation, Delta, Done, Event, Figure, MeasureFigures, Passages, Quoted, Related, Sources

# Degraded answers are not worth repeating: the model may well answer the next time.
_NOT_KEPT = {"timeout", "failure", "queue", "unavailable"}


class AnswerMemo:
    def __init__(self, cache: AnswerStore, similar: float) -> None:
        self.cache, self.threshold = cache, similar

    def for_question(
        self, question: str, history: Sequence[Message], filters: Filters | None, version: str
    ) -> QuestionMemo | None:
        if history:  # a follow-up's answer depends on the conversation, not only on its words
            return None
        return QuestionMemo(self, question, question_key(question, filters), version, repr(filters or None))


class QuestionMemo:
    def __init__(self, memo: AnswerMemo, question: str, key: str, version: str, scope: str = "None") -> None:
        self.memo, self.question, self.key, self.version = memo, question, key, version
        self.scope = scope  # the filters: an answer made within other filters may cite posts outside these
        self.started = time.perf_counter()
        self.posts: list[Related] = []
        self.vector: np.ndarray | None = None
        self.evidence = ""

    def exact(self) -> list[Event] | None:
        hit = self.memo.cache.get(self.key, self.version)
        return self._replay(hit.payload) if hit else None

    def similar(self, embedder: Embedder, sources: Sequence[Source]) -> list[Event] | None:
        """A near-duplicate wording hits only when it also selected the same first source: the same post
        and passage, which the answer and its key passage rest on. (Which weaker posts fill the other
        places, and what is quoted from them, shifts with every wording: near-duplicates would never hit.)"""
        identity = [self.scope, *([sources[0].source, sources[0].text] if sources else [""])]
        self.evidence = hashlib.sha256("\x1f".join(identity).encode()).hexdigest()
        self.vector = np.asarray(embedder.embed_query(self.question), dtype=np.float32)
        hit = self.memo.cache.similar(self.vector, self.evidence, self.version, self.memo.threshold)
        return self._replay(hit.payload) if hit else None

    def store(self, answer: Answer) -> None:
        if answer.cached or answer.fallback in _NOT_KEPT:
            return
        payload = json.dumps(
            {"posts": [asdict(p) for p in self.posts], "answer": asdict(answer)}, ensure_ascii=False, default=str
        )  # default=str: a period's days as YYYY-MM-DD
        self.memo.cache.put(self.key, self.version, payload, self.vector, self.evidence)

    def _replay(self, payload: str) -> list[Event] | None:
        try:
            data = json.loads(payload)
            answer = _decode(data["answer"])
            posts = [Related(**p) for p in data["posts"]]
        except (ValueError, KeyError, TypeError):  # written by another version of this code: a miss
            return None
        ms = elapsed_ms(self.started)
        timings = {"retrieve_ms": ms, "total_ms": ms, "ttft_ms": ms}
        if answer.passages:
            timings["passage_ms"] = ms
        answer = replace(answer, cached=True, timings=timings, usage=Usage(0, 0))
        events: list[Event] = [Sources(posts)]
        if answer.passages:
            events.append(Passages(answer.passages, ms))
        if answer.mode == "generative":  # as when it was made: other modes carry their text in done
            events.append(Delta(answer.answer))
        events.append(Done(answer))
        return events


def _decode(d: dict[str, Any]) -> Answer:
    return Answer(
        **{
            **d,
            "citations": [Citation(**c) for c in d["citations"]],
            "related": [Related(**r) for r in d["related"]],
            "passages": [Quoted(**q) for q in d["passages"]],
            "usage": Usage(**d["usage"]),
            "period": _period(d["period"]),
            "disagreements": [
                MeasureFigures(g["measure"], [Figure(**f) for f in g["figures"]]) for g in d["disagreements"]
            ],
        }
    )


def _period(d: dict[str, str] | None) -> Period | None:
    if d is None:
        return None
    return Period(date.fromisoformat(d["since"]), date.fromisoformat(d["until"]), d["label"])

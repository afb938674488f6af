"""The cache around the answer pipeline (`Remembering` wraps an `Answerer`): which answers may be kept, how
a question finds one (the same question before anything is computed; a near-duplicate wording with the
same evidence once retrieval has run), and how a kept answer is replayed as the same events (sources,
passage, deltas, done) at once."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, replace
from datetime import date
from typing import Any

import numpy as np

from index.embedding import Embedder
from index.text import elapsed_ms
from rag.answering.meaning import Departed
from rag.answering.pipeline import Answerer
from rag.answering.prompts import Source
from rag.answering.request import Prepared, final_answer, related
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


class Remembering:
    """An answerer whose answers are kept and replayed: the same `ask`/`stream` as the pipeline it wraps,
    which never touches the cache itself."""

    def __init__(self, answerer: Answerer, memo: AnswerMemo) -> None:
        self.answerer, self.memo = answerer, memo

    def warm(self, parallel: int = 1) -> None:
        self.answerer.warm(parallel)

    def ask(self, question: str, history: Sequence[Message] = (), filters: Filters | None = None) -> Answer:
        return final_answer(self.stream(question, history, filters))

    def stream(
        self, question: str, history: Sequence[Message] = (), filters: Filters | None = None,
        cancel: threading.Event | None = None, who: str = "",
    ) -> Iterator[Event]:  # fmt: skip
        a = self.answerer
        request = a.request(question, history, filters, cancel, who)
        memo = self.memo.for_question(question, history, request.filters, a.engine.version)
        if memo is None:  # a follow-up: its answer depends on the conversation, not only on its words
            yield from a.stream(question, history, filters, cancel, who)
            return
        if (replay := memo.exact()) is not None:
            yield from replay
            return
        try:
            prepared = yield from a.prepare(request)
            if prepared is None:
                return
            if not isinstance(prepared, Prepared):  # ended before the evidence: a refusal or a help answer
                yield from self._kept(memo, a.finish(request, prepared, []), keep=prepared.mode != "help")
                return
            memo.posts = related(prepared.hits)
            if (replay := memo.similar(a.engine.embedder, prepared.sources)) is not None:
                yield from replay
                return
            yield from self._kept(memo, a.respond(prepared))
        except Departed:
            return

    @staticmethod
    def _kept(memo: QuestionMemo, events: Iterator[Event], keep: bool = True) -> Iterator[Event]:
        for event in events:
            if isinstance(event, Done) and keep:
                memo.store(event.answer)  # the help answer is not kept: its suggestions change daily
            yield event

"""The answer pipeline: retrieve → evidence → LLM → checked citations, as a stream of events.

Events: `Sources` right after retrieval, `Delta` for each sentence once it is checked (so the streamed
text is the final text: markers verified, unsupported sentences never shown), and `Done` with the answer,
citations, timings and token counts."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from rag.citations import Attributed, Attributor, Citation, answer_sentences, attribute, complete_sentences
from rag.conversation import standalone
from rag.engine import Engine
from rag.evidence import Scorer, select_evidence
from rag.extractive import extractive_answer, refusal_text
from rag.filters import Filters
from rag.llm.base import LLM, LLMFailed, LLMUnavailable, Message, Usage
from rag.prompts import NOT_IN_ARCHIVE, Lang, Source, build_messages, language_of
from rag.retrieve import Hit

Mode = Literal["generative", "extractive", "refusal"]
NO_USAGE = Usage(0, 0)


@dataclass(frozen=True)
class AnswerConfig:
    max_sources: int = 3
    chars_per_source: int = 200
    max_tokens: int = 160
    first_token_s: float = 30.0  # no first token by then: answer extractively
    total_s: float = 120.0
    grammar: bool = False  # constrain decoding so each sentence ends with a marker


@dataclass(frozen=True)
class Related:
    source: str
    url: str
    title: str
    date: str


@dataclass(frozen=True)
class Answer:
    answer: str
    citations: list[Citation]
    refused: bool
    mode: Mode
    language: Lang
    timings: dict[str, float]
    usage: Usage = field(default_factory=lambda: NO_USAGE)
    related: list[Related] = field(default_factory=list)
    sentences: int = 0
    factual: int = 0
    cited: int = 0
    dropped: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Sources:
    posts: list[Related]


@dataclass(frozen=True)
class Delta:
    text: str


@dataclass(frozen=True)
class Done:
    answer: Answer


Event = Sources | Delta | Done
_END = object()


class LLMTimeout(LLMFailed):
    pass


def _related(hits: Sequence[Hit]) -> list[Related]:
    return [Related(h.source, h.url, h.title, h.date.date().isoformat()) for h in hits]


class Answerer:
    def __init__(self, engine: Engine, llm: LLM | None, config: AnswerConfig | None = None) -> None:
        self.engine, self.llm, self.config = engine, llm, config or AnswerConfig()

    def scorer(self) -> Scorer:
        return Scorer(self.engine.tokenize, self.engine.retriever.bm25.idf)

    def dense(self, claims: list[str], texts: list[str]) -> np.ndarray:
        emb = self.engine.embedder
        q = np.stack([emb.embed_query(c) for c in claims])
        return q @ emb.embed_documents(texts).T

    def ask(self, question: str, history: Sequence[Message] = (), filters: Filters | None = None) -> Answer:
        for event in self.stream(question, history, filters):
            if isinstance(event, Done):
                return event.answer
        raise LLMFailed("the answer stream ended without a result")

    def stream(
        self, question: str, history: Sequence[Message] = (), filters: Filters | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[Event]:  # fmt: skip
        cfg, t0 = self.config, time.perf_counter()
        cancel = cancel or threading.Event()
        lang = language_of(question)
        turn = standalone(question, history)
        search = self.engine.search(turn.query, max(cfg.max_sources, 5), filters)
        hits = search.result.hits
        timings = {"retrieve_ms": _ms(t0)}
        yield Sources(_related(hits))
        related = _related(hits[:3])
        if search.not_in_archive or not hits:
            yield Done(self._refusal(lang, timings, t0, related))
            return
        scorer = self.scorer()
        sources = select_evidence(
            question, hits, scorer, max_sources=cfg.max_sources, chars_per_source=cfg.chars_per_source,
            dense=self._dense_one, prefer_dense=lang == "en",
        )  # fmt: skip
        if self.llm is None:
            yield Done(self._extractive(question, sources, scorer, lang, timings, t0))
            return
        checker = Attributor(sources, scorer, self.dense)
        text, pending, usage = "", "", NO_USAGE
        try:
            for item in self._generate(build_messages(question, sources, lang, turn.context), cancel):
                if isinstance(item, Usage):
                    usage = item
                    continue
                timings.setdefault("first_token_ms", _ms(t0))
                text += item
                pending += item
                if NOT_IN_ARCHIVE.startswith(text.strip()) or NOT_IN_ARCHIVE in text:
                    continue  # might be the refusal token: show nothing yet
                finished, pending = complete_sentences(pending)
                yield from self._checked(checker, finished, timings, t0)
        except (LLMUnavailable, LLMFailed):
            yield Done(self._extractive(question, sources, scorer, lang, timings, t0))
            return
        if NOT_IN_ARCHIVE in text:
            yield Done(self._refusal(lang, timings, t0, related, usage))
            return
        yield from self._checked(checker, answer_sentences(pending), timings, t0)
        checked = checker.result()
        if not checked.citations and checker.echoes and not checked.dropped:
            # the model pointed at sources (copied their titles) without answering: let them speak
            yield Done(self._extractive(question, sources, scorer, lang, timings, t0, usage))
            return
        if not checked.citations:
            yield Done(self._refusal(lang, timings, t0, related, usage, checked))
            return
        timings["total_ms"] = _ms(t0)
        yield Done(self._done(checked, "generative", lang, timings, usage, related=[]))

    def _checked(
        self, checker: Attributor, sentences: list[str], timings: dict[str, float], t0: float
    ) -> Iterator[Delta]:
        """Only checked text reaches the reader: each finished sentence, with its markers corrected."""
        for sentence in sentences:
            kept = checker.add(sentence)
            if kept is not None:
                timings.setdefault("ttft_ms", _ms(t0))
                yield Delta(kept if checker.kept == 1 else checker.joiner() + kept)

    def _dense_one(self, question: str, sentences: list[str]) -> np.ndarray:
        return self.dense([question], sentences)[0]

    def _generate(self, messages: list[Message], cancel: threading.Event) -> Iterator[str | Usage]:
        """The model runs in a worker so a stalled or slow model cannot hold the answer past its deadline;
        `cancel` (the client left) stops it too, at its next token."""
        assert self.llm is not None
        llm, cfg = self.llm, self.config
        items: queue.Queue[object] = queue.Queue()
        grammar = _grammar(3) if cfg.grammar else None
        stop = threading.Event()

        def work() -> None:
            try:
                for item in llm.stream(messages, max_tokens=cfg.max_tokens, grammar=grammar, cancel=stop):
                    items.put(item)
                items.put(_END)
            except Exception as exc:  # handed to the consumer, which decides
                items.put(exc)

        threading.Thread(target=work, name="llm", daemon=True).start()
        start = time.monotonic()
        first = True
        try:
            while not cancel.is_set():
                limit = cfg.first_token_s if first else cfg.total_s
                left = start + limit - time.monotonic()
                if left <= 0:
                    raise LLMTimeout(f"no {'first token' if first else 'end'} within {limit:.0f} s")
                try:
                    item = items.get(timeout=min(left, 0.25))  # wake up to notice a cancel
                except queue.Empty:
                    continue
                if item is _END:
                    return
                if isinstance(item, Exception):
                    raise item if isinstance(item, LLMFailed | LLMUnavailable) else LLMFailed(str(item))
                first = False
                yield item  # type: ignore[misc]
        finally:
            stop.set()  # the worker stops at its next token if we left early

    def _done(
        self, checked: Attributed, mode: Mode, lang: Lang, timings: dict[str, float], usage: Usage,
        related: list[Related],
    ) -> Answer:  # fmt: skip
        return Answer(checked.text, checked.citations, False, mode, lang, timings, usage, related,
                      checked.sentences, checked.factual, checked.cited, checked.dropped)  # fmt: skip

    def _extractive(
        self, question: str, sources: list[Source], scorer: Scorer, lang: Lang, timings: dict[str, float], t0: float,
        usage: Usage = NO_USAGE,
    ) -> Answer:  # fmt: skip
        checked = attribute(extractive_answer(question, sources, scorer, lang), sources, scorer)
        timings.setdefault("ttft_ms", _ms(t0))
        timings["total_ms"] = _ms(t0)
        return self._done(checked, "extractive", lang, timings, usage, related=[])

    def _refusal(
        self, lang: Lang, timings: dict[str, float], t0: float, related: list[Related], usage: Usage = NO_USAGE,
        checked: Attributed | None = None,
    ) -> Answer:  # fmt: skip
        timings.setdefault("ttft_ms", _ms(t0))
        timings["total_ms"] = _ms(t0)
        dropped = checked.dropped if checked else []
        return Answer(refusal_text(lang, related), [], True, "refusal", lang, timings, usage, related, dropped=dropped)


def _grammar(n_sources: int) -> str:
    """GBNF: the refusal token, or one to three sentences each closed by a marker of a given source."""
    digits = "".join(str(i) for i in range(1, n_sources + 1))
    return (
        f'root ::= "{NOT_IN_ARCHIVE}" | sentence (" "? sentence)? (" "? sentence)?\n'
        'sentence ::= [^\\[\\]\\n]{4,300} cite ("。" | "." | "")\n'
        f'cite ::= "[" [{digits}] "]"\n'
    )


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)

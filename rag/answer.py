"""The answer pipeline: retrieve → evidence → key passage → LLM → checked citations, as events.

Events: `Sources` right after retrieval, `Passages` (the key passage, quoted) before the model starts,
`Delta` for each sentence once it is checked (so the streamed text is the final text: markers verified,
unsupported sentences never shown), and `Done` with the answer, citations, timings and token counts."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import date, datetime

import numpy as np

from rag import outcomes
from rag.answer_cache import AnswerMemo, QuestionMemo
from rag.citations import Attributor, answer_sentences, complete_sentences
from rag.config import AnswerConfig
from rag.conversation import standalone
from rag.dated import Dating, dated, newest_first
from rag.engine import Engine
from rag.evidence import Scorer, select_evidence
from rag.filters import Filters
from rag.focus import Focus
from rag.gate import ModelGate
from rag.generate import LLMTimeout, ModelBusy, generate
from rag.llm.base import LLM, LLMFailed, LLMUnavailable, Message, Usage
from rag.passages import KeyPassage, key_passages
from rag.periods import read_period, wants_latest, without_period
from rag.prompts import NOT_IN_ARCHIVE, Lang, Source, build_messages, language_of
from rag.query_terms import japanese_terms
from rag.retrieve import Hit
from rag.types import NO_USAGE, Answer, Delta, Done, Event, Passages, Related, Sources

__all__ = ["AnswerConfig", "Answerer", "Delta", "Done", "Event", "Passages", "Sources"]


def _related(hits: Sequence[Hit]) -> list[Related]:
    return [Related(h.source, h.url, h.title, h.date.date().isoformat()) for h in hits]


class Answerer:
    def __init__(
        self, engine: Engine, llm: LLM | None, config: AnswerConfig | None = None, gate: ModelGate | None = None,
        memo: AnswerMemo | None = None, today: Callable[[], date] | None = None,
    ) -> None:  # fmt: skip
        self.engine, self.llm, self.config = engine, llm, config or AnswerConfig()
        self.gate = gate or ModelGate(1)
        self.memo = memo
        self._vectors: dict[tuple[str, str], np.ndarray] = {}
        # the day a question is asked in the site's timezone: 昨年 and last month are resolved against it
        self.today = today or (lambda: datetime.now(engine.retriever.tz).date())

    def scorer(self) -> Scorer:
        return Scorer(self.engine.tokenize, self.engine.retriever.bm25.idf)

    def dense(self, claims: list[str], texts: list[str]) -> np.ndarray:
        """Cosines of claims (as queries) to texts (as passages). Vectors are kept for the answerer's life:
        evidence selection, the key passage and the citation check score the same sentences, and on this
        CPU each embedding costs about 0.1 s."""
        emb = self.engine.embedder
        if len(self._vectors) > 4096:
            self._vectors.clear()
        for kind, items, embed in (("q", claims, None), ("d", texts, emb.embed_documents)):
            missing = [t for t in dict.fromkeys(items) if (kind, t) not in self._vectors]
            if not missing:
                continue
            vectors = embed(missing) if embed else [emb.embed_query(t) for t in missing]
            self._vectors.update({(kind, t): np.asarray(v) for t, v in zip(missing, vectors, strict=True)})
        q = np.stack([self._vectors[("q", c)] for c in claims])
        return q @ np.stack([self._vectors[("d", t)] for t in texts]).T

    def ask(self, question: str, history: Sequence[Message] = (), filters: Filters | None = None) -> Answer:
        for event in self.stream(question, history, filters):
            if isinstance(event, Done):
                return event.answer
        raise LLMFailed("the answer stream ended without a result")

    def stream(
        self, question: str, history: Sequence[Message] = (), filters: Filters | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[Event]:  # fmt: skip
        """The answer's events; its end carries the dates: the period searched, the date of the post a
        "latest" answer rests on, and values the cited posts disagree on (streamed as a last delta)."""
        dating = Dating(read_period(question, self.today()), wants_latest(question))
        if dating.period is not None and not (filters and (filters.since or filters.until)):
            filters = replace(filters or Filters(), since=dating.period.since, until=dating.period.until)
        memo = self.memo.for_question(question, history, filters, self.engine.version) if self.memo else None
        used: list[Source] = []
        content = without_period(question, dating.period)  # 「先月の記事で」 scopes the search; it is not its subject
        for event in self._stream(content, history, filters, cancel or threading.Event(), memo, dating, used):
            if not isinstance(event, Done) or event.answer.cached:
                yield event
                continue
            answer, extra = dated(event.answer, question, used, self.engine.tokenize, dating)
            if extra and answer.mode == "generative":
                yield Delta(extra)
            if memo is not None:
                memo.store(answer)
            yield Done(answer)

    def _stream(
        self, question: str, history: Sequence[Message], filters: Filters | None, cancel: threading.Event,
        memo: QuestionMemo | None, dating: Dating, used: list[Source],
    ) -> Iterator[Event]:  # fmt: skip
        cfg, t0 = self.config, time.perf_counter()
        if memo is not None and (replay := memo.exact()) is not None:
            yield from replay
            return
        lang = language_of(question)
        turn = standalone(question, history)
        # the newest relevant posts, when the latest is asked for, may rank below the evidence pool
        depth = max(cfg.max_sources, cfg.evidence_pool, 5) * (2 if dating.latest else 1)
        search = self.engine.search(turn.query, depth, filters)
        hits = newest_first(search.result.hits, turn.query, self.scorer()) if dating.latest else search.result.hits
        timings = {"retrieve_ms": outcomes.ms(t0)}
        yield Sources(_related(hits))
        if lang == "en" and cfg.english_terms and self.llm is not None and not cancel.is_set():
            terms = japanese_terms(self.llm, self.gate, question, cfg, cancel)
            if terms:  # a second search, its BM25 leg reading the Japanese terms too
                search = self.engine.search(turn.query, depth, filters, terms)
                hits = search.result.hits
                hits = newest_first(hits, turn.query, self.scorer()) if dating.latest else hits
            timings["terms_ms"] = outcomes.ms(t0)
        if memo is not None:
            memo.posts = _related(hits)
        related = _related(hits[:3])
        if search.not_in_archive or not hits:
            yield Done(outcomes.refusal(lang, timings, t0, related))
            return
        scorer = self.scorer()
        sources = self.evidence(turn.query, hits, lang)  # a follow-up's, with the question it follows
        used.extend(sources)
        if memo is not None and (replay := memo.similar(self.engine.embedder, sources)) is not None:
            yield from replay
            return
        keys = self._key_passages(question, sources, scorer, lang) if cfg.passages else []
        if keys:
            timings["passage_ms"] = outcomes.ms(t0)
            yield Passages(outcomes.quoted(keys, sources), timings["passage_ms"])
        quoted = [(k.source, k.text) for k in keys]
        if self.llm is None:
            yield Done(outcomes.extractive(question, sources, scorer, lang, timings, t0, keys))
            return
        if cancel.is_set():
            return  # the reader left before the model was asked: nothing to answer
        focus = Focus(turn.query, scorer) if cfg.on_topic else None  # a follow-up leans on the earlier question
        checker = Attributor(sources, scorer, self.dense, quoted, focus)
        text, pending, usage = "", "", NO_USAGE
        messages = build_messages(question, sources, lang, turn.context, compact=cfg.compact_headers)
        try:
            grammar = _grammar(len(sources)) if cfg.grammar else None
            for item in generate(self.llm, self.gate, messages, cfg, cancel, grammar, timings):
                if isinstance(item, Usage):
                    usage = item
                    continue
                timings.setdefault("first_token_ms", outcomes.ms(t0))
                text += item
                pending += item
                if NOT_IN_ARCHIVE.startswith(text.strip()) or NOT_IN_ARCHIVE in text:
                    continue  # might be the refusal token: show nothing yet
                finished, pending = complete_sentences(pending)
                yield from self._checked(checker, finished, timings, t0)
        except (LLMUnavailable, LLMFailed) as exc:
            reason = "queue" if isinstance(exc, ModelBusy) else "timeout" if isinstance(exc, LLMTimeout) else "failure"
            if checker.cited:  # text was shown: it stays the answer, as streamed (nothing is withdrawn)
                timings["total_ms"] = outcomes.ms(t0)
                passages = outcomes.quoted(keys, sources)
                yield Done(outcomes.answer(checker.result(), "generative", lang, timings, usage, [], passages, reason))
                return
            yield Done(outcomes.extractive(question, sources, scorer, lang, timings, t0, keys, usage, reason))
            return
        if cancel.is_set():
            return
        if NOT_IN_ARCHIVE in text:
            done = Done(
                outcomes.fallback(question, sources, scorer, lang, timings, t0, keys, usage, related, "refused")
            )
            yield done
            return
        yield from self._checked(checker, answer_sentences(pending), timings, t0)
        checked = checker.result()
        if checker.cited == 0:
            reason = outcomes.nothing_kept(checker, checked)
            done = Done(
                outcomes.fallback(question, sources, scorer, lang, timings, t0, keys, usage, related, reason, checked)
            )
            yield done
            return
        timings["total_ms"] = outcomes.ms(t0)
        answer = outcomes.answer(checked, "generative", lang, timings, usage, [], outcomes.quoted(keys, sources))
        yield Done(answer)

    def evidence(self, query: str, hits: Sequence[Hit], lang: Lang, config: AnswerConfig | None = None) -> list[Source]:
        """What the model reads: the best sentences of the top posts, within the budget of `config`."""
        cfg = config or self.config
        return select_evidence(
            query, hits, self.scorer(), max_sources=cfg.max_sources, chars_per_source=cfg.chars_per_source,
            dense=self._dense_one, prefer_dense=lang == "en", pool=cfg.evidence_pool, favour_type=cfg.favour_type,
        )  # fmt: skip

    def _key_passages(self, question: str, sources: list[Source], scorer: Scorer, lang: Lang) -> list[KeyPassage]:
        return key_passages(question, sources, scorer, dense=self._dense_one, by_meaning=lang == "en")

    def _checked(
        self, checker: Attributor, sentences: list[str], timings: dict[str, float], t0: float
    ) -> Iterator[Delta]:
        """Only checked text reaches the reader: each finished sentence, with its markers corrected."""
        for sentence in sentences:
            kept = checker.add(sentence)
            if kept is not None:
                timings.setdefault("ttft_ms", outcomes.ms(t0))
                yield Delta(kept if checker.kept == 1 else checker.joiner() + kept)

    def _dense_one(self, question: str, sentences: list[str]) -> np.ndarray:
        return self.dense([question], sentences)[0]


def _grammar(n_sources: int) -> str:
    """GBNF: the refusal token, or one to three sentences each closed by a marker of a given source."""
    digits = "".join(str(i) for i in range(1, n_sources + 1))
    return (
        f'root ::= "{NOT_IN_ARCHIVE}" | sentence (" "? sentence)? (" "? sentence)?\n'
        'sentence ::= [^\\[\\]\\n]{4,300} cite ("。" | "." | "")\n'
        f'cite ::= "[" [{digits}] "]"\n'
    )

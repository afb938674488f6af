"""The answer pipeline, one path: a request (the period it names read into its filters) → `prepare`
(an English question read in Japanese when asked, retrieval, evidence) → `respond` (the key passage, then
the model's checked sentences: rag/answering/writing.py) → the dated note. The cache wraps this from
outside (rag/cache/memo.py), between the two stages.

Events: `Sources` right after retrieval, `Passages` (the key passage, quoted) before the model starts,
`Delta` for each sentence once it is checked (so the streamed text is the final text: markers verified,
unsupported sentences never shown), and `Done` with the answer, citations, timings and token counts."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import replace
from datetime import date, datetime

from index.text import Lang, elapsed_ms, language_of
from rag.answering import outcomes
from rag.answering.config import AnswerConfig
from rag.answering.dated import Dating, dated, newest_first
from rag.answering.demonstrations import DEMONSTRATIONS
from rag.answering.evidence import Scorer, evidence_depth, select_evidence
from rag.answering.meaning import Departed, Meaning
from rag.answering.passages import KeyPassage, key_passages
from rag.answering.prompts import Source, build_messages
from rag.answering.request import Prepared, Request, final_answer, related
from rag.answering.service_help import archive_facts, help_text, is_about_service
from rag.answering.versions import unnamed_versions
from rag.answering.writing import Brief, Writer
from rag.llm.base import LLM, LLMFailed, LLMUnavailable, Message
from rag.llm.gate import ModelGate
from rag.llm.generate import Limits, generate
from rag.retrieval.conversation import Standalone, standalone
from rag.retrieval.engine import Engine
from rag.retrieval.filters import Filters
from rag.retrieval.japanese_question import japanese_question
from rag.retrieval.periods import read_period, wants_latest, without_period
from rag.retrieval.query_terms import japanese_terms
from rag.retrieval.retriever import Hit
from rag.types import Answer, Delta, Done, Event, Passages, Sources

__all__ = ["AnswerConfig", "Answerer", "Delta", "Done", "Event", "Passages", "Sources"]


class Answerer:
    def __init__(
        self, engine: Engine, llm: LLM | None, config: AnswerConfig, gate: ModelGate | None = None,
        today: Callable[[], date] | None = None, prepare: ModelGate | None = None,
        suggestions: Callable[[], Sequence[str]] | None = None,
    ) -> None:  # fmt: skip
        self.engine, self.llm, self.config = engine, llm, config
        self.gate = gate or ModelGate(1)
        self.cores = prepare  # slots for the CPU work before the model (retrieval, evidence, key passage)
        self.suggestions = suggestions  # what readers often ask, for the help answer about the service
        # the day a question is asked in the site's timezone: 昨年 and last month are resolved against it
        self.today = today or (lambda: datetime.now(engine.timezone).date())

    def scorer(self) -> Scorer:
        return Scorer(self.engine.tokenize, self.engine.idf)

    # --- the one path ------------------------------------------------------------------------------------

    def ask(self, question: str, history: Sequence[Message] = (), filters: Filters | None = None) -> Answer:
        return final_answer(self.stream(question, history, filters))

    def stream(
        self, question: str, history: Sequence[Message] = (), filters: Filters | None = None,
        cancel: threading.Event | None = None, who: str = "",
    ) -> Iterator[Event]:  # fmt: skip
        """The answer's events. A set `cancel` (the reader left) ends them before the next costly step;
        `who` names the caller, so the gates serve callers fairly."""
        request = self.request(question, history, filters, cancel, who)
        try:
            prepared = yield from self.prepare(request)
            if isinstance(prepared, Prepared):
                yield from self.respond(prepared)
            elif prepared is not None:
                yield from self.finish(request, prepared, [])
        except Departed:
            return

    def request(
        self, question: str, history: Sequence[Message] = (), filters: Filters | None = None,
        cancel: threading.Event | None = None, who: str = "",
    ) -> Request:  # fmt: skip
        """The question with the posting period it names read into its filters (unless they have dates)."""
        dating = Dating(read_period(question, self.today()), wants_latest(question))
        if dating.period is not None and not (filters and (filters.since or filters.until)):
            filters = replace(filters or Filters(), since=dating.period.since, until=dating.period.until)
        content = without_period(question, dating.period)  # 「先月の記事で」 scopes the search; it is not its subject
        return Request(question, content, history, filters, dating, cancel or threading.Event(), who,
                       language_of(content))  # fmt: skip

    def prepare(self, r: Request) -> Generator[Event, None, Prepared | Answer | None]:
        """Retrieval and evidence: the `Sources` event, then what the model will read; an answer when it
        ends here (a help answer, nothing relevant); None when the reader left."""
        cfg = self.config
        if not r.history and is_about_service(r.content):
            facts = archive_facts(self.engine.posts, self.engine.timezone, self.engine.site_title)
            asked = list(self.suggestions()) if self.suggestions else []
            return outcomes.help_answer(help_text(facts, asked, r.lang), r.lang, {}, r.t0)
        rendering_ms = None
        if r.lang == "en" and cfg.japanese_question and self.llm is not None and not r.history:
            if rendering := japanese_question(self.llm, self.gate, r.content, cfg.limits(), r.cancel, r.who):
                r = replace(r, content=f"{rendering} {r.content}", reads="ja", rendering=rendering)
            rendering_ms = elapsed_ms(r.t0)
        turn = standalone(r.content, r.history)
        depth = evidence_depth(cfg, r.dating.latest)
        meaning = Meaning(self.engine.embedder, r.cancel)
        with self._core(r) as ours:
            if not ours:
                return None  # the reader left while waiting for a core: nothing was computed for nobody
            search = self.engine.search(turn.query, depth, r.filters)
            hits = self._ordered(search.result.hits, turn, r)
        timings = {"retrieve_ms": elapsed_ms(r.t0)}
        if rendering_ms is not None:
            timings["rendering_ms"] = rendering_ms
        yield Sources(related(hits))
        if r.lang == "en" and cfg.english_terms and self.llm is not None and not r.cancel.is_set():
            terms = japanese_terms(self.llm, self.gate, r.content, cfg.limits(), r.cancel, who=r.who)
            if terms:  # a second search, its BM25 leg reading the Japanese terms too
                search = self.engine.search(turn.query, depth, r.filters, terms)
                hits = self._ordered(search.result.hits, turn, r)
            timings["terms_ms"] = elapsed_ms(r.t0)
        if search.not_in_archive or not hits or (cfg.version_check and unnamed_versions(r.content, hits)):
            return outcomes.refusal(r.lang, timings, r.t0, related(hits[:3]))
        with self._core(r) as ours:
            if not ours:
                return None
            sources = self.evidence(turn.query, hits, r.read_lang, meaning)  # a follow-up's, with what it follows
        return Prepared(r, turn, hits, search.relevance, sources, timings, meaning)

    def respond(self, p: Prepared) -> Iterator[Event]:
        """The key passage, then the model's answer (or the extractive one without a model)."""
        r, cfg = p.request, self.config
        with self._core(r) as ours:
            if not ours:
                return
            # scored on the rendering alone: the English words, which no Japanese sentence holds, would lower
            # every sentence's share of the question's words below the key passage's bar
            asked = r.rendering or r.content
            keys = self.key_passages(asked, p.sources, r.read_lang, p.meaning) if cfg.passages else []
        if keys:
            p.timings["passage_ms"] = elapsed_ms(r.t0)
            yield Passages(outcomes.quoted(keys, p.sources), p.timings["passage_ms"])
        scorer = self.scorer()
        if self.llm is None:
            answer = outcomes.extractive(r.content, p.sources, scorer, r.lang, p.timings, r.t0, keys)
            yield from self.finish(r, answer, p.sources)
            return
        if r.cancel.is_set():
            return  # the reader left before the model was asked: nothing to answer
        writer = Writer(self.llm, self.gate, cfg, scorer, p.meaning, self.engine.tokenize)
        brief = Brief(r.content, p.turn.query, p.turn.context, r.lang, p.sources, keys, p.relevance,
                      related(p.hits[:3]), p.timings, r.t0, r.cancel, r.who)  # fmt: skip
        written = yield from writer.write(brief)
        if written is not None:
            yield from self.finish(r, written, p.sources)

    def finish(self, r: Request, answer: Answer, sources: list[Source]) -> Iterator[Event]:
        """The answer's end carries its dates: the period searched, the date of the post a "latest" answer
        rests on, and values the cited posts disagree on (streamed as a last delta)."""
        answer, extra = dated(answer, r.question, sources, self.engine.tokenize, r.dating)
        if extra and answer.mode == "generative":
            yield Delta(extra)
        yield Done(answer)

    # --- the stages' parts, public for the benches ----------------------------------------------------------

    def evidence(
        self, query: str, hits: Sequence[Hit], lang: Lang, meaning: Meaning | None = None,
        config: AnswerConfig | None = None,
    ) -> list[Source]:  # fmt: skip
        """What the model reads: the best sentences of the top posts, within the budget of `config`."""
        cfg = config or self.config
        meaning = meaning or Meaning(self.engine.embedder)
        return select_evidence(
            query, hits, self.scorer(), max_sources=cfg.max_sources, chars_per_source=cfg.chars_per_source,
            dense=meaning.of, prefer_dense=lang == "en", pool=cfg.evidence_pool, favour_type=cfg.favour_type,
            alone_margin=cfg.alone_margin, meaning_sentences=cfg.meaning_sentences, window=cfg.window,
        )  # fmt: skip

    def key_passages(
        self, question: str, sources: list[Source], lang: Lang, meaning: Meaning | None = None
    ) -> list[KeyPassage]:
        meaning = meaning or Meaning(self.engine.embedder)
        return key_passages(question, sources, self.scorer(), dense=meaning.of, by_meaning=lang == "en")

    def warm(self, parallel: int = 1) -> None:
        """Reads the fixed part of the prompt (instructions and demonstrations) once, so that later
        questions find it in the model's cache (each llama-server slot has its own: `parallel` warms as
        many at once). A failure costs nothing but the warmth."""
        if self.llm is None:
            return
        demo = DEMONSTRATIONS[0]
        sources = [Source(n, "", "", "", day, "", text) for n, (day, text) in enumerate(demo.sources, 1)]
        cfg = self.config
        messages = build_messages(demo.question, sources, "ja", compact=cfg.compact_headers,
                                  short_first=cfg.short_first, demonstrations=cfg.demonstrations)  # fmt: skip
        one = Limits(1, max(cfg.first_token_s, 300.0), max(cfg.total_s, 300.0), cfg.queue_s)
        llm = self.llm

        def read() -> None:
            with contextlib.suppress(LLMFailed, LLMUnavailable):
                for _ in generate(llm, self.gate, messages, one, threading.Event()):
                    pass

        threads = [threading.Thread(target=read, name="warm") for _ in range(max(1, parallel))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def _ordered(self, hits: list[Hit], turn: Standalone, r: Request) -> list[Hit]:
        """For "the most recent article on X", the newest relevant posts first."""
        return newest_first(hits, turn.query, self.scorer()) if r.dating.latest else hits

    @contextlib.contextmanager
    def _core(self, r: Request) -> Iterator[bool]:
        """A core for the CPU work before the model, or False once the reader left while waiting for one."""
        if r.cancel.is_set():
            yield False
        elif self.cores is None:
            yield True
        else:
            with self.cores.enter(r.cancel.is_set, r.who) as ours:
                yield ours

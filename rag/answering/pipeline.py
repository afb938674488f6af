"""The answer pipeline: retrieve → evidence → key passage → LLM → checked citations, as events.

Events: `Sources` right after retrieval, `Passages` (the key passage, quoted) before the model starts,
`Delta` for each sentence once it is checked (so the streamed text is the final text: markers verified,
unsupported sentences never shown), and `Done` with the answer, citations, timings and token counts."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import date, datetime

import numpy as np

from index.text import Lang, answer_sentences, elapsed_ms, language_of
from rag.answering import outcomes, spans
from rag.answering.citations import Attributed, Attributor, complete_sentences
from rag.answering.dated import Dating, dated, newest_first
from rag.answering.demonstrations import DEMONSTRATIONS
from rag.answering.evidence import Scorer, select_evidence
from rag.answering.focus import Focus
from rag.answering.passages import KeyPassage, key_passages
from rag.answering.prompts import NOT_IN_ARCHIVE, Source, build_messages
from rag.answering.service_help import archive_facts, help_text, is_about_service
from rag.answering.subject import SubjectGuard
from rag.answering.translate import translate
from rag.cache.memo import AnswerMemo, QuestionMemo
from rag.config import AnswerConfig
from rag.llm.base import LLM, LLMFailed, LLMUnavailable, Message, Usage
from rag.llm.gate import ModelGate
from rag.llm.generate import LLMTimeout, ModelBusy, generate
from rag.retrieval.conversation import standalone
from rag.retrieval.engine import Engine
from rag.retrieval.filters import Filters
from rag.retrieval.periods import read_period, wants_latest, without_period
from rag.retrieval.query_terms import japanese_terms
from rag.retrieval.retriever import Hit
from rag.types import NO_USAGE, Answer, Delta, Done, Event, Passages, Related, Sources

__all__ = ["AnswerConfig", "Answerer", "Delta", "Done", "Event", "Passages", "Sources"]


_EMBED_STEP = 16  # sentences embedded between two looks at whether the reader is still there


class Departed(Exception):
    """The reader left during the CPU work before the model; the stream ends without an answer."""


# The relevance probability above which a refusal of evidence with a key passage gets the second, span
# attempt: twice the calibrated not-in-archive threshold (0.24), so a borderline question keeps its refusal.
SPAN_RELEVANCE = 0.5


def _related(hits: Sequence[Hit]) -> list[Related]:
    return [Related(h.source, h.url, h.title, h.date.date().isoformat()) for h in hits]


class Answerer:
    def __init__(
        self, engine: Engine, llm: LLM | None, config: AnswerConfig | None = None, gate: ModelGate | None = None,
        memo: AnswerMemo | None = None, today: Callable[[], date] | None = None, prepare: ModelGate | None = None,
        suggestions: Callable[[], Sequence[str]] | None = None,
    ) -> None:  # fmt: skip
        self.engine, self.llm, self.config = engine, llm, config or AnswerConfig()
        self.gate = gate or ModelGate(1)
        self.prepare = prepare  # slots for the CPU work before the model (retrieval, evidence, key passage)
        self.suggestions = suggestions  # what readers often ask, for the help answer about the service
        self._cancel = threading.Event()  # the current request's: dense() stops between batches when it is set
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
            for at in range(0, len(missing), _EMBED_STEP):
                if self._cancel.is_set():
                    raise Departed  # the reader left: the rest of these embeddings would be for nobody
                part = missing[at : at + _EMBED_STEP]
                vectors = embed(part) if embed else [emb.embed_query(t) for t in part]
                self._vectors.update({(kind, t): np.asarray(v) for t, v in zip(part, vectors, strict=True)})
        q = np.stack([self._vectors[("q", c)] for c in claims])
        return q @ np.stack([self._vectors[("d", t)] for t in texts]).T

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
        one = replace(cfg, max_tokens=1, first_token_s=max(cfg.first_token_s, 300.0), total_s=max(cfg.total_s, 300.0))

        def read() -> None:
            with contextlib.suppress(LLMFailed, LLMUnavailable):
                for _ in generate(self.llm, self.gate, messages, one, threading.Event()):  # type: ignore[arg-type]
                    pass

        threads = [threading.Thread(target=read, name="warm") for _ in range(max(1, parallel))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def ask(self, question: str, history: Sequence[Message] = (), filters: Filters | None = None) -> Answer:
        for event in self.stream(question, history, filters):
            if isinstance(event, Done):
                return event.answer
        raise LLMFailed("the answer stream ended without a result")

    def stream(
        self, question: str, history: Sequence[Message] = (), filters: Filters | None = None,
        cancel: threading.Event | None = None, who: str = "",
    ) -> Iterator[Event]:  # fmt: skip
        """The answer's events; its end carries the dates: the period searched, the date of the post a
        "latest" answer rests on, and values the cited posts disagree on (streamed as a last delta).
        A set `cancel` (the reader left) ends the stream before the next costly step; `who` names the
        caller, so the gates serve callers fairly."""
        cancel = cancel or threading.Event()
        self._cancel = cancel
        try:
            yield from self._dated(question, history, filters, cancel, who)
        except Departed:
            return

    def _dated(
        self, question: str, history: Sequence[Message], filters: Filters | None, cancel: threading.Event, who: str
    ) -> Iterator[Event]:
        dating = Dating(read_period(question, self.today()), wants_latest(question))
        if dating.period is not None and not (filters and (filters.since or filters.until)):
            filters = replace(filters or Filters(), since=dating.period.since, until=dating.period.until)
        memo = self.memo.for_question(question, history, filters, self.engine.version) if self.memo else None
        used: list[Source] = []
        content = without_period(question, dating.period)  # 「先月の記事で」 scopes the search; it is not its subject
        for event in self._stream(content, history, filters, cancel, who, memo, dating, used):
            if not isinstance(event, Done) or event.answer.cached:
                yield event
                continue
            answer, extra = dated(event.answer, question, used, self.engine.tokenize, dating)
            if extra and answer.mode == "generative":
                yield Delta(extra)
            if memo is not None and answer.mode != "help":  # the help answer's suggestions change daily
                memo.store(answer)
            yield Done(answer)

    def _stream(
        self, question: str, history: Sequence[Message], filters: Filters | None, cancel: threading.Event,
        who: str, memo: QuestionMemo | None, dating: Dating, used: list[Source],
    ) -> Iterator[Event]:  # fmt: skip
        cfg, t0 = self.config, time.perf_counter()
        if memo is not None and (replay := memo.exact()) is not None:
            yield from replay
            return
        lang = language_of(question)
        if not history and is_about_service(question):
            facts = archive_facts(self.engine.retriever.snapshot, self.engine.retriever.tz)
            asked = list(self.suggestions()) if self.suggestions else []
            yield Done(outcomes.help_answer(help_text(facts, asked, lang), lang, {}, t0))
            return
        turn = standalone(question, history)
        # the newest relevant posts, when the latest is asked for, may rank below the evidence pool
        depth = max(cfg.max_sources, cfg.evidence_pool, 5) * (2 if dating.latest else 1)
        with self._working(cancel, who) as ours:
            if not ours:
                return  # the reader left while waiting for a core: nothing was computed for nobody
            search = self.engine.search(turn.query, depth, filters)
            hits = newest_first(search.result.hits, turn.query, self.scorer()) if dating.latest else search.result.hits
        timings = {"retrieve_ms": elapsed_ms(t0)}
        yield Sources(_related(hits))
        if lang == "en" and cfg.english_terms and self.llm is not None and not cancel.is_set():
            terms = japanese_terms(self.llm, self.gate, question, cfg, cancel, who=who)
            if terms:  # a second search, its BM25 leg reading the Japanese terms too
                search = self.engine.search(turn.query, depth, filters, terms)
                hits = search.result.hits
                hits = newest_first(hits, turn.query, self.scorer()) if dating.latest else hits
            timings["terms_ms"] = elapsed_ms(t0)
        if memo is not None:
            memo.posts = _related(hits)
        related = _related(hits[:3])
        if search.not_in_archive or not hits:
            yield Done(outcomes.refusal(lang, timings, t0, related))
            return
        scorer = self.scorer()
        with self._working(cancel, who) as ours:
            if not ours:
                return
            sources = self.evidence(turn.query, hits, lang)  # a follow-up's, with the question it follows
            used.extend(sources)
            if memo is not None and (replay := memo.similar(self.engine.embedder, sources)) is not None:
                yield from replay
                return
            keys = self._key_passages(question, sources, scorer, lang) if cfg.passages and not cancel.is_set() else []
        if keys:
            timings["passage_ms"] = elapsed_ms(t0)
            yield Passages(outcomes.quoted(keys, sources), timings["passage_ms"])
        quoted = [(k.source, k.text) for k in keys]
        if self.llm is None:
            yield Done(outcomes.extractive(question, sources, scorer, lang, timings, t0, keys))
            return
        if cancel.is_set():
            return  # the reader left before the model was asked: nothing to answer
        focus = Focus(turn.query, scorer) if cfg.on_topic else None  # a follow-up leans on the earlier question
        guard = SubjectGuard(turn.query, self.engine.tokenize.morphemes) if cfg.subject_guard else None
        checker = Attributor(sources, scorer, self.dense, quoted, focus, cfg.short_first, guard)
        text, pending, usage = "", "", NO_USAGE
        # English by way of Japanese: the model answers in the evidence's language, each checked sentence is
        # then translated (rag/answering/translate.py); `english` collects what the reader was shown.
        english: list[str] | None = [] if lang == "en" and cfg.english_route == "translate" else None
        messages = build_messages(
            question, sources, "ja" if english is not None else lang, turn.context, compact=cfg.compact_headers,
            short_first=cfg.short_first, demonstrations=cfg.demonstrations,
        )  # fmt: skip
        try:
            grammar = _grammar(len(sources)) if cfg.grammar else None
            for item in generate(self.llm, self.gate, messages, cfg, cancel, grammar, timings, who):
                if isinstance(item, Usage):
                    usage = item
                    continue
                timings.setdefault("first_token_ms", elapsed_ms(t0))
                text += item
                pending += item
                if NOT_IN_ARCHIVE.startswith(text.strip()) or NOT_IN_ARCHIVE in text:
                    continue  # might be the refusal token: show nothing yet
                finished, pending = complete_sentences(pending)
                yield from self._checked(checker, finished, timings, t0, english, cancel)
        except (LLMUnavailable, LLMFailed) as exc:
            reason = "queue" if isinstance(exc, ModelBusy) else "timeout" if isinstance(exc, LLMTimeout) else "failure"
            if checker.cited:  # text was shown: it stays the answer, as streamed (nothing is withdrawn)
                timings["total_ms"] = elapsed_ms(t0)
                passages = outcomes.quoted(keys, sources)
                shown = _shown(checker.result(), english)
                yield Done(outcomes.answer(shown, "generative", lang, timings, usage, [], passages, reason))
                return
            yield Done(outcomes.extractive(question, sources, scorer, lang, timings, t0, keys, usage, reason))
            return
        if cancel.is_set():
            return
        confident = bool(keys) and search.relevance >= SPAN_RELEVANCE
        if NOT_IN_ARCHIVE in text:
            if cfg.span_fallback and confident and (picked := self._pick(messages, text, question, lang, sources,
                                                                         keys, cancel)):  # fmt: skip
                yield Done(outcomes.span(picked, sources, scorer, lang, timings, t0, keys, usage))
                return
            done = Done(
                outcomes.fallback(question, sources, scorer, lang, timings, t0, keys, usage, related, "refused")
            )
            yield done
            return
        yield from self._checked(checker, answer_sentences(pending), timings, t0, english, cancel)
        checked = checker.result()
        if checker.cited == 0:
            reason = outcomes.nothing_kept(checker, checked)
            attempt = cfg.span_fallback and confident and reason != "echo"
            if attempt and (picked := self._pick(messages, text, question, lang, sources, keys, cancel)):
                yield Done(outcomes.span(picked, sources, scorer, lang, timings, t0, keys, usage))
                return
            done = Done(
                outcomes.fallback(question, sources, scorer, lang, timings, t0, keys, usage, related, reason, checked)
            )
            yield done
            return
        timings["total_ms"] = elapsed_ms(t0)
        answer = outcomes.answer(
            _shown(checked, english), "generative", lang, timings, usage, [], outcomes.quoted(keys, sources)
        )
        yield Done(answer)

    @contextlib.contextmanager
    def _working(self, cancel: threading.Event, who: str) -> Iterator[bool]:
        """A core for the CPU work before the model, or False once the reader left while waiting for one."""
        if cancel.is_set():
            yield False
        elif self.prepare is None:
            yield True
        else:
            with self.prepare.enter(cancel.is_set, who) as ours:
                yield ours

    def evidence(self, query: str, hits: Sequence[Hit], lang: Lang, config: AnswerConfig | None = None) -> list[Source]:
        """What the model reads: the best sentences of the top posts, within the budget of `config`."""
        cfg = config or self.config
        return select_evidence(
            query, hits, self.scorer(), max_sources=cfg.max_sources, chars_per_source=cfg.chars_per_source,
            dense=self._dense_one, prefer_dense=lang == "en", pool=cfg.evidence_pool, favour_type=cfg.favour_type,
            alone_margin=cfg.alone_margin,
        )  # fmt: skip

    def _pick(
        self, messages: list[Message], reply: str, question: str, lang: Lang, sources: list[Source],
        keys: list[KeyPassage], cancel: threading.Event,
    ) -> tuple[str, int, str] | None:  # fmt: skip
        """The span the model picks after refusing evidence the key passage vouches for (rag/answering/spans.py)."""
        assert self.llm is not None
        options = spans.choices(question, sources, keys[0].source if keys else None)
        return spans.pick(self.llm, self.gate, messages, reply, question, lang, options, self.config, cancel)

    def _key_passages(self, question: str, sources: list[Source], scorer: Scorer, lang: Lang) -> list[KeyPassage]:
        return key_passages(question, sources, scorer, dense=self._dense_one, by_meaning=lang == "en")

    def _checked(
        self, checker: Attributor, sentences: list[str], timings: dict[str, float], t0: float,
        english: list[str] | None = None, cancel: threading.Event | None = None,
    ) -> Iterator[Delta]:  # fmt: skip
        """Only checked text reaches the reader: each finished sentence, with its markers corrected (and,
        with `english`, translated once checked)."""
        for sentence in sentences:
            kept = checker.add(sentence)
            if kept is None:
                continue
            if english is not None and self.llm is not None:
                kept = translate(self.llm, self.gate, kept, self.config, cancel or threading.Event())
                english.append(kept)
                timings.setdefault("ttft_ms", elapsed_ms(t0))
                yield Delta(kept if len(english) == 1 else " " + kept)
                continue
            timings.setdefault("ttft_ms", elapsed_ms(t0))
            yield Delta(kept if checker.kept == 1 else checker.joiner() + kept)

    def _dense_one(self, question: str, sentences: list[str]) -> np.ndarray:
        return self.dense([question], sentences)[0]


def _shown(checked: Attributed, english: list[str] | None) -> Attributed:
    """The checked answer as the reader saw it: translated when it went out in English."""
    return replace(checked, text=" ".join(english)) if english else checked


def _grammar(n_sources: int) -> str:
    """GBNF: the refusal token, or one to three sentences each closed by a marker of a given source."""
    digits = "".join(str(i) for i in range(1, n_sources + 1))
    return (
        f'root ::= "{NOT_IN_ARCHIVE}" | sentence (" "? sentence)? (" "? sentence)?\n'
        'sentence ::= [^\\[\\]\\n]{4,300} cite ("。" | "." | "")\n'
        f'cite ::= "[" [{digits}] "]"\n'
    )

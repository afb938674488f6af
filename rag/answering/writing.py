"""The model's part of an answer: the prompt, generation under the gate's deadlines, each finished sentence
checked against the sources before it is shown (markers verified, unsupported or off-topic sentences
dropped, a figure of another subject dropped), English by translation when asked, and how the answer
ends when the model refuses, fails or leaves nothing standing (the span attempt, the key passage, the
extractive answer, a refusal)."""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterator
from dataclasses import dataclass, replace

from index.sparse import JapaneseTokenizer
from index.text import Lang, answer_sentences, elapsed_ms
from rag.answering import outcomes, spans
from rag.answering.citations import Attributed, Attributor, complete_sentences
from rag.answering.config import AnswerConfig
from rag.answering.evidence import Scorer
from rag.answering.focus import Focus
from rag.answering.meaning import Meaning
from rag.answering.passages import KeyPassage
from rag.answering.prompts import NOT_IN_ARCHIVE, Source, build_messages
from rag.answering.subject import SubjectGuard
from rag.answering.translate import EnglishOut, translate
from rag.llm.base import LLM, LLMFailed, LLMUnavailable, Message, Usage
from rag.llm.gate import ModelGate
from rag.llm.generate import LLMTimeout, ModelBusy, generate
from rag.types import NO_USAGE, Answer, Delta, Related

# The relevance probability above which a refusal of evidence with a key passage gets the second, span
# attempt: twice the calibrated not-in-archive threshold (0.24), so a borderline question keeps its refusal.
SPAN_RELEVANCE = 0.5


@dataclass(frozen=True)
class Brief:
    """What the model is asked about: the question (as searched and as its focus), the sources, the key
    passages already shown, and what the request carries along."""

    question: str
    focus_query: str  # a follow-up's, with the question it follows
    context: str  # the earlier question, for a follow-up
    lang: Lang
    sources: list[Source]
    keys: list[KeyPassage]
    relevance: float
    related: list[Related]
    timings: dict[str, float]
    t0: float
    cancel: threading.Event
    who: str


@dataclass
class Writer:
    llm: LLM
    gate: ModelGate
    config: AnswerConfig
    scorer: Scorer
    meaning: Meaning
    tokenizer: JapaneseTokenizer

    def write(self, b: Brief) -> Generator[Delta, None, Answer | None]:
        """Deltas as sentences pass their checks; the answer at the end (None when the reader left)."""
        cfg, timings, t0 = self.config, b.timings, b.t0
        focus = Focus(b.focus_query, self.scorer) if cfg.on_topic else None
        guard = SubjectGuard(b.focus_query, self.tokenizer.morphemes) if cfg.subject_guard else None
        quoted = [(k.source, k.text) for k in b.keys]
        checker = Attributor(b.sources, self.scorer, self.meaning.cosines, quoted, focus, cfg.short_first, guard)
        # English by way of Japanese: the checked sentences to translate are held until the model has finished
        # (rag/answering/translate.py): a translation asked for while the answer still streams would wait for
        # the model the answer holds.
        translating = b.lang == "en" and cfg.english_route != "direct"
        route = EnglishOut(cfg.english_route == "translate") if translating else None
        messages = build_messages(
            b.question, b.sources, "ja" if route and route.translate_all else b.lang, b.context,
            compact=cfg.compact_headers, short_first=cfg.short_first, demonstrations=cfg.demonstrations,
        )  # fmt: skip
        text, pending, usage = "", "", NO_USAGE
        try:
            grammar = _grammar(len(b.sources)) if cfg.grammar else None
            for item in generate(self.llm, self.gate, messages, cfg.limits(), b.cancel, grammar, timings, b.who):
                if isinstance(item, Usage):
                    usage = item
                    continue
                timings.setdefault("first_token_ms", elapsed_ms(t0))
                text += item
                pending += item
                if NOT_IN_ARCHIVE.startswith(text.strip()) or NOT_IN_ARCHIVE in text:
                    continue  # might be the refusal token: show nothing yet
                finished, pending = complete_sentences(pending)
                yield from self._checked(checker, finished, b, route)
        except (LLMUnavailable, LLMFailed) as exc:
            reason = "queue" if isinstance(exc, ModelBusy) else "timeout" if isinstance(exc, LLMTimeout) else "failure"
            if checker.cited:  # text was shown: it stays the answer, as streamed (nothing is withdrawn)
                english = yield from self._translated(route, b)
                timings["total_ms"] = elapsed_ms(t0)
                shown = _shown(checker.result(), english)
                passages = outcomes.quoted(b.keys, b.sources)
                return outcomes.answer(shown, "generative", b.lang, timings, usage, [], passages, reason)
            return outcomes.extractive(b.question, b.sources, self.scorer, b.lang, timings, t0, b.keys, usage, reason)
        if b.cancel.is_set():
            return None
        confident = bool(b.keys) and b.relevance >= SPAN_RELEVANCE
        if NOT_IN_ARCHIVE in text:
            if cfg.span_fallback and confident and (picked := self._pick_span(messages, text, b)):
                return outcomes.span(picked, b.sources, self.scorer, b.lang, timings, t0, b.keys, usage)
            return outcomes.fallback(b.question, b.sources, self.scorer, b.lang, timings, t0, b.keys, usage,
                                     b.related, "refused")  # fmt: skip
        yield from self._checked(checker, answer_sentences(pending), b, route)
        if cfg.short_first and b.lang == "ja" and (sentence := checker.short_alone()) is not None:
            yield Delta(checker.joiner() + sentence)
        english = yield from self._translated(route, b)
        checked = checker.result()
        if checker.cited == 0:
            reason = outcomes.nothing_kept(checker, checked)
            attempt = cfg.span_fallback and confident and reason != "echo"
            if attempt and (picked := self._pick_span(messages, text, b)):
                return outcomes.span(picked, b.sources, self.scorer, b.lang, timings, t0, b.keys, usage)
            return outcomes.fallback(b.question, b.sources, self.scorer, b.lang, timings, t0, b.keys, usage,
                                     b.related, reason, checked)  # fmt: skip
        timings["total_ms"] = elapsed_ms(t0)
        passages = outcomes.quoted(b.keys, b.sources)
        return outcomes.answer(_shown(checked, english), "generative", b.lang, timings, usage, [], passages)

    def _pick_span(self, messages: list[Message], reply: str, b: Brief) -> tuple[str, int, str] | None:
        """The span the model picks after refusing evidence the key passage vouches for (spans.py)."""
        options = spans.choices(b.question, b.sources, b.keys[0].source if b.keys else None)
        limits = self.config.limits()
        return spans.pick(self.llm, self.gate, messages, reply, b.question, b.lang, options, limits, b.cancel)

    def _checked(
        self, checker: Attributor, sentences: list[str], b: Brief, route: EnglishOut | None
    ) -> Iterator[Delta]:
        """Only checked text reaches the reader: each finished sentence, with its markers corrected (held
        by `route` instead when it goes out translated)."""
        for sentence in sentences:
            kept = checker.add(sentence)
            if kept is None or (route is not None and route.hold(kept)):
                continue
            b.timings.setdefault("ttft_ms", elapsed_ms(b.t0))
            yield Delta(kept if checker.kept == 1 else checker.joiner() + kept)

    def _translated(self, route: EnglishOut | None, b: Brief) -> Generator[Delta, None, list[str] | None]:
        """The answer's sentences as the reader got them, the held ones streamed once translated (None when
        none was held)."""
        if route is None or not route.held:
            return None
        english: list[str] = []
        for sentence in route.held:
            if b.cancel.is_set():
                break
            english.append(translate(self.llm, self.gate, sentence, self.config.limits(), b.cancel))
            b.timings.setdefault("ttft_ms", elapsed_ms(b.t0))
            yield Delta(english[-1] if len(english) == 1 and not route.sent else " " + english[-1])
        return route.sent + english


def _shown(checked: Attributed, english: list[str] | None) -> Attributed:
    """The checked answer as the reader saw it: with its translated sentences when some went out translated."""
    return replace(checked, text=" ".join(english)) if english else checked


def _grammar(n_sources: int) -> str:
    """GBNF: the refusal token, or one to three sentences each closed by a marker of a given source."""
    digits = "".join(str(i) for i in range(1, n_sources + 1))
    return (
        f'root ::= "{NOT_IN_ARCHIVE}" | sentence (" "? sentence)? (" "? sentence)?\n'
        'sentence ::= [^\\[\\]\\n]{4,300} cite ("。" | "." | "")\n'
        f'cite ::= "[" [{digits}] "]"\n'
    )

"""The answer pipeline's configuration, a frozen dataclass built from `Settings` at the entry points."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rag.llm.generate import Limits

EnglishRoute = Literal["direct", "translate"]


@dataclass(frozen=True)
class AnswerConfig:
    max_sources: int = 2
    chars_per_source: int = 200
    max_tokens: int = 160
    first_token_s: float = 30.0  # no first token this long after the model started on it: extractive
    total_s: float = 120.0
    queue_s: float = 120.0  # longest wait for the model before answering without it
    grammar: bool = False  # constrain decoding so each sentence ends with a marker
    passages: bool = True  # send the key passage before generation
    evidence_pool: int = 5  # posts whose sentences compete for the evidence
    compact_headers: bool = True  # source headers in the prompt with the date only
    english_terms: bool = False  # the model writes Japanese search terms for an English question
    on_topic: bool = True  # drop supported sentences that do not bear on the question (rag/answering/focus.py)
    favour_type: bool = True  # evidence sentences holding the kind of fact asked for (a date for いつ) first
    short_first: bool = False  # the answer opens with the figure, date or name asked for, copied from a source
    demonstrations: bool = False  # worked examples in the cached prompt prefix (rag/answering/demonstrations.py)
    subject_guard: bool = (
        False  # drop a figure the source gives for another company or period (rag/answering/subject.py)
    )
    alone_margin: float = 0.0  # quote the best post alone when its evidence score leads by this much; 0 = never
    english_route: EnglishRoute = "direct"  # English answers written directly, or in Japanese then translated
    span_fallback: bool = False  # when the model refuses a confident passage, ask it to pick the answer's span

    def limits(self) -> Limits:
        """How long and how much the model may write for an answer."""
        return Limits(self.max_tokens, self.first_token_s, self.total_s, self.queue_s)

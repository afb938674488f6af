"""The answer pipeline's configuration, a frozen dataclass built from `Settings` at the entry points."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rag.llm.generate import Limits

EnglishRoute = Literal["direct", "translate", "mixed"]


@dataclass(frozen=True)
class AnswerConfig:
    """Every value comes from `Settings.answer_config()`, where the defaults and their reasons live."""

    max_sources: int
    chars_per_source: int
    max_tokens: int
    first_token_s: float
    total_s: float
    queue_s: float
    grammar: bool
    passages: bool
    evidence_pool: int
    compact_headers: bool
    english_terms: bool
    japanese_question: bool  # rag/retrieval/japanese_question.py
    on_topic: bool  # rag/answering/focus.py
    favour_type: bool
    short_first: bool
    demonstrations: bool  # rag/answering/demonstrations.py
    subject_guard: bool  # rag/answering/subject.py
    alone_margin: float
    english_route: EnglishRoute
    span_fallback: bool
    meaning_sentences: int  # rag/answering/evidence.py `readable`
    window: Literal["contiguous", "spread"]  # rag/answering/evidence.py `_window`, `_spread`
    version_check: bool  # rag/answering/versions.py

    def limits(self) -> Limits:
        """How long and how much the model may write for an answer."""
        return Limits(self.max_tokens, self.first_token_s, self.total_s, self.queue_s)

"""Does an answer sentence bear on what was asked? A sentence copied from a source is supported by it
and may still answer nothing (asked when a model was announced, a sentence on its risks); such
sentences are dropped like unsupported ones, and the answer falls back to the key passage or a refusal."""

from __future__ import annotations

from rag.answering.answer_type import has, wanted
from rag.answering.evidence import Scorer

# Share of the question's idf weight a sentence must carry: the question's focus terms (the company,
# the model, the measure), not only its generic words; measured on dev answers (docs/answers.md).
MIN_FOCUS = 0.15


class Focus:
    def __init__(self, question: str, scorer: Scorer, min_focus: float = MIN_FOCUS) -> None:
        self.scorer, self.min_focus = scorer, min_focus
        self.terms = scorer.terms(question)
        self.kind = wanted(question)

    def bears(self, claim: str, first: bool) -> bool:
        """The first sentence must hold the kind of fact asked for (a date for いつ/when, a figure for
        いくら/how much, a name for 誰/who); every sentence must share some of the question's focus."""
        if first and not has(claim, self.kind):
            return False
        return not self.terms or self.scorer.overlap(self.terms, claim) >= self.min_focus

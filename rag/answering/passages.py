"""The key passage: the evidence sentence that best answers the question, quoted verbatim before the
model has read anything. Shown only when its support passes a threshold calibrated on dev.jsonl
(`python -m bench.calibrate_passage`), so a reader is not shown a quote that merely shares a word."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from index.text import split_sentences
from rag.answering.answer_type import has, wanted
from rag.answering.citations import MEANING_FLOOR
from rag.answering.evidence import Scorer
from rag.answering.prompts import Source, clean, quote

# Support of the best sentence: idf-weighted share of the question's terms it holds (Japanese), or
# its e5 cosine to the question above the meaning floor, scaled like citations.py (English). Chosen on
# dev.jsonl (bench/results/passage-calibration.json): the lowest support at which no unanswerable question
# gets a passage; Japanese 0.6 shows one for 66% of answerable questions, 76% of them holding the answer.
KEY_PASSAGE_MIN = 0.6
KEY_PASSAGE_MIN_MEANING = 0.4
_SHORTEST = 12  # characters: shorter "sentences" are headings and fragments, not answers


@dataclass(frozen=True)
class KeyPassage:
    source: int  # index into the sources
    text: str
    support: float


def sentence_support(
    question: str, sentences: list[str], scorer: Scorer,
    dense: Callable[[str, list[str]], np.ndarray] | None = None, by_meaning: bool = False,
) -> np.ndarray:  # fmt: skip
    if by_meaning and dense is not None and sentences:
        return np.clip((dense(question, sentences) - MEANING_FLOOR) / 0.05, 0, 1)
    terms = scorer.terms(question)
    return np.array([scorer.overlap(terms, s) for s in sentences])


def key_passages(
    question: str,
    sources: Sequence[Source],
    scorer: Scorer,
    *,
    dense: Callable[[str, list[str]], np.ndarray] | None = None,
    by_meaning: bool = False,
    threshold: float | None = None,
    most: int = 1,
) -> list[KeyPassage]:
    """Up to `most` sentences, one per source, best first: each must pass `threshold`, hold the kind of
    fact the question asks for (a date for いつ), and be quotable as it stands (no text that addresses
    the model, no truncation)."""
    if threshold is None:
        threshold = KEY_PASSAGE_MIN_MEANING if by_meaning else KEY_PASSAGE_MIN
    kind = wanted(question)
    candidates: list[tuple[int, str]] = []
    for j, source in enumerate(sources):
        for piece in split_sentences(source.text):
            sentence = piece.lstrip("…")  # a spread window's gap mark (evidence.py) is not the post's text
            quotable = len(sentence) >= _SHORTEST and not sentence.endswith("…") and quote(sentence) == clean(sentence)
            if quotable and has(sentence, kind):
                candidates.append((j, sentence))
    if not candidates:
        return []
    support = sentence_support(question, [s for _, s in candidates], scorer, dense, by_meaning)
    chosen: list[KeyPassage] = []
    for i in np.argsort(-support, kind="stable"):
        j, sentence = candidates[int(i)]
        if support[i] < threshold or len(chosen) >= most:
            break
        if all(k.source != j for k in chosen):
            chosen.append(KeyPassage(j, sentence, round(float(support[i]), 4)))
    return chosen

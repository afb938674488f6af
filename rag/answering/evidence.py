"""From retrieved posts to short evidence: the sentences of each post that bear on the question.

A 1.5B model on two CPU cores reads about one Japanese character per token, so every character in
the prompt delays the first answer token; we quote the best sentences, not whole chunks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Literal

import numpy as np

from index.text import split_sentences
from rag.answering.answer_type import has, wanted
from rag.answering.config import AnswerConfig
from rag.answering.prompts import Source, clean
from rag.retrieval.retriever import Hit

# A sentence holding the wanted kind of fact (a date for いつ) gains this much; on the cosine scale of
# the dense scores, whose spread between sentences of one post is a few hundredths, proportionally less.
_TYPE_BONUS, _TYPE_BONUS_DENSE = 0.15, 0.02
_RANK_PRIOR = 0.05  # per retrieval rank, when more posts compete than can be quoted
# A spread window takes a sentence from elsewhere in the post only if it scores at least this share of
# the best: below it, the best sentence's own neighbours (its subject, its period) are worth more.
_SPREAD_SHARE = 0.5

Window = Literal["contiguous", "spread"]


@dataclass(frozen=True)
class Scorer:
    """Lexical evidence: idf-weighted share of the question's terms a sentence contains."""

    tokenize: Callable[[str], list[str]]
    idf: Callable[[str], float]

    def terms(self, text: str) -> dict[str, float]:
        return {t: self.idf(t) for t in self.tokenize(text)}

    def overlap(self, query_terms: dict[str, float], text: str) -> float:
        total = sum(query_terms.values())
        if total <= 0:
            return 0.0
        present = set(self.tokenize(text))
        return sum(w for t, w in query_terms.items() if t in present) / total


def _sentences(hit: Hit) -> list[str]:
    seen: set[str] = set()
    out = []
    for passage in hit.passages:
        for s in split_sentences(clean(passage.text).replace("【", "\n【")):
            if s not in seen and not (s.startswith("【") and s.endswith("】")):
                seen.add(s)
                out.append(s)
    return out


@dataclass(frozen=True)
class Candidate:
    """One post's best evidence window and the score it competes with."""

    score: float  # rank prior applied: higher is better
    rank: int  # retrieval rank
    hit: Hit
    text: str


def candidates(
    question: str,
    hits: Sequence[Hit],
    scorer: Scorer,
    *,
    chars_per_source: int = 200,
    dense: Callable[[str, list[str]], np.ndarray] | None = None,
    prefer_dense: bool = False,
    pool: int = 3,
    favour_type: bool = False,
    meaning_sentences: int = 0,
    window: Window = "contiguous",
) -> list[Candidate]:
    """Per post of the top `pool`, the best-scoring sentence and its neighbours up to the budget, best
    post first. `dense(question, sentences)` scores sentences by meaning: always when `prefer_dense` (an
    English question over Japanese posts, where words cannot meet), otherwise only when no sentence
    shares enough words; then only `meaning_sentences` of each post (0 = all), see `readable`.
    `favour_type` lifts sentences holding the kind of fact the question asks for; `window` is how the
    budget is filled around the best sentence (`_window`, `_spread`)."""
    q_terms = scorer.terms(question)
    kind = wanted(question) if favour_type else "any"
    found: list[Candidate] = []
    for rank, hit in enumerate(hits[:pool]):
        sentences = _sentences(hit)
        if not sentences:
            continue
        lexical = np.array([scorer.overlap(q_terms, s) for s in sentences])
        scores = lexical
        by_meaning = dense is not None and (prefer_dense or lexical.max(initial=0.0) < 0.25)
        if by_meaning:
            assert dense is not None
            scores = _by_meaning(question, sentences, dense, readable(lexical, meaning_sentences))
        typed = np.array([has(s, kind) for s in sentences]) if kind != "any" else np.zeros(len(sentences))
        scores = scores + (_TYPE_BONUS_DENSE if by_meaning else _TYPE_BONUS) * typed
        best = int(np.argmax(scores)) if scores.size and scores.max() > 0 else 0
        # Posts compete on one scale: cosines (0.8-0.9 for any on-topic sentence) would outbid every word
        # match, so a post read by meaning only because its words barely meet the question competes with
        # its word score; only when every post is read by meaning (an English question) do cosines compete.
        rival = float(scores[best]) if prefer_dense else float(lexical[best] + _TYPE_BONUS * typed[best])
        fill = _spread if window == "spread" else _window
        found.append(Candidate(rival - _RANK_PRIOR * rank, rank, hit, fill(sentences, scores, best, chars_per_source)))
    return sorted(found, key=lambda c: (-c.score, c.rank))


def readable(lexical: np.ndarray, most: int) -> np.ndarray:
    """Which of a post's sentences are embedded (indices, in post order): the `most` sharing the most
    words with the question, ties going to the earlier, i.e. the better-matching chunk's (retrieval lists
    a post's chunks best first). Embedding is the cost before the key passage (about 65 short sentences
    a second on a quiet machine here), and an English question's pool holds 80+ sentences."""
    if most <= 0 or lexical.size <= most:
        return np.arange(lexical.size)
    return np.sort(np.argsort(-lexical, kind="stable")[:most])


def _by_meaning(
    question: str, sentences: list[str], dense: Callable[[str, list[str]], np.ndarray], read: np.ndarray
) -> np.ndarray:
    """Cosines of the read sentences; the unread score below every read one, so they are never the best
    but can still widen its window."""
    cosines = dense(question, [sentences[i] for i in read])
    scores = np.full(len(sentences), float(cosines.min(initial=0.0)) - 1.0)
    scores[read] = cosines
    return scores


def lead(found: Sequence[Candidate]) -> float:
    """How far the best post's evidence score leads the second's (infinite with one post)."""
    return found[0].score - found[1].score if len(found) > 1 else float("inf")


def evidence_depth(cfg: AnswerConfig, latest: bool = False) -> int:
    """How many posts retrieval returns for an answer: the evidence pool, at least five; twice as deep
    when the latest is asked for (the newest relevant posts may rank below the pool)."""
    return max(cfg.max_sources, cfg.evidence_pool, 5) * (2 if latest else 1)


def select_evidence(
    question: str,
    hits: Sequence[Hit],
    scorer: Scorer,
    *,
    max_sources: int = 3,
    chars_per_source: int = 200,
    dense: Callable[[str, list[str]], np.ndarray] | None = None,
    prefer_dense: bool = False,
    pool: int = 3,
    favour_type: bool = False,
    alone_margin: float = 0.0,
    meaning_sentences: int = 0,
    window: Window = "contiguous",
) -> list[Source]:
    """The evidence the model reads: the best `max_sources` of `candidates()`, numbered in retrieval
    order. With `alone_margin` > 0, the best post is quoted alone when it leads the next by that much,
    so the model is not shown another post's competing figures for what one post plainly answers."""
    found = candidates(
        question, hits, scorer, chars_per_source=chars_per_source, dense=dense, prefer_dense=prefer_dense,
        pool=max(pool, max_sources), favour_type=favour_type, meaning_sentences=meaning_sentences, window=window,
    )  # fmt: skip
    keep = 1 if alone_margin > 0 and lead(found) >= alone_margin else max_sources
    sources: list[Source] = []
    for c in sorted(found[:keep], key=lambda c: c.rank):
        sources.append(
            Source(len(sources) + 1, c.hit.source, c.hit.url, c.hit.title, c.hit.date.date().isoformat(),
                   " > ".join(c.hit.passages[0].heading), c.text)
        )  # fmt: skip
    return sources


def _window(sentences: list[str], scores: np.ndarray, best: int, budget: int) -> str:
    """The best sentence, grown towards the better-scoring neighbour while the budget allows."""
    lo = hi = best
    size = len(sentences[best])
    while True:
        options = [i for i in (lo - 1, hi + 1) if 0 <= i < len(sentences)]
        options = [i for i in options if size + len(sentences[i]) <= budget]
        if not options:
            break
        pick = max(options, key=lambda i: (scores[i], -i))
        size += len(sentences[pick])
        lo, hi = min(lo, pick), max(hi, pick)
    return _capped("".join(sentences[lo : hi + 1]), budget)


def _spread(sentences: list[str], scores: np.ndarray, best: int, budget: int) -> str:
    """The best sentence and the post's next best wherever they stand, then their neighbours, in post
    order with gaps marked: the sentence that shares the question's topic words (often the post's opening)
    outscores the one holding the figure, and a window grown around it alone misses the figure."""
    chosen = {best}
    size = len(sentences[best])
    bar = float(scores[best]) * _SPREAD_SHARE
    for i in sorted(range(len(sentences)), key=lambda i: (-scores[i], i)):
        if i not in chosen and scores[i] > 0 and scores[i] >= bar and size + len(sentences[i]) <= budget:
            chosen.add(i)
            size += len(sentences[i])
    while True:
        options = {j for i in chosen for j in (i - 1, i + 1)} - chosen
        options = {j for j in options if 0 <= j < len(sentences) and size + len(sentences[j]) <= budget}
        if not options:
            break
        pick = max(options, key=lambda j: (scores[j], -j))
        chosen.add(pick)
        size += len(sentences[pick])
    order = sorted(chosen)
    text = sentences[order[0]]
    for prev, i in pairwise(order):
        text += ("" if i == prev + 1 else "…") + sentences[i]
    return _capped(text, budget)


def _capped(text: str, budget: int) -> str:
    if len(text) > budget * 1.5:
        text = text[: int(budget * 1.5)] + "…"
    return text

"""Citation integrity, enforced on the model's text: every factual sentence ends up with a marker
of a source that supports it, unsupported sentences go, and only used sources are listed.

Small local models omit or invent [n] markers, so markers are checked against the sources (numbers
must appear in the cited source; words or meaning must overlap) and moved, added or dropped."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from index.cleaning import split_sentences
from rag.evidence import Scorer, numbers
from rag.prompts import Source

_MARKER = re.compile(r"\[\s*(\d+(?:\s*[,、]\s*\d+)*)\s*\]")
# A sentence: up to a Japanese or western end mark (a period not inside a number), then any markers.
_SENTENCE = re.compile(r"\s*(.+?(?:[。！？!?]+|\.(?!\d)|\n|$)[」』）)]*(?:\s*\[\s*\d+(?:\s*[,、]\s*\d+)*\s*\])*)", re.S)
KEEP = 0.35  # support needed to keep a marker the model wrote
ASSIGN = 0.5  # support needed to add a marker the model left out

Dense = Callable[[list[str], list[str]], np.ndarray]  # (claims, texts) -> cosine matrix


@dataclass(frozen=True)
class Citation:
    n: int
    source: str
    url: str
    title: str
    date: str
    quote: str


@dataclass(frozen=True)
class Attributed:
    text: str
    citations: list[Citation]
    sentences: int  # answer sentences kept
    factual: int  # of which state a fact
    cited: int  # factual sentences with a supporting marker
    dropped: list[str] = field(default_factory=list)  # unsupported sentences removed


def answer_sentences(text: str) -> list[str]:
    return [m.group(1).strip() for m in _SENTENCE.finditer(text.strip()) if m.group(1).strip()]


def _markers(sentence: str) -> list[int]:
    return [int(n) for group in _MARKER.findall(sentence) for n in re.split(r"[,、]", group)]


def is_factual(claim: str) -> bool:
    """Numbers, names or a full clause: anything longer than a connective phrase states something."""
    return bool(numbers(claim)) or len(claim) >= 12 or len(claim.split()) >= 4


def support_matrix(claims: list[str], sources: Sequence[Source], scorer: Scorer, dense: Dense | None) -> np.ndarray:
    support = np.zeros((len(claims), len(sources)))
    cos = dense(claims, [s.text for s in sources]) if dense and claims and sources else None
    for i, claim in enumerate(claims):
        terms = scorer.terms(claim)
        nums = numbers(claim)
        for j, source in enumerate(sources):
            lexical = scorer.overlap(terms, source.text)
            meaning = float(np.clip((cos[i, j] - 0.80) / 0.10, 0, 1)) if cos is not None else 0.0
            score = max(lexical, meaning)
            if nums:  # a figure the source does not contain is never supported by it
                found = len(nums & numbers(source.title + source.text)) / len(nums)
                score = score * found if found < 1 else max(score, 0.6)
            support[i, j] = score
    return support


def _quote(claim: str, source: Source, scorer: Scorer) -> str:
    sentences = split_sentences(source.text) or [source.text]
    terms = scorer.terms(claim)
    nums = numbers(claim)
    return max(sentences, key=lambda s: (len(nums & numbers(s)), scorer.overlap(terms, s)))


def attribute(answer: str, sources: Sequence[Source], scorer: Scorer, dense: Dense | None = None) -> Attributed:
    sentences = answer_sentences(answer)
    claims = [_MARKER.sub("", s).strip() for s in sentences]
    support = support_matrix(claims, sources, scorer, dense)
    kept: list[tuple[str, list[int]]] = []  # (claim, source indexes)
    dropped: list[str] = []
    factual = cited = 0
    for i, (sentence, claim) in enumerate(zip(sentences, claims, strict=True)):
        if not claim:
            continue
        given = [n - 1 for n in _markers(sentence) if 1 <= n <= len(sources)]
        marks = [j for j in dict.fromkeys(given) if support[i, j] >= KEEP]
        if not marks and len(sources) and support[i].max() >= ASSIGN:
            marks = [int(np.argmax(support[i]))]
        if is_factual(claim):
            if not marks:
                dropped.append(claim)
                continue
            factual += 1
            cited += 1
        kept.append((claim, marks))
    order: dict[int, int] = {}  # source index -> new number, by first use
    for _, marks in kept:
        for j in marks:
            order.setdefault(j, len(order) + 1)
    parts = []
    for claim, marks in kept:
        tail = "".join(f"[{order[j]}]" for j in marks)
        parts.append(_place(claim, tail))
    first_claim = {j: next(c for c, m in kept if j in m) for j in order}
    citations = [
        Citation(n, sources[j].source, sources[j].url, sources[j].title, sources[j].date,
                 _quote(first_claim[j], sources[j], scorer))
        for j, n in sorted(order.items(), key=lambda kv: kv[1])
    ]  # fmt: skip
    joiner = "" if any("\u3040" <= c <= "\u9fff" for c in "".join(parts)) else " "
    return Attributed(joiner.join(parts).strip(), citations, len(kept), factual, cited, dropped)


def _place(claim: str, tail: str) -> str:
    """Markers go before the final end mark: …です[1]。 / …by 42% [1]."""
    if not tail:
        return claim
    if claim.endswith(("。", "！", "？")):
        return claim[:-1] + tail + claim[-1]
    if claim.endswith((".", "!", "?")):
        return f"{claim[:-1]} {tail}{claim[-1]}"
    return claim + tail

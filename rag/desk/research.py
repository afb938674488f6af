"""The research desk: over the posts relevant to a topic, in date order, what was written when, which
figures each post gives, how they changed and where posts published close together disagree.
No LLM: retrieval, the docstore's dates and Sudachi."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

from index.sparse import JapaneseTokenizer
from index.text import elapsed_ms, nfkc, split_sentences
from rag.desk.agreement import (
    DISAGREE_DAYS,
    differ,
    fixed_spec,
    moves_daily,
    one_of_many,
    same_period,
    span,
    subject_key,
)
from rag.desk.figure_context import title_subject
from rag.desk.figures import measure_key, readings
from rag.retrieval.engine import Engine
from rag.retrieval.filters import Filters
from rag.retrieval.retriever import Hit
from rag.types import Figure, MeasureFigures

_SNIPPET = 160


@dataclass(frozen=True)
class ResearchPost:
    date: str
    url: str
    title: str
    source: str
    snippet: str


@dataclass(frozen=True)
class Research:
    topic: str
    posts: list[ResearchPost]  # oldest first
    timeline: list[tuple[str, int]]  # (YYYY-MM, posts)
    figures: list[Figure]
    changes: list[MeasureFigures]
    disagreements: list[MeasureFigures]
    took_ms: float


def topic_terms(topic: str, tokenizer: JapaneseTokenizer) -> list[str]:
    """The topic's content words as a post may write them: the tokens search indexes, and the nouns as
    written, since the tokens spell some Latin names in katakana (Gemini → ジェミニ) that posts never use."""
    words = {t for t in tokenizer(topic) if len(t) > 1 or not t.isascii()}
    words |= {
        _nfkc_lower(surface)
        for surface, pos, kind in tokenizer.morphemes(topic)
        if pos == "名詞" and kind != "数詞" and (len(surface) > 1 or not surface.isascii())
    }
    return sorted(words, key=len, reverse=True)


def _nfkc_lower(text: str) -> str:
    return nfkc(text).lower()


def relevant(hits: Iterable[Hit], texts: dict[str, str], terms: list[str]) -> list[Hit]:
    """Posts that mention the topic. Fusion also returns posts only the dense leg found, which for a
    named company or model are mostly other companies; when no post names the topic (an English
    topic over Japanese posts), the ranking is all there is."""
    hits = list(hits)
    if not terms:
        return hits
    named = [h for h in hits if any(t in _nfkc_lower(h.title + texts.get(h.source, "")) for t in terms)]
    return named or hits


def figures_of(
    hit: Hit, sentences: list[str], terms: list[str], tokenizer: JapaneseTokenizer, date: str
) -> list[Figure]:
    """Figures in sentences near the topic: the sentence, or the one before it, names a topic term
    (the post's title counts as naming it for its opening sentence)."""
    out: list[Figure] = []
    previous = _nfkc_lower(hit.title)
    owner = title_subject(hit.title, tokenizer.morphemes)  # who 「同社」 is
    for sentence in sentences:
        plain = _nfkc_lower(sentence)
        near = not terms or any(t in plain or t in previous for t in terms)
        previous = plain
        if not near or not any(c.isdigit() for c in plain):
            continue
        for r in readings(sentence, tokenizer, owner):
            c = r.context
            out.append(Figure(r.measure, r.value, r.unit, r.text, date, hit.source, hit.url, sentence, c.subject,
                              c.period, c.scope, r.high, c.approximate, r.precision, hit.title, c.bound))  # fmt: skip
    return out


def _group(figures: list[Figure]) -> dict[tuple[str, str], list[Figure]]:
    groups: dict[tuple[str, str], list[Figure]] = defaultdict(list)
    for f in figures:
        groups[(measure_key(f.measure), f.unit)].append(f)
    return groups


def changes(figures: list[Figure]) -> list[MeasureFigures]:
    """Measures that more than one post gives a figure for, each in date order; most posts first."""
    out = []
    for group in _group(figures).values():
        if len({f.source for f in group}) > 1:
            out.append(MeasureFigures(group[0].measure, sorted(group, key=lambda f: (f.date, f.source))))
    return sorted(out, key=lambda m: (-len({f.source for f in m.figures}), m.measure))


def disagreements(figures: list[Figure], days: int = DISAGREE_DAYS) -> list[MeasureFigures]:
    """Figures two posts give differently for the same thing: the same measure and unit, said of the
    same subject, in the same scope (a forecast is not a report, a quarter not a year, a segment not the
    company) and period (written the same, or, with none written, posts within `days` of each other),
    with values that differ beyond their rounding (a range is one value; overlapping ones agree)."""
    groups: dict[tuple[str, str, str, str], list[Figure]] = defaultdict(list)
    for f in figures:
        # a figure nobody is named for cannot be said to disagree with anything, and one whose measure is
        # its subject's name (「某生成AI企業が8,300億ドル…で」) was not read well enough to compare
        if f.subject and measure_key(f.measure) not in measure_key(f.subject) and not one_of_many(f.measure, f.subject):
            groups[(measure_key(f.measure), f.unit, subject_key(f.subject, f.measure), f.scope)].append(f)
    out = []
    for group in groups.values():
        ordered = sorted(group, key=lambda f: (f.date, f.source))
        involved: dict[int, Figure] = {}
        for i, a in enumerate(ordered):
            for j in range(i + 1, len(ordered)):
                b = ordered[j]
                if a.source != b.source and disagree(a, b, days):
                    involved[i], involved[j] = a, b
        if involved:
            out.append(MeasureFigures(ordered[0].measure, [involved[k] for k in sorted(involved)]))
    return sorted(out, key=lambda m: m.figures[0].date)


def disagree(a: Figure, b: Figure, days: int = DISAGREE_DAYS) -> bool:
    """Do two figures of the same measure, subject and scope state different values for the same period?
    A market value or share price only on the same day; a product's version has one spec, whenever said."""
    if moves_daily(a.measure) and a.date[:10] != b.date[:10]:
        return False
    if not (fixed_spec(a.subject, a.measure, a.unit) and a.period == b.period) and not same_period(
        a.period, _iso_day(a.date), b.period, _iso_day(b.date), days
    ):
        return False
    return differ(span(a.value, a.high, a.precision, a.approximate, a.bound),
                  span(b.value, b.high, b.precision, b.approximate, b.bound))  # fmt: skip


def _iso_day(text: str) -> date:
    return date.fromisoformat(text[:10])


def _months(counts: Counter[str]) -> list[tuple[str, int]]:
    """Posts per month from the first to the last, empty months included (a chart's gaps are news)."""
    if not counts:
        return []
    first, last = min(counts), max(counts)
    y, m = int(first[:4]), int(first[5:])
    out = []
    while f"{y:04d}-{m:02d}" <= last:
        out.append((f"{y:04d}-{m:02d}", counts.get(f"{y:04d}-{m:02d}", 0)))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def research(
    engine: Engine,
    topic: str,
    filters: Filters | None = None,
    limit: int = 50,
    progress: Callable[[Iterable[Hit], int], Iterable[Hit]] | None = None,
) -> Research:
    started = time.perf_counter()
    found = engine.search(topic, limit, filters).result.hits
    chunks = engine.post_chunks([h.source for h in found])
    texts = {s: "\n".join(c.text for c in cs) for s, cs in chunks.items()}
    terms = topic_terms(topic, engine.tokenize)
    posts = sorted(relevant(found, texts, terms), key=lambda h: (h.date, h.source))
    tz = engine.timezone
    figures: list[Figure] = []
    for hit in progress(posts, len(posts)) if progress else posts:
        # chunks overlap by whole sentences: each once, in reading order
        sentences = list(dict.fromkeys(s for c in chunks[hit.source] for s in split_sentences(c.text)))
        figures += figures_of(hit, sentences, terms, engine.tokenize, hit.date.astimezone(tz).date().isoformat())
    months = Counter(h.date.astimezone(tz).strftime("%Y-%m") for h in posts)
    return Research(
        topic=topic,
        posts=[
            ResearchPost(h.date.astimezone(tz).date().isoformat(), h.url, h.title, h.source, h.text[:_SNIPPET])
            for h in posts
        ],
        timeline=_months(months),
        figures=figures,
        changes=changes(figures),
        disagreements=disagreements(figures),
        took_ms=elapsed_ms(started),
    )

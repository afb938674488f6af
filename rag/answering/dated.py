"""Dates on answers: the newest relevant posts first for questions about the latest state, and a closing
note that says which period was searched, the date of the post the answer rests on, and where the
cited posts give different values for what was asked (each with its date and marker)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from index.sparse import JapaneseTokenizer
from index.text import Lang, split_sentences
from rag.answering.evidence import Scorer
from rag.answering.prompts import Source
from rag.desk.figure_context import title_subject
from rag.desk.figures import measure_key, readings
from rag.desk.research import disagreements
from rag.retrieval.periods import Period
from rag.retrieval.retriever import Hit
from rag.types import Answer, Citation, Figure, MeasureFigures

# When the newest is wanted, a post counts as relevant if it carries this share of the question's term
# weight that the best-matching post carries: fused ranks alone say little (RRF scores are all close).
RELEVANT_SHARE = 0.75


@dataclass(frozen=True)
class Dating:
    """What the question asked of time, carried to the end of the answer."""

    period: Period | None = None
    latest: bool = False
    notes: list[str] = field(default_factory=list)


def newest_first(hits: Sequence[Hit], question: str, scorer: Scorer) -> list[Hit]:
    """For "the most recent article on X": the relevant posts by date, newest first, the others after them."""
    if not hits:
        return []
    terms = scorer.terms(question)
    match = [scorer.overlap(terms, h.title + "\n" + "\n".join(p.text for p in h.passages)) for h in hits]
    bar = RELEVANT_SHARE * max(match)
    relevant = [h for h, m in zip(hits, match, strict=True) if m >= bar]
    rest = [h for h, m in zip(hits, match, strict=True) if m < bar]
    return sorted(relevant, key=lambda h: h.date, reverse=True) + rest


def noted_disagreements(
    question: str, sources: Sequence[Source], citations: list[Citation], tokenizer: JapaneseTokenizer
) -> tuple[list[MeasureFigures], list[Citation]]:
    """Measures the question names for which the sources disagree, by the desk's rule (the same subject,
    scope and period, values apart beyond rounding: rag/desk/research.py), one figure per post; and the
    citations the note needs (the answer's own markers, plus new ones for sources it did not cite)."""
    asked = measure_key(question)
    figures: list[Figure] = []
    for s in sources:
        owner = title_subject(s.title, tokenizer.morphemes)
        for sentence in split_sentences(s.text):
            for r in readings(sentence, tokenizer, owner):
                if measure_key(r.measure) in asked:
                    c = r.context
                    figures.append(Figure(r.measure, r.value, r.unit, r.text, s.date, s.source, s.url, sentence,
                                          c.subject, c.period, c.scope, r.high, c.approximate, r.precision,
                                          s.title, c.bound))  # fmt: skip
    cites = list(citations)
    marker = {c.source: c.n for c in cites}
    out = []
    for group in disagreements(figures):
        by_post: dict[str, Figure] = {}
        for f in group.figures:
            by_post.setdefault(f.source, f)  # a post's first value for the measure
        for f in by_post.values():
            if f.source not in marker:
                marker[f.source] = max(marker.values(), default=0) + 1
                s = next(x for x in sources if x.source == f.source)
                cites.append(Citation(marker[f.source], s.source, s.url, s.title, s.date, f.sentence))
        out.append(MeasureFigures(group.measure, sorted(by_post.values(), key=lambda v: v.date)))
    return out, cites


def markers(answer: Answer) -> dict[str, int]:
    """Each cited post's marker in the answer."""
    return {c.source: c.n for c in answer.citations}


def note(dating: Dating, answer: Answer, found: list[MeasureFigures], lang: Lang) -> str:
    """The closing note, in the question's language; empty when there is nothing to say."""
    parts = []
    if found:
        n = markers(answer)
        for d in found:
            listed = "、".join(f"{v.text}（{v.date}）[{n[v.source]}]" for v in d.figures)
            listed_en = ", ".join(f"{v.text} ({v.date}) [{n[v.source]}]" for v in d.figures)
            parts.append(
                f"なお、{d.measure}は記事によって値が異なります：{listed}。"
                if lang == "ja"
                else f"Note: the posts give different values for {d.measure}: {listed_en}."
            )
    if dating.latest and answer.citations and not answer.refused:
        first = min(answer.citations, key=lambda c: c.n)
        parts.append(
            f"（{_ja_day(first.date)}の記事[{first.n}]による情報です）"
            if lang == "ja"
            else f"(As of the post of {first.date} [{first.n}].)"
        )
    if dating.period is not None:
        p = dating.period
        parts.append(
            f"（{p.label}の記事から探しました：{p.since}〜{p.until}）"
            if lang == "ja"
            else f"(Searched the posts of {p.since} to {p.until}.)"
        )
    return "".join(parts) if lang == "ja" else " ".join(parts)


def _ja_day(day: str) -> str:
    y, m, d = day[:10].split("-")
    return f"{int(y)}年{int(m)}月{int(d)}日"


def dated(
    answer: Answer, question: str, sources: Sequence[Source], tokenizer: JapaneseTokenizer, dating: Dating
) -> tuple[Answer, str]:
    """The answer with its dates: the note appended (returned too, to be streamed) and the fields set."""
    found: list[MeasureFigures] = []
    citations = answer.citations
    if not answer.refused and len(sources) > 1:
        found, citations = noted_disagreements(question, sources, answer.citations, tokenizer)
    answer = replace(answer, citations=citations)
    text = note(dating, answer, found, answer.language)
    if text and answer.answer:  # a refusal lists posts line by line: the note gets its own line
        text = ("\n" if "\n" in answer.answer else "" if answer.language == "ja" else " ") + text
    as_of = min(answer.citations, key=lambda c: c.n).date if dating.latest and answer.citations else ""
    full = answer.answer + text
    return replace(answer, answer=full, disagreements=found, period=dating.period, as_of=as_of), text

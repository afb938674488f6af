"""Whose figure is it? A generated figure is checked against the source sentence that states it: a
sentence that names another company or product before the figure and never the question's own makes it
someone else's (「AMDの売上高は92億ドル」 for a question about NVIDIA), and the period named last before
the figure must not be another than the question's (「2024年度は80億円、2025年度は120億円」 asked about
2025年度 makes 80億円 the wrong year's). Unknown stays allowed: 「同社は…」 names nobody and passes."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from index.text import split_sentences
from index.text.quantities import normalize, periods, spans

Morphemes = Callable[[str], list[tuple[str, str, str]]]
# Latin words that name a kind of thing, not a company or product.
_GENERIC = set(
    "ai gpu cpu npu tpu llm api saas dx iot ceo cto cfo rag agi roi esg pc os ar vr xr it hr ml nlp faq "
    "b2b b2c kpi sdk cloud data model app web the and of for".split()
)
_LATIN = re.compile(r"[A-Za-z][A-Za-z0-9.&\-]*[A-Za-z0-9]|[A-Za-z]")


def entities(text: str, morphemes: Morphemes) -> list[tuple[int, str]]:
    """(offset, name) of the companies, products and places a text names: Sudachi's proper nouns and
    Latin-script names that are not generic words."""
    text = normalize(text)
    found: list[tuple[int, str]] = []
    at = 0
    for surface, pos, sub in morphemes(text):
        start = text.find(surface, at)
        at = start + len(surface) if start >= 0 else at
        if pos == "名詞" and sub == "固有名詞" and not surface.isdigit():
            found.append((start, surface))
    for m in _LATIN.finditer(text):
        if m.group(0).lower() not in _GENERIC and len(m.group(0)) > 1 and all(m.start() != s for s, _ in found):
            found.append((m.start(), m.group(0)))
    return sorted(found)


def _contains_either(a: str, b: str) -> bool:
    a, b = a.casefold(), b.casefold()
    return a in b or b in a


def _period_clash(asked: set[str], stated: str) -> bool:
    """A stated period of the same kind as one asked for, that none of them is."""
    if not asked or not stated:
        return False
    years = {p[:4] for p in asked if p[:4].isdigit()}
    parts = {p[4:] if p[:4].isdigit() else p for p in asked} - {""}
    year, part = (stated[:4], stated[4:]) if stated[:4].isdigit() else ("", stated)
    return bool((year and years and year not in years) or (part and parts and part not in parts))


class SubjectGuard:
    def __init__(self, question: str, morphemes: Morphemes) -> None:
        self.morphemes = morphemes
        self.names = [n for _, n in entities(question, morphemes)]
        self.periods = {p for _, p in periods(question)}

    def wrong(self, claim: str, source_text: str) -> str:
        """Why a figure of `claim` belongs to another subject or period in the source sentence that states
        it; "" when none does (or the question names neither)."""
        if not self.names and not self.periods:
            return ""
        for _, q in spans(normalize(claim)):
            if not (q.unit or q.scaled):
                continue  # a bare number (a year, a count): nothing to tie it to
            for sentence in split_sentences(source_text):
                text = normalize(sentence)
                at = next((m.start() for m, s in spans(text) if abs(s.value - q.value) <= 1e-9 * max(q.value, 1)), None)
                if at is None:
                    continue
                # Another name before the figure, and the question's subject nowhere in the sentence: the
                # figure is someone else's (a sentence naming both may be comparing them, or owner and brand).
                before = [n for _, n in entities(text[:at], self.morphemes)]
                named = {n for _, n in entities(text, self.morphemes)}
                if self.names and before and not any(_contains_either(n, x) for n in self.names for x in named):
                    return f"{q.value:g} is said of {before[-1]}, not of {', '.join(self.names)}"
                stated = [p for _, p in periods(text[:at])]
                if stated and _period_clash(self.periods, stated[-1]):
                    return f"{q.value:g} is for {stated[-1]}, not {', '.join(sorted(self.periods))}"
                break
        return ""


def any_wrong(guard: SubjectGuard | None, claim: str, sources: Sequence[str]) -> str:
    for text in sources:
        if guard is not None and (why := guard.wrong(claim, text)):
            return why
    return ""

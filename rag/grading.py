"""Does an answer contain the gold answer's key facts? Numbers (after width, commas and units are
normalized: 700億 = 70 billion, 8,028億円 = 802.8 billion yen), Latin-script names and quoted or
katakana names. An answer is correct when it has every number of the gold answer; a gold answer
without numbers needs at least half of its names instead."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_SCALE = {
    "兆": 1e12, "億": 1e8, "万": 1e4, "千": 1e3,
    "trillion": 1e12, "billion": 1e9, "million": 1e6, "thousand": 1e3, "bn": 1e9, "m": 1e6, "k": 1e3,
}  # fmt: skip
_NUMBER = re.compile(
    r"(\d+(?:\.\d+)?)\s*(兆|億|万|千|trillion|billion|million|thousand|bn|k\b|m\b)?"
    r"(?:\s*(\d+(?:\.\d+)?)\s*(億|万|千))?",
    re.I,
)
_LATIN = re.compile(r"[A-Za-z][A-Za-z0-9.+\-]*[A-Za-z0-9+]|[A-Za-z]")
_KATAKANA = re.compile(r"[\u30a0-\u30ffー]{3,}")
_QUOTED = re.compile(r"[「『]([^」』]{2,40})[」』]")
_STOP = {
    "the", "and", "for", "with", "from", "about", "its", "are", "was", "were", "has", "have", "not", "per",
    "than", "more", "less", "which", "that", "this", "into", "each", "said", "says", "blog", "post",
    "archive", "ai", "no", "of", "to", "in", "on", "at", "by", "a", "an", "is", "be", "or", "as",
    "billion", "million", "trillion", "thousand", "percent", "parameters", "year", "years",
}  # fmt: skip


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    return re.sub(r"(?<=\d),(?=\d{3})", "", text)


def numbers(text: str) -> set[float]:
    """Canonical values: 8,028億 → 8.028e11; 1兆2000億 → 1.2e12; 70 billion → 7e10; 84.4% → 84.4."""
    values: set[float] = set()
    for m in _NUMBER.finditer(normalize(text)):
        value = float(m.group(1)) * _SCALE.get((m.group(2) or "").lower(), 1.0)
        if m.group(3):  # 1兆2000億: a second, smaller part
            value += float(m.group(3)) * _SCALE[m.group(4)]
        values.add(round(value, 6))
        if m.group(2):
            values.add(round(float(m.group(1)), 6))  # "8,028億円" also matches a bare 8028 in a table
    return values


def names(text: str) -> set[str]:
    text = normalize(text)
    latin = {w.lower() for w in _LATIN.findall(text) if w.lower() not in _STOP and not w.isdigit()}
    return latin | set(_KATAKANA.findall(text)) | set(_QUOTED.findall(text))


@dataclass(frozen=True)
class Grade:
    correct: bool
    numbers_found: int
    numbers_total: int
    names_found: int
    names_total: int


def grade(answer: str, gold: str) -> Grade:
    """Parenthesised parts of the gold answer are alternative spellings, not extra facts."""
    main = re.sub(r"[（(][^）)]*[）)]", " ", gold)
    alternatives = " ".join(re.findall(r"[（(]([^）)]*)[）)]", gold))
    need = numbers(main)
    have = numbers(answer)
    alt = numbers(alternatives)
    # a required number also counts as found when the answer gives its parenthesised equivalent instead
    found = sum(1 for n in need if n in have) + (1 if need - have and alt & have else 0)
    found = min(found, len(need))
    wanted = names(main)
    text = normalize(answer).lower()
    named = sum(1 for n in wanted if n.lower() in text)
    correct = found == len(need) if need else bool(wanted) and named * 2 >= len(wanted)
    return Grade(correct, found, len(need), named, len(wanted))

"""Which version is asked about? A question on 「Claude 5」, 「GPT-7」 or 「WWDC 2026」 is not answered by a
post on Claude 3.5, GPT-4o or WWDC 2024: the model, shown the nearest posts, takes their figures as the
asked version's. When the question names versioned products and none of the sources it would read names
any of them (the titles and matching passages of the posts evidence is drawn from), the archive has nothing
on them and the answer is a refusal, before the model is asked (RAG_ANSWER_VERSION_CHECK)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from index.text import nfkc
from rag.retrieval.retriever import Hit

# A Latin name, a space or hyphen at most, and a number not continued by another digit or decimal part
# (「Gemini 2」 is not 「Gemini 2.5」). Starts only where a Latin run starts, so each run is read once.
_VERSIONED = re.compile(r"(?<![A-Za-z0-9])([A-Za-z]++)[ \-]?(\d++(?:\.\d++)?+)(?!\d|\.\d)")
# Capitalised words that are followed by years or counts without being products.
_NOT_NAMES = set(
    "in on at by of to for from since until after before about over under around than top the and or with "
    "within per each every fiscal fy cy q h no vol part step phase level page chapter section covid "
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec".split()
)


def versions_asked(question: str) -> list[tuple[str, str]]:
    """(name, version) of each product the question names with a version: 「Claude 5」 → ("claude", "5").
    Only names written with a capital (Claude, iOS, GPT), and not the words before years (in 2025, Q3)."""
    found = []
    for m in _VERSIONED.finditer(nfkc(question)):
        name, version = m.group(1), m.group(2)
        if name.islower() or name.casefold() in _NOT_NAMES:
            continue
        found.append((name.casefold(), version))
    return found


def _names(text: str, name: str, version: str) -> bool:
    """`text` (casefolded) writes `name` followed by `version`, a space or hyphen between allowed."""
    at = text.find(name)
    while at >= 0:
        starts_word = at == 0 or not (text[at - 1].isascii() and text[at - 1].isalnum())
        rest = text[at + len(name) : at + len(name) + len(version) + 3]
        rest = rest[1:] if rest[:1] in (" ", "-") else rest
        after = rest[len(version) : len(version) + 2]
        continued = after[:1].isdigit() or (after[:1] == "." and after[1:2].isdigit())
        if starts_word and rest.startswith(version) and not continued:
            return True
        at = text.find(name, at + 1)
    return False


def other_versions(question: str, texts: Iterable[str]) -> list[str]:
    """The versions the question asks about when no text names any of them (else [])."""
    asked = versions_asked(question)
    if not asked:
        return []
    read = [nfkc(t).casefold() for t in texts]
    if any(_names(t, name, version) for t in read for name, version in asked):
        return []
    return [f"{name} {version}" for name, version in asked]


def unnamed_versions(question: str, hits: Sequence[Hit]) -> list[str]:
    """The versions the question asks about when none of `hits` names any of them in its title or passages:
    wider than the evidence's few sentences, so a post that names the version elsewhere lets the model try."""
    return other_versions(question, (t for h in hits for t in (h.title, *(p.text for p in h.passages))))

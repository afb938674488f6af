"""Answers without the LLM: the best sentences of the top sources, quoted and cited (degraded mode),
and the short not-in-archive reply."""

from __future__ import annotations

from collections.abc import Sequence

from index.text import Lang, digit_runs, split_sentences
from rag.answering.evidence import Scorer
from rag.answering.prompts import Source
from rag.types import Related

_REFUSAL = {
    "ja": "アーカイブには、この質問に答える記事が見つかりませんでした。",
    "en": "The archive has no post that answers this question.",
}
_RELATED = {"ja": "関連しそうな記事:", "en": "Related posts:"}
_QUOTED = {"ja": "", "en": "The archive (in Japanese) says: "}


def refusal_text(lang: Lang, related: Sequence[Related] = ()) -> str:
    if not related:
        return _REFUSAL[lang]
    lines = "\n".join(f"- {r.title} ({r.date})" for r in related)
    return f"{_REFUSAL[lang]}\n{_RELATED[lang]}\n{lines}"


def extractive_answer(question: str, sources: Sequence[Source], scorer: Scorer, lang: Lang, per_source: int = 1) -> str:
    """The sentence of each of the top two sources that shares most with the question, with its marker."""
    terms = scorer.terms(question)
    nums = digit_runs(question)
    parts = []
    for source in sources[:2]:
        sentences = split_sentences(source.text) or [source.text]
        best = sorted(sentences, key=lambda s: (len(nums & digit_runs(s)), scorer.overlap(terms, s)), reverse=True)
        for sentence in best[:per_source]:
            parts.append(f"{sentence.rstrip('。')}[{source.n}]。")
    return _QUOTED[lang] + "".join(parts)

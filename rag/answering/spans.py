"""The second attempt after a refusal the evidence does not deserve: the model, having said
NOT_IN_ARCHIVE, is asked to pick the answer among the figures, dates and names its sources state,
as one letter under a grammar. Picking is easier for a 1.5B model than composing, and costs about a
second here: the earlier prompt is still in the KV cache, only the short list is read.

The picked span is shown with the source sentence that states it, cited; the answer counts as
extractive with fallback "span"."""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from string import ascii_uppercase

from index.text import Lang, split_sentences
from index.text.quantities import normalize, spans
from rag.answering.answer_type import wanted
from rag.answering.prompts import Source, clean, quote
from rag.llm.base import LLM, Message
from rag.llm.gate import ModelGate
from rag.llm.generate import Limits, complete

MOST = 12  # choices offered; more would cost reading time and make the pick harder
_DATE = re.compile(r"\d{4}年\d{1,2}月\d{1,2}日|\d{4}年\d{1,2}月|\d{1,2}月\d{1,2}日|\d{4}年(?:度)?")
_NAME = re.compile(r"[A-Z][A-Za-z0-9.\-]*(?:\s+[A-Z0-9][A-Za-z0-9.\-]*)*|「[^」]{2,30}」")
_ASK = {
    "ja": "出典には答えがあります。次のうち、質問「{q}」の答えはどれですか。記号だけで答えてください。",
    "en": 'The sources do answer it. Which of these answers the question "{q}"? Reply with the letter only.',
}


def choices(question: str, sources: Sequence[Source], first: int | None = None) -> list[tuple[str, int, str]]:
    """(span, source index, sentence) for the figures, dates and names of the sources: the kind the
    question asks for first, the sentences of source `first` (the key passage's) before the others."""
    kind = wanted(question)
    order = sorted(range(len(sources)), key=lambda j: j != first)
    found: list[tuple[int, str, int, str]] = []
    seen: set[str] = set()
    for j in order:
        for sentence in split_sentences(sources[j].text):
            if quote(sentence) != clean(sentence):
                continue  # a sentence that addresses the model is never quoted
            text = normalize(sentence)
            dates = [m.group(0) for m in _DATE.finditer(text)]
            figures = [m.group(0).strip() for m, q in spans(text) if (q.unit or q.scaled) and m.group(0).strip()]
            names = [m.group(0) for m in _NAME.finditer(text) if len(m.group(0)) > 2]
            typed = {"date": dates, "figure": figures, "name": names}.get(kind, [])
            for rank, group in ((0, typed), (1, figures + dates + names)):
                for span in group:
                    if span not in seen:
                        seen.add(span)
                        found.append((rank, span, j, sentence))
    found.sort(key=lambda f: f[0])
    return [(span, j, sentence) for _, span, j, sentence in found[:MOST]]


def pick(
    llm: LLM, gate: ModelGate, messages: list[Message], reply: str, question: str, lang: Lang,
    options: list[tuple[str, int, str]], limits: Limits, cancel: threading.Event,
) -> tuple[str, int, str] | None:  # fmt: skip
    """The option the model picks, or None (no options, the model failed, or it picked nothing)."""
    if len(options) < 1:
        return None
    letters = ascii_uppercase[: len(options)]
    listing = "\n".join(f"{letter}) {span}" for letter, (span, _, _) in zip(letters, options, strict=False))
    follow = [
        *messages,
        Message("assistant", reply.strip() or "NOT_IN_ARCHIVE"),
        Message("user", _ASK[lang].format(q=question) + "\n" + listing),
    ]
    grammar = "root ::= " + " | ".join(f'"{letter}"' for letter in letters) + "\n"
    short = limits.shorter(2, 10.0, 15.0)
    text = complete(llm, gate, follow, short, cancel, grammar)
    if text is None:
        return None
    letter = text.strip()[:1]
    return options[letters.index(letter)] if letter and letter in letters else None


def span_answer_text(span: str, sentence: str, n: int, lang: Lang) -> str:
    """The picked span, then the sentence that states it; both cite the source."""
    if lang == "en":
        return f"{span} [{n}]. The archive (in Japanese) says: {sentence.rstrip('。')} [{n}]."
    return f"{span}[{n}]。{sentence.rstrip('。')}[{n}]。"

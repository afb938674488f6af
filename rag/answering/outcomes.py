"""How an answer ends: generative, extractive (the key passage, or the best source sentences), or a
refusal naming the closest posts; the answer objects built for each."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from index.text import Lang, elapsed_ms
from rag.answering.citations import MARKER, Attributed, Attributor, attribute
from rag.answering.evidence import Scorer
from rag.answering.extractive import extractive_answer, refusal_text
from rag.answering.passages import KeyPassage
from rag.answering.prompts import Source
from rag.answering.spans import span_answer_text
from rag.llm.base import Usage
from rag.types import NO_USAGE, Answer, Mode, Quoted, Related


def quoted(keys: Sequence[KeyPassage], sources: Sequence[Source]) -> list[Quoted]:
    out = []
    for n, k in enumerate(keys, 1):
        s = sources[k.source]
        out.append(Quoted(n, s.source, s.url, s.title, s.date, k.text))
    return out


def answer(
    checked: Attributed, mode: Mode, lang: Lang, timings: dict[str, float], usage: Usage,
    related: list[Related], passages: list[Quoted], fallback: str = "",
) -> Answer:  # fmt: skip
    return Answer(checked.text, checked.citations, False, mode, lang, timings, usage, related,
                  checked.sentences, checked.factual, checked.cited, checked.dropped, passages,
                  fallback=fallback)  # fmt: skip


def fallback(
    question: str, sources: list[Source], scorer: Scorer, lang: Lang, timings: dict[str, float], t0: float,
    keys: list[KeyPassage], usage: Usage, related: list[Related], reason: str, checked: Attributed | None = None,
) -> Answer:  # fmt: skip
    """The model gave no answer we can show: the key passage speaks when there is one (it was shown
    and is never withdrawn), the sources when the model only echoed their titles, else a refusal."""
    if keys or reason == "echo":
        return extractive(question, sources, scorer, lang, timings, t0, keys, usage, reason)
    return refusal(lang, timings, t0, related, usage, checked)


def extractive(
    question: str, sources: list[Source], scorer: Scorer, lang: Lang, timings: dict[str, float], t0: float,
    keys: Sequence[KeyPassage] = (), usage: Usage = NO_USAGE, fallback: str = "",
) -> Answer:  # fmt: skip
    if keys:  # the passage already shown is the answer; nothing new to check it against
        text = "".join(f"{k.text.rstrip('。')}[{sources[k.source].n}]。" for k in keys)
    else:
        text = extractive_answer(question, sources, scorer, lang)
    checked = attribute(text, sources, scorer, quoted=[(k.source, k.text) for k in keys])
    if keys and not any(c.isalnum() for c in MARKER.sub("", checked.text)):
        # a passage the checks drop (one that repeats its post's title, split from its marker after a ？)
        # left "。": it was shown to the reader as it stands, so it stands as the answer
        checked = replace(checked, text=text)
    timings.setdefault("ttft_ms", elapsed_ms(t0))
    timings["total_ms"] = elapsed_ms(t0)
    return answer(checked, "extractive", lang, timings, usage, [], quoted(keys, sources), fallback)


def refusal(
    lang: Lang, timings: dict[str, float], t0: float, related: list[Related], usage: Usage = NO_USAGE,
    checked: Attributed | None = None,
) -> Answer:  # fmt: skip
    timings.setdefault("ttft_ms", elapsed_ms(t0))
    timings["total_ms"] = elapsed_ms(t0)
    dropped = checked.dropped if checked else []
    return Answer(refusal_text(lang, related), [], True, "refusal", lang, timings, usage, related, dropped=dropped)


def nothing_kept(checker: Attributor, checked: Attributed) -> str:
    if checker.echoes and not checked.dropped:
        return "echo"  # the model pointed at sources (copied their titles) without answering
    if checker.wrong_subject:
        return "wrong-subject"  # its figure belongs to another company, product or period
    return "off-topic" if checker.off_topic else "unsupported"


def span(
    picked: tuple[str, int, str], sources: list[Source], scorer: Scorer, lang: Lang, timings: dict[str, float],
    t0: float, keys: Sequence[KeyPassage], usage: Usage,
) -> Answer:  # fmt: skip
    """The span the model picked on its second attempt, with the source sentence that states it."""
    text, j, sentence = picked
    checked = attribute(span_answer_text(text, sentence, sources[j].n, lang), sources, scorer,
                        quoted=[(k.source, k.text) for k in keys])  # fmt: skip
    timings.setdefault("ttft_ms", elapsed_ms(t0))
    timings["total_ms"] = elapsed_ms(t0)
    return answer(checked, "extractive", lang, timings, usage, [], quoted(keys, sources), "span")


def help_answer(text: str, lang: Lang, timings: dict[str, float], t0: float) -> Answer:
    """What the service is, for a question about it: from the index, no model, nothing cited."""
    timings.setdefault("ttft_ms", elapsed_ms(t0))
    timings["total_ms"] = elapsed_ms(t0)
    return Answer(text, [], False, "help", lang, timings)

"""Citation integrity, enforced on the model's text: every factual sentence ends up with a marker
of a source that supports it, unsupported sentences go, and only used sources are listed.

Small local models omit or invent [n] markers, so markers are checked against the sources (numbers
must appear in the cited source; words or meaning must overlap) and moved, added or dropped."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from index.text import answer_sentences, digit_runs, language_of, split_sentences
from index.text.quantities import quantities, share_supported
from rag.answering.evidence import Scorer
from rag.answering.focus import Focus
from rag.answering.prompts import Source, clean
from rag.answering.subject import SubjectGuard
from rag.types import Citation

MARKER = re.compile(r"\[\s*(\d+(?:\s*[,、]\s*\d+)*)\s*\]")
# A sentence: up to a Japanese or western end mark (a period not inside a number), then any markers.
KEEP = 0.35  # support needed to keep a marker the model wrote
# e5 cosine of a short answer to its own evidence: median 0.877; to other questions' evidence: 95th
# percentile 0.85 (dev.jsonl answers vs evidence). Below the latter, meaning counts for nothing.
MEANING_FLOOR = 0.85
ASSIGN = 0.5  # support needed to add a marker the model left out
_DATE = re.compile(r"[(（]\d{4}-\d{2}-\d{2}[)）]")
_NAMED = re.compile(r"[A-Za-z]{2,}|[\u30a0-\u30ffー]{3,}")
_LINK = re.compile(r"https?://|www\.|(?<![\w-])[\w-]+\.(?:com|net|org|io|jp|example)\b", re.I)
# What a removed marker leaves behind: "According to [1], X" → "According to , X" → "X".
_DANGLING = re.compile(
    r"^\s*(?:(?:according to|as (?:stated|noted|reported) in|per)\s*[,、]|(?:によると|によれば)[、,]?)\s*", re.I
)
_EDGES = " \t\n　｜|:：、。，,.！？!?「」『』（）()—-"

Dense = Callable[[list[str], list[str]], np.ndarray]  # (claims, texts) -> cosine matrix


@dataclass(frozen=True)
class Attributed:
    text: str
    citations: list[Citation]
    sentences: int  # answer sentences kept
    factual: int  # of which state a fact
    cited: int  # factual sentences with a supporting marker
    dropped: list[str] = field(default_factory=list)  # unsupported sentences removed


def _markers(sentence: str) -> list[int]:
    return [int(n) for group in MARKER.findall(sentence) for n in re.split(r"[,、]", group)]


def is_factual(claim: str) -> bool:
    """Numbers, names or a clause: only a short connective (「以下の通りです。」, "Yes.") states nothing;
    a short sentence naming something (「OpenAIです。」, 「首都は東京都」) needs a supporting source too."""
    core = claim.strip(_EDGES)
    if digit_runs(core) or len(core) >= 12 or len(core.split()) >= 4:
        return True
    return bool(_NAMED.search(core)) or sum(1 for c in core if "\u4e00" <= c <= "\u9fff") >= 4


def support_matrix(claims: list[str], sources: Sequence[Source], scorer: Scorer, dense: Dense | None) -> np.ndarray:
    support = np.zeros((len(claims), len(sources)))
    cos = dense(claims, [s.text for s in sources]) if dense and claims and sources else None
    for i, claim in enumerate(claims):
        terms = scorer.terms(claim)
        figures = bool(quantities(claim))
        for j, source in enumerate(sources):
            lexical = scorer.overlap(terms, source.text)
            meaning = float(np.clip((cos[i, j] - MEANING_FLOOR) / 0.05, 0, 1)) if cos is not None else 0.0
            score = max(lexical, meaning)
            if figures:  # a figure the source does not state, at its scale and unit, is never supported by it
                found = share_supported(claim, f"{source.title}\n{source.text}")
                score = score * found if found < 1 else max(score, 0.6)
            support[i, j] = score
    return support


def is_header_echo(claim: str, sources: Sequence[Source]) -> bool:
    """A "sentence" that only repeats the titles, headings and dates of the numbered sources: small models
    copy the source headers when they cannot answer. It points somewhere but says nothing."""
    headers = [h for s in sources for h in (s.title, s.heading) if h]
    pieces = [p.strip(_EDGES) for p in re.split(r"[｜|\n]|\s{2,}", _DATE.sub("\n", claim))]
    pieces = [p for p in pieces if p]
    return bool(pieces) and all(any(p in h for h in headers) for p in pieces)


def _quote(claim: str, source: Source, scorer: Scorer) -> str:
    sentences = split_sentences(source.text) or [source.text]
    terms = scorer.terms(claim)
    nums = digit_runs(claim)
    return max(sentences, key=lambda s: (len(nums & digit_runs(s)), scorer.overlap(terms, s)))


_SHORT = 40  # characters: a short answer is a figure, a date or a name, not a clause
_COPULA = re.compile(r"(?:です|でした|である|だ)?[。.!！]?$")


def short_core(claim: str) -> str:
    """A first sentence short enough to be the answer alone (「120億円。」, "150 billion yen (1,500億円)."),
    without its copula; "" for a longer one."""
    core = _COPULA.sub("", claim.strip(_EDGES + "　"))
    return core if 0 < len(core) <= _SHORT else ""


def holding_sentence(core: str, source: Source) -> str | None:
    """The source sentence that states a short answer: every figure at its scale and unit (in the source),
    or the answer's words as written; None when the source does not state it."""
    sentences = split_sentences(source.text) or [source.text]
    if quantities(core):
        if share_supported(core, source.text) < 1.0:
            return None
        return max(sentences, key=lambda s: share_supported(core, s))
    plain, names = _spaceless_unpunctuated(core), [n.lower() for n in _NAMED.findall(clean(core))]
    for sentence in sentences:
        held = _spaceless_unpunctuated(sentence)
        if plain in held or (names and all(n in held for n in names)):
            return sentence
    return None


def _spaceless_unpunctuated(text: str) -> str:
    return re.sub(r"[\s「」『』（）()、,]", "", clean(text)).lower()


class Attributor:
    """Checks an answer sentence by sentence, as the model writes it; numbers sources by first use."""

    def __init__(
        self, sources: Sequence[Source], scorer: Scorer, dense: Dense | None = None,
        quoted: Sequence[tuple[int, str]] = (), focus: Focus | None = None, short_first: bool = False,
        guard: SubjectGuard | None = None,
    ) -> None:  # fmt: skip
        """`quoted`: (source index, sentence) of key passages already shown; their sources keep the
        first numbers, so a marker means the same post in the passage and in the answer. `focus`: drop
        factual sentences that do not bear on the question. `short_first`: the first sentence may be the
        short answer alone, checked to stand in the source it cites. `guard`: drop a sentence whose figure
        the cited source gives for another company, product or period than the question's."""
        self.sources, self.scorer, self.dense, self.focus = list(sources), scorer, dense, focus
        self.short_first, self.guard = short_first, guard
        self.wrong_subject: list[str] = []
        self.off_topic: list[str] = []
        self.parts: list[str] = []
        self.order: dict[int, int] = {}  # source index -> number in the answer
        self.first_claim: dict[int, str] = {}
        for j, sentence in quoted:
            self.order.setdefault(j, len(self.order) + 1)
            self.first_claim.setdefault(j, sentence)
        self.dropped: list[str] = []
        self.echoes: list[str] = []  # sentences that only repeated source headers
        self.factual = self.cited = self.kept = 0
        self.held: tuple[int, str] | None = None  # (source, sentence) stating the short answer

    def add(self, sentence: str) -> str | None:
        """The sentence as it should read (markers checked, moved or added), or None when dropped."""
        claim, tidied = _DANGLING.subn("", MARKER.sub("", clean(sentence)).strip())
        if tidied:  # "According to , inspection…" → "Inspection…"; "iPhone…" elsewhere stays as written
            claim = claim[:1].upper() + claim[1:]
        if not claim:
            return None
        if _LINK.search(claim):  # answers cite posts by marker; a link in the text is a source's order
            self.dropped.append(claim)
            return None
        if is_header_echo(claim, self.sources):
            self.echoes.append(claim)
            return None
        support = support_matrix([claim], self.sources, self.scorer, self.dense)[0]
        given = [n - 1 for n in _markers(sentence) if 1 <= n <= len(self.sources)]
        marks = [j for j in dict.fromkeys(given) if support[j] >= KEEP]
        if not marks and self.sources and support.max() >= ASSIGN:
            marks = [int(np.argmax(support))]
        if is_factual(claim):
            if not marks:
                self.dropped.append(claim)
                return None
            if self.guard is not None and self.guard.wrong(claim, "\n".join(self.sources[j].text for j in marks)):
                self.wrong_subject.append(claim)
                return None
            first = self.cited == 0
            core = short_core(claim) if first and self.short_first else ""
            held = None
            if core:
                # The short answer must stand in a source it cites; the sentence that holds it there may
                # carry the question's subject for it (「120億円。」 names nothing itself).
                found = ((j, h) for j in marks if (h := holding_sentence(core, self.sources[j])) is not None)
                held = next(found, None)
                if held is None:
                    self.dropped.append(claim)
                    return None
                if self.focus is not None and not (self.focus.bears(claim, True) or self.focus.bears(held[1], True)):
                    self.off_topic.append(claim)
                    return None
            elif self.focus is not None and not self.focus.bears(claim, first=first):
                self.off_topic.append(claim)
                return None
            if first:  # only a kept first sentence's: a dropped one's source may never be numbered
                self.held = held
            self.factual += 1
            self.cited += 1
        for j in marks:
            if j not in self.order:
                self.order[j] = len(self.order) + 1
                self.first_claim[j] = claim
        self.kept += 1
        text = _place(claim, "".join(f"[{self.order[j]}]" for j in marks))
        self.parts.append(text)
        return text

    def short_alone(self) -> str | None:
        """When the answer is the short answer alone, the source sentence that states it, marked, added as
        the answer's second sentence: a question asking two things (「総時間と増加率」) gets both from it,
        and the reader sees where the figure stands. None otherwise."""
        if self.kept != 1 or self.held is None or self.parts[0].count("[") != 1:
            return None
        j, sentence = self.held
        claim = clean(sentence).strip()
        if not claim or MARKER.search(claim):
            return None
        self.kept += 1
        self.factual += 1
        self.cited += 1
        self.parts.append(_place(claim, f"[{self.order[j]}]"))
        return self.parts[-1]

    def joiner(self) -> str:
        return "" if language_of("".join(self.parts)) == "ja" else " "

    def result(self) -> Attributed:
        citations = [
            Citation(n, self.sources[j].source, self.sources[j].url, self.sources[j].title, self.sources[j].date,
                     _quote(self.first_claim[j], self.sources[j], self.scorer))
            for j, n in sorted(self.order.items(), key=lambda kv: kv[1])
        ]  # fmt: skip
        text = self.joiner().join(self.parts).strip()
        return Attributed(text, citations, self.kept, self.factual, self.cited, self.dropped)


def attribute(
    answer: str, sources: Sequence[Source], scorer: Scorer, dense: Dense | None = None,
    quoted: Sequence[tuple[int, str]] = (),
) -> Attributed:  # fmt: skip
    checker = Attributor(sources, scorer, dense, quoted)
    for sentence in answer_sentences(answer):
        checker.add(sentence)
    return checker.result()


def complete_sentences(text: str) -> tuple[list[str], str]:
    """Sentences known to be finished in streamed text (another one has begun), and the rest."""
    sentences = answer_sentences(text)
    if sentences and sentences[-1].startswith("["):  # a marker still being written belongs to the one before
        sentences = sentences[:-1]
    if len(sentences) < 2:
        return [], text
    done = sentences[:-1]
    rest = text[text.rfind(sentences[-1]) :] if sentences[-1] else ""
    return done, rest


def _place(claim: str, tail: str) -> str:
    """Markers go before the final end mark: …です[1]。 / …by 42% [1]."""
    if not tail:
        return claim
    if claim.endswith(("。", "！", "？")):
        return claim[:-1] + tail + claim[-1]
    if claim.endswith((".", "!", "?")):
        return f"{claim[:-1]} {tail}{claim[-1]}"
    return claim + tail

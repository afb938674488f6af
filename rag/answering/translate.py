"""English answers written in Japanese first, then translated sentence by sentence: the route for
English readers when the model reads Japanese evidence better in Japanese (RAG_ANSWER_ENGLISH_ROUTE);
or written in English, with only the sentences the model still wrote in Japanese or Chinese translated
(the `mixed` route: the 1.5B model often copies a Japanese source sentence after an English short answer).

A checked Japanese sentence is translated after its markers are verified; the translation must state
the same quantities at the same scale (700億 is 70 billion, never 700 billion), else the Japanese
sentence is shown as it is. A short answer that is only a figure or a date needs no model."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

from index.text import has_japanese
from index.text.quantities import english_scale, normalize, quantities, share_supported, with_english_scales
from rag.llm.base import LLM, Message
from rag.llm.gate import ModelGate
from rag.llm.generate import Limits, complete

SYSTEM = (
    "Translate the Japanese text into plain English. Keep every [n] marker right after the words it follows. "
    "For a figure with 億 or 兆, write the English reading given after it as (= …) and keep the Japanese "
    "figure in parentheses, like: 22.5 billion dollars (225億ドル). Reply with the translation only."
)
_MARKERS = re.compile(r"\[\d+(?:,\s*\d+)*\]")
_DATE = re.compile(r"^(\d{4})年(\d{1,2})月(?:(\d{1,2})日)?$")
_MONTHS = "January February March April May June July August September October November December".split()
_UNITS = {"jpy": "yen", "usd": "dollars", "eur": "euros", "pct": "%"}
# A bracketed aside may keep the source's own figure (「22.5 billion (225億)」).
_ASIDE = re.compile(r"[(（][^()（）]{0,80}[)）]")


def in_japanese(sentence: str) -> bool:
    """Whether a sentence of an English answer is written in Japanese or Chinese, beyond its markers and
    bracketed asides."""
    return has_japanese(_ASIDE.sub("", _MARKERS.sub("", sentence)))


@dataclass
class EnglishOut:
    """Where the checked sentences of one English answer go: to the reader at once, or held to be
    translated when the model has finished (all of them on the translate route; on the mixed route the
    first written in Japanese and every one after it, so the reader reads them in order)."""

    translate_all: bool
    held: list[str] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)

    def hold(self, sentence: str) -> bool:
        if self.translate_all or self.held or in_japanese(sentence):
            self.held.append(sentence)
            return True
        self.sent.append(sentence)
        return False


def plainly(sentence: str) -> str | None:
    """A short answer that is one figure or one date, in English without the model; None otherwise."""
    markers = " ".join(_MARKERS.findall(sentence))
    core = normalize(_MARKERS.sub("", sentence)).strip(" 。.、")
    core = re.sub(r"(?:です|でした)$", "", core)
    if m := _DATE.match(core):
        month = _MONTHS[int(m.group(2)) - 1] if 1 <= int(m.group(2)) <= 12 else ""
        if not month:
            return None
        day = f" {int(m.group(3))}," if m.group(3) else ""
        return f"{month}{day} {m.group(1)} {markers}".strip() + "."
    found = quantities(core)
    if len(found) != 1 or not re.fullmatch(r"(?:約\s*)?[\d.,]+\s*[兆億万千]?\s*\S{0,4}", core):
        return None
    q = found[0]
    unit = _UNITS.get(q.unit, "")
    if q.unit == "pct":
        return f"{q.value:g}% {markers}".strip() + "."
    reading = english_scale(q.value) if q.scaled else f"{q.value:g}"
    return f"{reading}{' ' + unit if unit else ''} ({core}) {markers}".strip() + "."


def translate(llm: LLM, gate: ModelGate, sentence: str, limits: Limits, cancel: threading.Event) -> str:
    """The sentence in English with its markers, or the sentence as it is when the model fails or the
    translation changes a quantity."""
    if (quick := plainly(sentence)) is not None:
        return quick
    messages = [Message("system", SYSTEM), Message("user", with_english_scales(sentence))]
    short = limits.shorter(120, 10.0, 20.0)
    text = complete(llm, gate, messages, short, cancel)
    if text is None:
        return sentence
    text = text.strip().splitlines()[0].strip() if text.strip() else ""
    # still Japanese is no translation (the model may copy it back); a changed quantity is a wrong one
    if not text or in_japanese(text) or share_supported(text, with_english_scales(sentence)) < 1.0:
        return sentence
    if _MARKERS.findall(sentence) and not _MARKERS.findall(text):
        text = text.rstrip(".") + " " + " ".join(_MARKERS.findall(sentence)) + "."
    return text

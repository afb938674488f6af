"""What every layer agrees on about text, in one place (here, the lowest layer, so ingestion and the
query side share it): the language of a text, normalisation, sentence splitting, the digit runs of a
text, numbers as quantities (`quantities`), file digests and elapsed time."""

from __future__ import annotations

import hashlib
import re
import time
import unicodedata
from pathlib import Path
from typing import Literal

Lang = Literal["ja", "en"]

_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff66-\uff9f]")
# A sentence of prose (posts): up to 。！？!? (with any closing brackets after them) or a line break.
# Written without a lazy `.+?` before the ending so that no text makes it backtrack (linear on any post).
_PROSE_SENTENCE = re.compile(r"(?s:.)[^。！？!?\n]*+(?:[。！？!?]++[」』）)\]]*+|\n|$)")
# A sentence of an answer: also up to a western full stop (not the one inside a number), with the citation
# markers that follow it.
# Leading white space is stripped by the caller, not matched, and at most 8 spaces reach a citation: a
# pattern that starts with an unbounded \s* rereads a run of spaces from each of its positions.
_ANSWER_SENTENCE = re.compile(
    r"(?s:.)(?:[^。！？!?.\n]|\.(?=\d))*+(?:[。！？!?]++|\.(?!\d)|\n|$)[」』）)]*+"
    r"(?:\s{0,8}+\[\s*+\d++(?:\s*+[,、]\s*+\d++)*+\s*+\])*+"
)
_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")


def nfkc(text: str) -> str:
    """Full-width letters, digits and brackets as plain ones: ＡＩ is AI, ［１］ is [1]."""
    return unicodedata.normalize("NFKC", text)


def language_of(text: str) -> Lang:
    """Japanese when at least a fifth of the letters are kana or kanji (a Japanese question may name
    English products); English otherwise. The one rule for questions, prompts and answers alike."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return "ja"
    return "ja" if sum(1 for c in letters if _JAPANESE.match(c)) / len(letters) >= 0.2 else "en"


def has_japanese(text: str) -> bool:
    """Whether any kana or kanji is written in the text (the letters `language_of` counts)."""
    return _JAPANESE.search(text) is not None


def split_sentences(text: str) -> list[str]:
    """The sentences of prose (a post): cut after 。！？!? and at line breaks."""
    return [s.strip() for s in _PROSE_SENTENCE.findall(text) if s.strip()]


def answer_sentences(text: str) -> list[str]:
    """The sentences of an answer: also cut after a western full stop, each keeping its [n] markers."""
    return [s.strip() for s in _ANSWER_SENTENCE.findall(text.strip()) if s.strip()]


def digit_runs(text: str) -> set[str]:
    """The numbers of a text as written (width and thousands separators aside): 8,028 = ８０２８."""
    from index.text.quantities import normalize

    return set(_DIGITS.findall(normalize(text)))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def elapsed_ms(start: float, digits: int = 1) -> float:
    """Milliseconds since `start` (a `time.perf_counter()` reading)."""
    return round((time.perf_counter() - start) * 1000, digits)

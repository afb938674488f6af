"""Japanese search terms for a question asked in English. BM25 cannot match English words to the
Japanese posts and the small multilingual embedder alone misses often, so the model names the terms
the posts would use (one short, cached-prefix prompt; its time counts in the answer's ttft)."""

from __future__ import annotations

import re
import threading

from rag.llm.base import LLM, Message
from rag.llm.gate import ModelGate
from rag.llm.generate import Limits, complete

SYSTEM = (
    "You turn an English question into Japanese search keywords for a Japanese blog archive about AI. "
    "Reply with 3 to 6 keywords separated by spaces: Japanese words, and company, product or model names "
    "as written in Japanese articles (katakana or Latin letters). No sentences, no explanations."
)
_WORD = re.compile(r"[\u3040-\u30ff\u3400-\u9fffー]+|[A-Za-z][A-Za-z0-9.\-]*")
MAX_TERMS = 8


def japanese_terms(
    llm: LLM, gate: ModelGate, question: str, limits: Limits, cancel: threading.Event,
    timings: dict[str, float] | None = None, who: str = "",
) -> str:  # fmt: skip
    """The keywords, or "" when the model is slow, failing or said nothing usable: the search then
    runs on the question alone, as before."""
    short = limits.shorter(24, 10.0, 15.0)
    messages = [Message("system", SYSTEM), Message("user", question)]
    text = complete(llm, gate, messages, short, cancel, timings=timings, who=who)
    if text is None:
        return ""
    words = list(dict.fromkeys(w for w in _WORD.findall(text) if len(w) > 1))
    return " ".join(words[:MAX_TERMS])

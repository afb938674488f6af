"""Follow-up questions ("それはいつ発表された？") made standalone for retrieval, without an LLM call:
a question that leans on the previous turn is searched together with that turn's question."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.llm.base import Message

_ANAPHORA = re.compile(
    r"それ|その|これ|この|あれ|あの|そこ|同社|同氏|彼ら|彼女|前者|後者|上記|さっき|先ほど|"
    r"\b(?:it|its|that|those|this|these|they|them|their|he|she|his|her|the company|same)\b",
    re.I,
)
SHORT = 20  # characters: "いつ？", "金額は？" need the earlier topic too


@dataclass(frozen=True)
class Standalone:
    query: str  # what retrieval searches
    context: str  # the earlier question the LLM is reminded of ("" when none was needed)


def standalone(question: str, history: Sequence[Message]) -> Standalone:
    previous = next((m.content for m in reversed(history) if m.role == "user" and m.content.strip()), "")
    if not previous or not (_ANAPHORA.search(question) or len(question.strip()) <= SHORT):
        return Standalone(question, "")
    return Standalone(f"{previous} {question}", previous)

"""What kind of fact a question wants (a date, a figure, a name), and whether a sentence has one.

A source sentence can be supported by its post and still not answer the question (asked when a model
was announced, a sentence on its risks); the wanted type is one of the cheap signals that it does."""

from __future__ import annotations

import re
from typing import Literal

from index.text import nfkc

Wanted = Literal["date", "figure", "name", "any"]

# "when" asks for a date at the head of a question ("When did…"), not inside one ("the score when it ranked first").
_DATE_ASK = r"いつ|何年|何月|何日|時期|^\s*when\b|what (?:year|month|date|day)|which (?:year|month)|on what date"
_FIGURE_ASK = (
    r"いくら|何[%％]|何パーセント|どのくらい|どれくらい|どれだけ|どれほど|どの程度|何[億万兆千]|何(?:人|社|台|件|倍|個|ドル|円|割|GB|TB)|"
    r"(?:規模|金額|価格|割合|比率|件数|人数|パラメータ数)は|"
    r"how (?:much|many|large|big|fast)|what (?:percent|share|price)"
)
_NAME_ASK = (
    r"誰|だれ|何という|名前|名称|社名|どこの(?:企業|会社)|どの(?:企業|会社|モデル)|"
    r"who\b|which (?:company|firm|model)|what is the name"
)
_ASKS = (("date", re.compile(_DATE_ASK, re.I)), ("figure", re.compile(_FIGURE_ASK, re.I)),
         ("name", re.compile(_NAME_ASK, re.I)))  # fmt: skip
_DATE = re.compile(
    r"\d{4}\s*年|\d{1,2}\s*月|\d{1,2}\s*日|\b(?:19|20)\d{2}\b|\bQ[1-4]\b|"
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b|上旬|中旬|下旬|四半期|昨年|今年|来年",
    re.I,
)
_FIGURE = re.compile(r"\d")
_NAME = re.compile(r"[A-Z][A-Za-z0-9.\-]+|[\u30a0-\u30ffー]{3,}|[「『][^」』]{2,40}[」』]|[一-龥]{1,8}(?:社|氏|さん)")


def wanted(question: str) -> Wanted:
    q = nfkc(question)
    for kind, pattern in _ASKS:
        if pattern.search(q):
            return kind  # type: ignore[return-value]
    return "any"


def has(sentence: str, kind: Wanted) -> bool:
    s = nfkc(sentence)
    if kind == "date":
        return bool(_DATE.search(s))
    if kind == "figure":
        return bool(_FIGURE.search(s))
    if kind == "name":
        return bool(_NAME.search(s))
    return True

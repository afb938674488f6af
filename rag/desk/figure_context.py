"""What a figure is said of, beyond its measure: whose it is (the company, product or market the sentence
names before it), for which period (2025年第3四半期), in which scope (a forecast or a reported figure, a
quarter or a year, a segment or a total), whether it is one end of a range (「3兆ドルから4兆ドル」), and
how precisely it is written. Two figures disagree only when all of these match and the values differ
beyond rounding (`disagree`); a measure word alone is not enough (「投資額」 of two different deals)."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from index.text.quantities import normalize, periods

Morphemes = list[tuple[str, str, str]]

_GENERIC = set("ai llm gpu cpu api dx iot saas ceo cto it".split())
# Katakana units and currencies: names to the eye, but never whose figure it is.
_UNIT_WORDS = re.compile(
    r"^(?:ドル|ユーロ|ポンド|ウォン|元|ルピー|パーセント|ポイント|ギガ|テラ|メガ|キロ|ワット|バイト|トークン)+$"
)
_KANA_OR_LATIN = re.compile(r"[A-Za-z\u30a0-\u30ff]")
_LATIN = re.compile(r"[A-Za-z]")
_LATIN_WORD = re.compile(r"^[A-Za-z]++$")
_VERSION = re.compile(r"^\d{1,4}(?:\.\d{1,3}){0,2}$")  # 2, 1.5, 3.1.2: written alone, not 5兆
_JOINERS = {"、", "と", "や", "・", ",", "及び", "および"}
_SAME_AS_TITLE = {"同社", "同", "当社", "同グループ"}
_BASELINE = ("と比較", "と比べ", "に比べ", "に比し", "比で", "比べ", "より", "に対し", "を上回", "を下回")
_TOPIC = ("は", "が", "も", "では")  # the particles after the name a sentence is about
# Where a market or a figure is counted: 「日本国内のAI市場」 is not 「世界のAI市場」.
_REGION = re.compile(
    r"日本国内|国内|日本|世界全体|全世界|世界|グローバル|米国|アメリカ|中国|欧州|EU|アジア太平洋|アジア|インド|韓国"
)
_SCOPES = (
    (
        "forecast",
        r"予測|見込|見通し|予想|計画|目標|予定|目指|試算|推定|推計|見積|達すると|なると|将来|will\b|expect|forecast",
    ),
    ("quarter", r"四半期|\bQ[1-4]\b"),
    ("half", r"上半期|下半期|半期"),
    ("year", r"通期|年度|年間|会計年度|\bFY"),
    ("month", r"月間|月次|毎月"),
    ("cumulative", r"累計|累積|総計|これまでに"),
    ("total", r"合計|総額|全体|\d社の"),
    ("segment", r"部門|事業部|セグメント"),
)
_APPROXIMATE = re.compile(r"約|およそ|超|以上|近く|程度|前後|以下|未満|強|弱|ほど|余り")
# A bound is a half-open interval: 「30種以上」 agrees with 200, 「最大4倍」 with 3倍. Read right after the
# figure (its counter between: 「30種以上」) or right before it (「最大で」).
_LOWER_AFTER = re.compile(r"[^\d、。,]{0,3}?(?:以上|超|上回|突破)")
_UPPER_AFTER = re.compile(r"[^\d、。,]{0,3}?(?:以下|未満|下回)")
_LOWER_BEFORE = re.compile(r"(?:最低|少なくとも)で?$")
_UPPER_BEFORE = re.compile(r"(?:最大|最高|上限)で?$")
_RANGE_WORDS = frozenset({"から", "〜", "～", "~", "-", "–", "—", "ないし", "to"})


@dataclass(frozen=True)
class Context:
    subject: str  # "" when the sentence names nobody before the figure
    period: str  # 2025, 2025Q3, 2025H1; "" when none is written before it
    scope: str  # flags joined by "+": forecast, quarter, year, segment, total, …; "" for a plain report
    approximate: bool
    bound: str = ""  # "lower" (以上, 超), "upper" (以下, 未満, 最大) or "" for a value


NO_CONTEXT = Context("", "", "", False)


def bound_of(before: str, after: str) -> str:
    """Is the figure between `before` and `after` a lower or an upper bound rather than a value?"""
    if _LOWER_AFTER.match(after) or _LOWER_BEFORE.search(before[-4:]):
        return "lower"
    if _UPPER_AFTER.match(after) or _UPPER_BEFORE.search(before[-4:]):
        return "upper"
    return ""


def named_runs(morphs: Morphemes, upto: int | None = None) -> list[tuple[int, int, str]]:
    """(first token, last token, text) of each run of nouns before token `upto` that names something: with
    Latin letters or katakana, or a proper noun, and not a generic word (AI, GPT) or a number. A Latin name
    keeps its version (「Copilot 2.0」, 「Gemini 1.5 Pro」, H100): another version is another product."""
    morphs = morphs[:upto] if upto is not None else morphs
    runs: list[tuple[int, int, str]] = []
    i = 0
    while i < len(morphs):
        if morphs[i][1] not in ("名詞", "接頭辞", "接尾辞") or morphs[i][2] == "数詞":
            i += 1
            continue
        j = i
        while j + 1 < len(morphs) and morphs[j + 1][1] in ("名詞", "接尾辞") and morphs[j + 1][2] != "数詞":
            j += 1
        text = "".join(m[0] for m in morphs[i : j + 1])
        if _LATIN.search(morphs[j][0]):
            j, text = _with_version(morphs, j, text)
        proper = any(m[2] == "固有名詞" for m in morphs[i : j + 1])
        named = (
            (proper or _KANA_OR_LATIN.search(text)) and text.casefold() not in _GENERIC and not _UNIT_WORDS.match(text)
        ) and not (len(text) == 1 and text.isascii())  # the B of 「8B」, the e of 「v5e」: a size, a grade
        if named or text in _SAME_AS_TITLE:
            runs.append((i, j, text))
        i = j + 1
    return runs


def _with_version(morphs: Morphemes, j: int, text: str) -> tuple[int, str]:
    """Extend the name ending at token `j` over a version: a bare number (not an amount: nothing counted or
    scaled follows it), then Latin letters attached or after a space (「v5e」, 「1.5 Pro」, 「3 70B」)."""
    versioned = False
    for _ in range(4):
        k = j + 2 if j + 1 < len(morphs) and morphs[j + 1][0] in (" ", "-") else j + 1
        if k >= len(morphs):
            break
        word, pos, sub = morphs[k]
        after = morphs[k + 1] if k + 1 < len(morphs) else ("", "", "")
        counted = after[1] in ("名詞", "接尾辞") and not _LATIN_WORD.match(after[0])  # 30%, 2025年, 8基
        if sub == "数詞" and _VERSION.match(word) and not counted:
            versioned = True
        elif not (versioned and pos == "名詞" and _LATIN_WORD.match(word)):
            break
        text += "".join(m[0] for m in morphs[j + 1 : k + 1])
        j = k
    return j, text


def _asides(morphs: Morphemes, upto: int) -> set[int]:
    """Tokens in round brackets right after a figure (「月額21ドルから(Gemini Business)」): whose that
    figure is, not the next one's."""
    out: set[int] = set()
    opened = -1
    for i, (surface, _, _) in enumerate(morphs[:upto]):
        if surface in ("(", "（") and any(m[2] == "数詞" for m in morphs[max(0, i - 3) : i]):
            opened = i
        elif surface in (")", "）") and opened >= 0:
            out.update(range(opened, i + 1))
            opened = -1
    return out


def subject_before(morphs: Morphemes, upto: int, title_subject: str = "") -> str:
    """The name said last before token `upto`, with the names listed with it (「A、B、Cの4社」); 「同社」 is
    the post's own subject (its title's first name)."""
    # 「H100と比較して3倍」: what a figure is measured against is not whose figure it is
    aside = _asides(morphs, upto)
    runs = [
        r
        for r in named_runs(morphs, upto)
        if r[0] not in aside and not "".join(m[0] for m in morphs[r[1] + 1 : r[1] + 4]).startswith(_BASELINE)
    ]
    if not runs:
        return ""
    first, _, text = runs[-1]
    k = len(runs) - 2
    while k >= 0 and first > 1 and morphs[first - 1][0] == "の" and runs[k][1] == first - 2:
        first, _, owner = runs[k]  # 「ELYZAの新モデル」: whose model, not any new model
        text = f"{owner}の{text}"
        k -= 1
    names = [title_subject if text in _SAME_AS_TITLE else text]
    while k >= 0 and first > 0 and morphs[first - 1][0] in _JOINERS and runs[k][1] == first - 2:
        first, _, earlier = runs[k]
        names.insert(0, title_subject if earlier in _SAME_AS_TITLE else earlier)
        k -= 1
    # who acts (「NvidiaはIntelに50億ドルを投資」): the name the sentence takes as its topic, when another
    topic = next((t for a, b, t in runs[: k + 1] if b + 1 < len(morphs) and morphs[b + 1][0] in _TOPIC), "")
    topic = title_subject if topic in _SAME_AS_TITLE else topic
    listed = "・".join(n for n in names if n)
    return f"{topic}→{listed}" if topic and topic not in names else listed


def title_subject(title: str, morphemes: Callable[[str], Morphemes]) -> str:
    runs = named_runs(morphemes(normalize(title)))
    return runs[0][2] if runs else ""


def context(
    sentence: str, start: int, end: int, morphs: Morphemes, first_token: int, title_subj: str = "", stop: int = -1
) -> Context:
    """The context of the figure written at [start, end) of the (normalized) sentence; what is written from
    `stop` on (the next figure) is not read for its scope."""
    before = sentence[:start]
    stated = periods(before)
    last = min(len(sentence), end + 30, stop if stop >= end else len(sentence))
    clause = sentence[max(0, before.rfind("、", 0, max(0, start - 40)) + 1) : last]
    flags = [name for name, pattern in _SCOPES if re.search(pattern, clause, re.I)]
    near = sentence[max(0, start - 3) : min(len(sentence), end + 4)]
    region = [m.group(0) for m in _REGION.finditer(before[before.rfind("。") + 1 :])]
    subject = subject_before(morphs, first_token, title_subj)
    if subject and region:
        subject = f"{subject}@{'国内' if region[-1] in ('日本', '日本国内') else region[-1]}"
    return Context(
        subject,
        stated[-1][1] if stated else "",
        "+".join(flags),
        bool(_APPROXIMATE.search(near)),
        bound_of(before, sentence[end : end + 6]),
    )


def joins_range(between: str) -> bool:
    """「3兆ドルから4兆ドル」, 「200億～260億ドル」: the text between two figures makes them one range."""
    return between.strip() in _RANGE_WORDS


_DIGITS_UNIT = re.compile(r"(\d++)(?:\.(\d++))?\s*+(兆|億|万|千|trillion|billion|million|thousand)?", re.I)
_STEP = {"兆": 1e12, "億": 1e8, "万": 1e4, "千": 1e3, "trillion": 1e12, "billion": 1e9, "million": 1e6, "thousand": 1e3}


def precision(written: str, value: float) -> float:
    """Half the step of the last digit written: 3.66兆 → 0.005兆; 5億6,700万 → 0.5万; 120億 → 0.5億."""
    # The last figure of a left-to-right scan: a look-ahead for "no digit follows" rereads the rest per figure.
    last = next(iter(deque(_DIGITS_UNIT.finditer(normalize(written)), maxlen=1)), None)
    if not last or value == 0:
        return 0.0
    step = _STEP.get((last.group(3) or "").lower(), 1.0) * 10 ** (-len(last.group(2) or ""))
    return 0.5 * step

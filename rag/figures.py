"""Figures in Japanese prose: a value with its scale and unit, and the measure it quantifies
(「国内の生成AI市場は8,028億円」 → 生成AI市場, 8.028e11, jpy; 「700億パラメータ」 → パラメータ数).

Our own reading because no library does it for Japanese: Sudachi gives the words, and the measure is
the noun phrase the figure is said of, found by walking from the figure over particles and dates."""

from __future__ import annotations

import re
from dataclasses import dataclass

from index.sparse import JapaneseTokenizer
from rag.quantities import normalize, spans

# Numbers that are dates, ranks, versions or ordinals, not amounts.
_NOT_AMOUNT = set("年 月 日 年度 時 分 秒 期 四半期 半期 号 位 世代 代 回目 番 次 章 時点".split())
_CHANGE_UP = set("増 増加 上昇 成長 アップ 伸び 向上 拡大".split())
_CHANGE_DOWN = set("減 減少 低下 ダウン 削減 縮小 短縮".split())
# Nouns that do not name what a figure measures on their own.
_VAGUE = set(
    "これ それ あれ 同社 同年 前年 前年比 前期比 比 約 規模 合計 全体 うち 程度 以上 以下 未満 最大 最小 平均 ほど "
    "など 的 こと もの ため 年間".split()
)
_SKIP_BACK = set(
    "約 およそ 最大 最大で 前年比 前年同期比 前期比 比 合計 計 総額 で は が も に を の と 、 , ： : （ (".split()
)
_NOUN = {"名詞", "接頭辞", "接尾辞"}
_MAX_MEASURE = 20  # characters: longer runs are clauses, not a measure's name


@dataclass(frozen=True)
class Reading:
    """A figure read from one sentence."""

    measure: str
    value: float  # the scale applied: 8,028億 → 8.028e11
    unit: str  # pct, jpy, usd, …; a counter (人, 社, パラメータ) when written; "" when none
    text: str  # as written: 8,028億円


def _offsets(morphs: list[tuple[str, str, str]]) -> list[int]:
    at, out = 0, []
    for surface, _, _ in morphs:
        out.append(at)
        at += len(surface)
    return out


def _token_at(starts: list[int], char: int) -> int:
    i = 0
    while i + 1 < len(starts) and starts[i + 1] <= char:
        i += 1
    return i


def _noun_run(morphs: list[tuple[str, str, str]], end: int) -> str:
    """The run of nouns ending at token `end` (inclusive), without numbers in it."""
    start = end
    while start > 0 and morphs[start - 1][1] in _NOUN and morphs[start - 1][2] != "数詞":
        start -= 1
    while start < end and (morphs[start][1] == "接尾辞" or morphs[start][0] in _VAGUE):  # 「うち米国拠点」
        start += 1
    return "".join(m[0] for m in morphs[start : end + 1])


def _measure_before(morphs: list[tuple[str, str, str]], first: int, taken: set[int]) -> str:
    """Walk back from the figure over particles, 約, 前年比, brackets, dates (2028年に, 2024年下半期から) and
    other figures (前年比15%増の…) to the noun phrase it is said of."""
    i = first - 1
    for _ in range(16):
        if i < 0:
            return ""
        surface, pos, sub = morphs[i]
        if i in taken or surface in _SKIP_BACK or surface in _CHANGE_UP | _CHANGE_DOWN or pos == "助詞":
            i -= 1
        elif pos == "補助記号" and sub == "括弧閉":  # （CAGR）: the aside, then what it explains
            while i >= 0 and not (morphs[i][1] == "補助記号" and morphs[i][2] == "括弧開"):
                i -= 1
            i -= 1
        elif pos == "補助記号" and sub == "読点":
            i -= 1
        elif pos in _NOUN and sub != "数詞":
            start = i
            while start > 0 and morphs[start - 1][1] in _NOUN and morphs[start - 1][2] != "数詞":
                start -= 1
            if start > 0 and morphs[start - 1][2] == "数詞":  # 2028年, 2024年下半期: a date, not a measure
                i = start - 2
                continue
            run = _noun_run(morphs, i)
            if run in _VAGUE or not run:
                i = start - 1
                continue
            return run
        else:  # a verb, an ending or a full stop: the figure is not said of a noun here
            return ""
    return ""


def _counted(morphs: list[tuple[str, str, str]], after: int) -> str:
    """「700億パラメータ」 or 「3,500人の従業員」: the noun that follows is what is counted."""
    if after >= len(morphs):
        return ""
    surface, pos, sub = morphs[after]
    if surface == "の" and after + 1 < len(morphs) and morphs[after + 1][1] == "名詞":
        after += 1
        surface, pos, sub = morphs[after]
    if pos != "名詞" or sub == "数詞" or surface in _VAGUE or surface in _CHANGE_UP | _CHANGE_DOWN:
        return ""
    return surface  # one word: 「1万台導入」 counts 台, not 台導入


def readings(sentence: str, tokenizer: JapaneseTokenizer) -> list[Reading]:
    text = normalize(sentence)
    found = [(m, q) for m, q in spans(text) if not _part_of_a_name(text, m.start())]
    if not found:
        return []
    morphs = tokenizer.morphemes(text)
    starts = _offsets(morphs)
    bounds = [
        (_token_at(starts, m.start("value")), _token_at(starts, m.start() + len(m.group(0).rstrip()) - 1))
        for m, _ in found
    ]
    taken = {i for first, last in bounds for i in range(first, last + 2)}  # a figure and its counter
    out = []
    for (m, q), (first, last) in zip(found, bounds, strict=True):
        written, after = m.group(0).strip(), last + 1
        next_word = morphs[after][0] if after < len(morphs) else ""
        if next_word in _NOT_AMOUNT or morphs[last][0] in _NOT_AMOUNT:
            continue
        unit = q.unit
        if not unit and next_word and morphs[after][1] == "接尾辞":  # 人, 社, 件, 倍
            unit, written, after = next_word, written + next_word, after + 1
        counted = _counted(morphs, after)
        adjacent = bool(counted) and after < len(morphs) and morphs[after][0] == counted  # 700億パラメータ
        if counted and not unit:
            unit = counted
            written += counted if adjacent else ""
        before = _measure_before(morphs, first, taken)
        # 「130億パラメータ」: what is counted is the measure (a one-character counter such as 社 is a unit)
        if adjacent and len(counted) > 1 and counted == unit and not before.endswith(counted):
            measure = counted + "数"
        else:
            # 「3,500人の従業員」 counts 従業員; 「1兆円の売上」 is an amount of 売上
            measure = before or (counted + "数" if not q.unit else counted)
        if not measure or not (unit or q.scaled) or len(measure) > _MAX_MEASURE:
            continue  # a bare number, or one we cannot tie to a measure: not a figure we can compare
        change = morphs[after][0] if after < len(morphs) else ""
        if change in _CHANGE_UP:
            measure += "の伸び"
        elif change in _CHANGE_DOWN:
            measure += "の減少"
        out.append(Reading(measure, q.value, unit, written))
    return out


def _part_of_a_name(text: str, start: int) -> bool:
    """GPT-4o, Llama 3.1, H100, Qwen2.5: digits that belong to a name, not an amount."""
    before = text[max(0, start - 2) : start]
    return bool(re.search(r"[A-Za-z][\-\s]?$|[-_.vV第]$", before))


def measure_key(measure: str) -> str:
    """Measures written slightly differently land together (full-width, case, の)."""
    return normalize(measure).casefold().replace("の", "").replace(" ", "")

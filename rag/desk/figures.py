"""Figures in Japanese prose: a value with its scale and unit, and the measure it quantifies
(「国内の生成AI市場は8,028億円」 → 生成AI市場, 8.028e11, jpy; 「700億パラメータ」 → パラメータ数).

Our own reading because no library does it for Japanese: Sudachi gives the words, and the measure is
the noun phrase the figure is said of, found by walking from the figure over particles and dates."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, replace

from index.sparse import JapaneseTokenizer
from index.text.quantities import Quantity, normalize, spans
from rag.desk.figure_context import NO_CONTEXT, Context, context, joins_range, precision

# Numbers that are dates, ranks, versions or ordinals, not amounts.
_NOT_AMOUNT = set("年 月 日 年度 時 分 秒 期 四半期 半期 号 位 世代 代 回目 番 次 章 時点".split())
_CHANGE_UP = set("増 増加 上昇 成長 アップ 伸び 向上 拡大".split())
_CHANGE_DOWN = set("減 減少 低下 ダウン 削減 縮小 短縮".split())
# Nouns that do not name what a figure measures on their own.
_VAGUE = set(
    "これ それ あれ 同社 同年 前年 前年比 前期比 比 約 規模 合計 全体 うち 程度 以上 以下 未満 最大 最小 平均 ほど "
    "など 的 こと もの ため 年間 見込み 見通し 水準 計画 予定 予測 体制".split()
)
_SKIP_BACK = set(
    "約 およそ 最大 最大で 前年比 前年同期比 前期比 比 合計 計 総額 で は が も に を の と 、 , ： : （ ( "
    "月間 年間 週間 日間 毎月 毎年 累計 累積 月 年 日".split()  # 「月間13万枚」: how often, not what
)
_NOUN = {"名詞", "接頭辞", "接尾辞"}
_COUNTERS = set("倍 人 社 台 件 個 基 本 名 校 店 拠点 カ国 か国".split())  # counters Sudachi may tag as nouns
_NOT_COUNTED = {"つ"}  # 「もう1つは」: a way of speaking, not an amount
_MONEY = {"jpy", "usd", "eur"}
_ACTIONS = set("投資 出資 調達 資金調達 買収 融資 受注 契約 支出 拠出 投入".split())  # 10億ドル投資: 投資額
_TO_ACTION = set("で を の 規模 と いう という 程度 相当 以上 超 巨額 資金".split())  # between an amount and its action
# Words that are units themselves: 「1307TFLOPS」 is not a count of TFLOPS
_UNIT_WORD = re.compile(
    r"(ワット|バイト|フロップス|FLOPS|TOPS|メートル|ヘルツ|Hz|GW|MW|kW|W|TB|GB|PB|MB|ヶ月|か月|カ月|時間|日間|週間|分|秒)$"
)
_MAX_MEASURE = 20  # characters: longer runs are clauses, not a measure's name


@dataclass(frozen=True)
class Reading:
    """A figure read from one sentence."""

    measure: str
    value: float  # the scale applied: 8,028億 → 8.028e11
    unit: str  # pct, jpy, usd, …; a counter (人, 社, パラメータ) when written; "" when none
    text: str  # as written: 8,028億円
    context: Context = NO_CONTEXT  # whose figure, for which period and scope (rag/desk/figure_context.py)
    high: float | None = None  # the other end when the figure is a range: 「3兆ドルから4兆ドル」
    precision: float = 0.0  # half the step of its last written digit


def _offsets(morphs: list[tuple[str, str, str]]) -> list[int]:
    at, out = 0, []
    for surface, _, _ in morphs:
        out.append(at)
        at += len(surface)
    return out


def _token_at(starts: list[int], char: int) -> int:
    """The token holding character `char` (a binary search: one scan per figure was quadratic in a line of
    60,000 figures)."""
    return max(0, bisect.bisect_right(starts, char) - 1)


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
        elif surface in "〜～~-–" and i > 0 and morphs[i - 1][2] == "数詞":  # 「1〜3ヶ月」: the range's start
            i -= 2
        elif pos in _NOUN and sub != "数詞":
            start = i
            while start > 0 and morphs[start - 1][1] in _NOUN and morphs[start - 1][2] != "数詞":
                start -= 1
            if start > 0 and morphs[start - 1][2] == "数詞":  # 2028年, 2024年下半期: a date, not a measure
                i = start - 2
                continue
            run = _noun_run(morphs, i)
            named = all(m[2] == "固有名詞" for m in morphs[start : i + 1])  # 「コネクトの」: who, not what
            if run in _VAGUE or not run or named:
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
    if surface in ("の", "もの") and after + 1 < len(morphs) and morphs[after + 1][1] == "名詞":
        after += 1
        surface, pos, sub = morphs[after]
    if pos != "名詞" or sub == "数詞" or surface in _VAGUE or surface in _CHANGE_UP | _CHANGE_DOWN:
        return ""
    end = after  # a compound: 性能向上, 処理速度
    while (
        end + 1 < min(len(morphs), after + 3) and morphs[end + 1][1] == "名詞" and morphs[end + 1][2] != "数詞"
        and morphs[end + 1][0] not in _VAGUE | _CHANGE_UP | _CHANGE_DOWN
    ):  # fmt: skip
        end += 1
    return "".join(m[0] for m in morphs[after : end + 1])


def _adjacent_noun(morphs: list[tuple[str, str, str]], first: int) -> bool:
    """「性能2倍」: the noun right before the figure, with no particle between, is its measure."""
    return first > 0 and morphs[first - 1][1] == "名詞" and morphs[first - 1][2] != "数詞"


def _emphasised(morphs: list[tuple[str, str, str]], after: int) -> str:
    """「4.7倍もの性能向上」, 「13.7エクサフロップスもの計算能力」: the noun after もの is what is measured."""
    words = [m[0] for m in morphs[after : after + 3]]
    skip = 1 if words[:1] == ["もの"] else 2 if words[:2] == ["も", "の"] else 0
    if not skip or after + skip >= len(morphs):
        return ""
    return _counted(morphs, after + skip)


def _action(morphs: list[tuple[str, str, str]], after: int) -> str:
    """「ノキアに10億ドル投資」, 「30億ドルを投資」, 「1,000億ドル（約15兆円）規模の資金調達」: an amount of
    money put into an action is that action's amount."""
    i, seen = after, 0
    while i < len(morphs) and seen < 8:
        word, pos, sub = morphs[i]
        if word in _ACTIONS:
            return word + "額"
        if pos == "補助記号" and sub == "括弧開":  # an aside: （約15兆円）
            while i < len(morphs) and not (morphs[i][1] == "補助記号" and morphs[i][2] == "括弧閉"):
                i += 1
        elif word not in _TO_ACTION:
            return ""
        i, seen = i + 1, seen + 1
    return ""


def _range_unit(text: str, end: int, found: list[tuple[re.Match[str], Quantity]]) -> str | None:
    """「200億～260億ドル」: the first figure of a range takes the unit written after the second; None
    when it starts a range whose end has no such unit (「1〜3ヶ月」: the end is read, not the start)."""
    tail = text[end : end + 2].lstrip()
    if not tail or tail[0] not in "～〜~-–":
        return ""
    nxt = next(((m, q) for m, q in found if m.start() >= end), None)
    if nxt is None or nxt[0].start() - end > 2:
        return ""
    return nxt[1].unit or None


def readings(sentence: str, tokenizer: JapaneseTokenizer, title_subject: str = "") -> list[Reading]:
    """The figures of a sentence, each with its context (whose, which period, which scope); a range is
    one reading. `title_subject` stands for 「同社」 (the post's own company)."""
    text = normalize(sentence)
    if "|" in text:  # a table row: its figures' measures are in a header this sentence does not hold
        return []
    found = [(m, q) for m, q in spans(text) if not _part_of_a_name(text, m.start())]
    if not found:
        return []
    morphs = tokenizer.morphemes(text)
    starts = _offsets(morphs)
    out: list[tuple[Reading, int, int]] = []  # each reading and where its text starts and ends
    read = _readings(text, morphs, starts, found)
    # a figure's scope words stop at the next figure: 「今の収益130億ドルから、2030年に2000億ドルという目標」
    stops = [span[0] for _, span in read[1:]] + [len(text)] if read else []
    for (reading, (start, end)), stop in zip(read, stops, strict=True):
        if out and reading.unit == out[-1][0].unit and joins_range(text[out[-1][2] : start]):
            low, start = out[-1][0], out[-1][1]  # 「3兆ドルから4兆ドル」: one range, not two figures
            ctx = context(text, start, end, morphs, _token_at(starts, start), title_subject, stop)
            out[-1] = (replace(low, text=text[text.find(low.text) : end], high=reading.value, context=ctx), start, end)
            continue
        ctx = context(text, start, end, morphs, _token_at(starts, start), title_subject, stop)
        out.append((replace(reading, context=ctx, precision=precision(reading.text, reading.value)), start, end))
    return [r for r, _, _ in out]


def _readings(
    text: str, morphs: list[tuple[str, str, str]], starts: list[int], found: list[tuple[re.Match[str], Quantity]]
) -> list[tuple[Reading, tuple[int, int]]]:
    bounds = [
        (_token_at(starts, m.start("value")), _token_at(starts, m.start() + len(m.group(0).rstrip()) - 1))
        for m, _ in found
    ]
    taken = {i for first, last in bounds for i in range(first, last + 2)}  # a figure and its counter
    out: list[tuple[Reading, tuple[int, int]]] = []
    previous: tuple[int, Reading] | None = None  # where the last figure read ends, and its reading
    for (m, q), (first, last) in zip(found, bounds, strict=True):
        reading = _reading(text, morphs, m, q, first, last, taken, found)
        if previous and "".join(text[previous[0] : m.start()].split()) in ("(", "（", "(約", "（約"):
            # 「1,000億ドル（約15兆円）」: the same amount in another currency, of the same measure
            reading = Reading(previous[1].measure, q.value, q.unit, m.group(0).strip()) if q.unit else None
        if reading is not None:
            out.append((reading, (m.start("value"), m.start() + len(m.group(0).rstrip()))))
            previous = (m.end(), reading)
    return out


def _reading(
    text: str, morphs: list[tuple[str, str, str]], m: re.Match[str], q: Quantity, first: int, last: int,
    taken: set[int], found: list[tuple[re.Match[str], Quantity]],
) -> Reading | None:  # fmt: skip
    written, after = m.group(0).strip(), last + 1
    word = lambda i: morphs[i][0] if i < len(morphs) else ""  # noqa: E731
    if word(after) in _NOT_AMOUNT or morphs[last][0] in _NOT_AMOUNT:
        return None
    ranged = _range_unit(text, m.end(), found)
    if ranged is None:
        return None
    unit = q.unit or ranged
    if not unit and word(after) and (morphs[after][1] == "接尾辞" or word(after) in _COUNTERS):  # 人, 社, 倍
        unit, written, after = word(after), written + word(after), after + 1
    if unit in _NOT_COUNTED or word(after) == "目":  # 「もう1つは」, 「2つ目の問い」: not amounts
        return None
    for probe in (after, after + 1):  # right after the figure, or after a unit written as a noun
        if emphasised := _emphasised(morphs, probe):
            return Reading(emphasised, q.value, unit or word(after), written + ("" if unit else word(after)))
    if unit in _MONEY and (action := _action(morphs, after)):
        return Reading(action, q.value, unit, written)
    counted = _counted(morphs, after)
    adjacent = bool(counted) and word(after) == counted  # 700億パラメータ
    if counted and not unit:
        unit = counted
        written += counted if adjacent else ""
    before = _measure_before(morphs, first, taken)
    if before.isascii() or before.endswith("中"):  # 「Proの2倍」 a name; 「交渉中の」 a state: not measures
        before = ""
    unit_word = bool(counted) and adjacent and bool(_UNIT_WORD.search(counted))
    if unit == "倍" and counted and not _adjacent_noun(morphs, first):  # 「Xの2倍の処理速度」: it comes after
        measure = counted
    elif unit_word:  # 「10ギガワット規模の」: a unit, whatever it measures is said elsewhere
        measure = before
    # 「130億パラメータ」: what is counted is the measure (a one-character counter such as 社 is a unit)
    elif adjacent and len(counted) > 1 and counted == unit and not before.endswith(counted):
        measure = counted + "数"
    else:
        # 「3,500人の従業員」 counts 従業員; 「1兆円の売上」 is an amount of 売上
        measure = before or (counted + "数" if counted and not q.unit and unit != "倍" else counted)
    if not measure or not (unit or q.scaled) or len(measure) > _MAX_MEASURE:
        return None  # a bare number, or one we cannot tie to a measure: not a figure we can compare
    change = word(after)
    if counted and measure == counted != unit:  # 「25%生産性向上」: the change follows what changed
        rest = text[m.end() :]
        at = rest.find(counted)
        change = next(
            (w for w in _CHANGE_UP | _CHANGE_DOWN if 0 <= at <= 2 and rest[at + len(counted) :].startswith(w)), change
        )
    if unit == "倍":  # 「3倍向上」 and 「3倍に」 are the same multiple
        change = ""
    if change in _CHANGE_UP:
        measure += "の伸び"
    elif change in _CHANGE_DOWN:
        measure += "の減少"
    return Reading(measure, q.value, unit, written)


def _part_of_a_name(text: str, start: int) -> bool:
    """GPT-4o, Llama 3.1, H100, Qwen2.5, 5G, 4K, レベル5: digits that belong to a name or a grade, not an
    amount; and 「$0.15/1M」: per a million."""
    before = text[max(0, start - 6) : start]
    digits = re.match(r"\d+(?:\.\d+)?", text[start:])
    after = text[start + (digits.end() if digits else 0) :][:1]
    return bool(
        re.search(r"[A-Za-z][\-\s]?$|[-_.vV第/]$|(レベル|ステージ|フェーズ|バージョン|世代)$", before)
        or after in ("G", "D", "K", "B", "N", "A")  # 5G, 3D, 4K; 27B (a model size); 4NP, 18A (processes)
        or text[start:].lstrip("0123456789.").startswith(("ナノ", "nm"))  # 3ナノメートルプロセス: a process node
    )


def measure_key(measure: str) -> str:
    """Measures written slightly differently land together (full-width, case, の)."""
    return normalize(measure).casefold().replace("の", "").replace(" ", "")

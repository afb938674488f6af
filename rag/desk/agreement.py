"""When two figures of the same measure disagree: their subjects name the same thing, their periods are
the same, and the intervals they stand for (rounding, a range, a bound) do not overlap. Kept apart from
reading a figure's context (figure_context.py); the desk and the answer path share this one rule."""

from __future__ import annotations

import math
import re
from datetime import date

# Values that move every trading day: quoted on different days they differ without disagreeing.
_DAILY = re.compile(r"時価総額|株価|終値|始値|為替|相場|market ?(?:cap|value)|share price|stock price", re.I)
_VERSIONED = re.compile(r"[A-Za-z][ \-]?\d")
_MONEY = {"jpy", "usd", "eur"}
_CHANGING = re.compile(r"シェア|ユーザー|利用者|会員|導入|採用|顧客|契約|売上|収益|利益|価格|料金|台数|出荷")
_DEAL = re.compile(r"^(?:資金)?(?:投資|出資|買収|融資|受注|契約|支出|拠出|投入|調達)(?:額|金額|規模)?$")
DISAGREE_DAYS = 31  # posts farther apart report a change, not a disagreement (no period written)

# Katakana and Latin spellings of one company: one subject.
_ALIASES = {
    "アマゾン": "amazon", "エヌビディア": "nvidia", "マイクロソフト": "microsoft", "グーグル": "google",
    "アップル": "apple", "オラクル": "oracle", "インテル": "intel", "サムスン": "samsung", "ソフトバンク": "softbank",
    "クアルコム": "qualcomm", "アドビ": "adobe", "アリババ": "alibaba", "バイドゥ": "baidu", "テスラ": "tesla",
}  # fmt: skip
_NAME = re.compile(r"[^→・@]+")
_PRODUCT = re.compile(r"^[a-z][a-z\-]*+\d[a-z0-9.\-]*+$")  # a Latin name with its version: inferentia3, h100


def subject_key(subject: str, measure: str = "") -> str:
    """The subject as figures are grouped by it: case, spaces and the companies' katakana spellings aside;
    「AのB」 is 「A→B」; and, but for a deal (both parties count), a versioned product stands for itself
    (「AWSのInferentia 3」 is 「Inferentia3」)."""
    key = _NAME.sub(lambda m: _ALIASES.get(m.group(0), m.group(0)), subject.casefold().replace(" ", ""))
    key = key.replace("の", "→")
    last = key.rsplit("→", 1)[-1]
    return last if not _DEAL.search(measure) and _PRODUCT.fullmatch(last.split("@")[0]) else key


def fixed_spec(subject: str, measure: str, unit: str) -> bool:
    """A versioned product's spec (「Llama 4」の推論速度, 「AlphaFold 4」の精度) is one value whenever it is
    said; its price, users or share still change with time."""
    return bool(_VERSIONED.search(subject)) and unit not in _MONEY and not _CHANGING.search(measure)


def one_of_many(measure: str, subject: str) -> bool:
    """An investment, a purchase, a round or a contract of one company: it makes many, so two amounts are
    the same deal only when both parties are named (「Amazon→Anthropic」), never by the actor alone."""
    return bool(_DEAL.search(measure)) and "→" not in subject


def moves_daily(measure: str) -> bool:
    """A market value, a share price, an exchange rate: only figures of the same day can disagree."""
    return bool(_DAILY.search(measure))


def differ(a: tuple[float, float, float, bool], b: tuple[float, float, float, bool]) -> bool:
    """(low, high, precision, approximate) of two figures: do they differ beyond rounding? Ranges that
    overlap, and a figure inside a range, do not; a bound has an infinite end (-inf or inf)."""
    lo_a, hi_a, p_a, approx_a = a
    lo_b, hi_b, p_b, approx_b = b
    slack = max(p_a, p_b)
    if approx_a or approx_b:
        ends = [abs(v) for v in (lo_a, hi_a, lo_b, hi_b) if math.isfinite(v)]
        slack = max(slack, 0.1 * max(ends, default=0.0))
    return hi_a + slack < lo_b or hi_b + slack < lo_a


def span(
    value: float, high: float | None, precision: float, approximate: bool, bound: str
) -> tuple[float, float, float, bool]:
    """The interval a figure stands for, as `differ` takes it."""
    low, high = value, value if high is None else high
    if bound == "lower":
        high = math.inf
    elif bound == "upper":
        low = -math.inf
    return low, high, precision, approximate


def same_period(period_a: str, day_a: date, period_b: str, day_b: date, days: int = DISAGREE_DAYS) -> bool:
    """Both written and equal, or neither written and the posts close enough that they mean the same."""
    if period_a or period_b:
        return period_a == period_b
    return abs((day_a - day_b).days) <= days

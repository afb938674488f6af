"""Numbers as quantities: a value with its scale (万, 億, 兆, thousand, million, billion, trillion) and,
where written, its unit (%, 円, ドル, mm², …). The citation check compares these, not digits, so
「10億ドル」 written as "10 billion dollars" is not supported by its source, and neither are mm² as m²;
and the periods a text states its figures for (2025年第3四半期 → 2025Q3)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from index.text import nfkc

SCALES = {
    "兆": 1e12, "億": 1e8, "万": 1e4, "千": 1e3,
    "trillion": 1e12, "billion": 1e9, "million": 1e6, "thousand": 1e3, "bn": 1e9, "m": 1e6, "k": 1e3,
}  # fmt: skip
_UNITS = (
    ("pct", r"%|パーセント|percent\b|per cent\b"),
    ("jpy", r"円|yen\b|jpy\b"),
    ("usd", r"(?:米|US\s?)?ドル|dollars?\b|usd\b"),
    ("eur", r"ユーロ|euros?\b|eur\b"),
    ("mm2", r"mm2|mm²|平方ミリ(?:メートル)?|square millimet(?:er|re)s?"),
    ("m2", r"m2\b|m²|平方メートル|square met(?:er|re)s?"),
    ("gb", r"gb\b|ギガバイト|gigabytes?"),
    ("tb", r"tb\b|テラバイト|terabytes?"),
)
_UNIT = "|".join(f"(?P<{name}>{pattern})" for name, pattern in _UNITS)
# A match starts at a currency sign or a digit, never inside a run of spaces (where each start would scan
# the rest of the run again).
_NUMBER = re.compile(
    r"(?:(?P<currency>[$¥€])\s*)?(?P<value>\d+(?:\.\d+)?)\s*"
    r"(?P<scale>兆|億|万|千|trillion\b|billion\b|million\b|thousand\b|bn\b|k\b|m\b(?![²2]))?"
    r"(?:\s*(?P<value2>\d+(?:\.\d+)?)\s*(?P<scale2>億|万|千))?"
    rf"\s*(?:{_UNIT})?",
    re.I,
)
_CURRENCY = {"$": "usd", "¥": "jpy", "€": "eur"}


@dataclass(frozen=True)
class Quantity:
    value: float  # with its scale applied: 10億 → 1e9
    unit: str  # "" when none is written
    scaled: bool  # a scale word was written (10億, 2.6 trillion)
    mantissa: float  # the written digits alone: 10億 → 10


def normalize(text: str) -> str:
    text = nfkc(text)
    return re.sub(r"(?<=\d),(?=\d{3})", "", text)


def quantities(text: str) -> list[Quantity]:
    return [q for _, q in spans(normalize(text))]


def spans(text: str) -> list[tuple[re.Match[str], Quantity]]:
    """Each figure of an already normalized text, with where it is written."""
    out = []
    for m in _NUMBER.finditer(text):
        scale = (m.group("scale") or "").lower()
        value = float(m.group("value")) * SCALES.get(scale, 1.0)
        if m.group("value2"):  # 1兆2000億: a second, smaller part
            value += float(m.group("value2")) * SCALES[m.group("scale2")]
        unit = next((name for name, _ in _UNITS if m.group(name)), "") or _CURRENCY.get(m.group("currency") or "", "")
        out.append((m, Quantity(round(value, 6), unit, bool(scale), float(m.group("value")))))
    return out


def _same(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1.0)


def supports(claim: Quantity, source: Quantity) -> bool:
    """The same quantity: equal value after scales, and no two different written units. A claim with no
    scale word may also repeat a scaled figure's digits (a table cell 8,028 for 8,028億円)."""
    if claim.unit and source.unit and claim.unit != source.unit:
        return False
    return _same(claim.value, source.value) or (
        not claim.scaled and source.scaled and _same(claim.value, source.mantissa)
    )


def share_supported(claim: str, source: str) -> float:
    """The share of the claim's quantities that the source states; 1.0 when the claim has none."""
    wanted = quantities(claim)
    if not wanted:
        return 1.0
    have = quantities(source)
    return sum(1 for q in wanted if any(supports(q, s) for s in have)) / len(wanted)


def english_scale(value: float) -> str:
    for word, size in (("trillion", 1e12), ("billion", 1e9), ("million", 1e6)):
        if value >= size:
            return f"{value / size:g} {word}"
    return f"{value:,.0f}" if value >= 10_000 else f"{value:g}"


def with_english_scales(text: str) -> str:
    """For an English question: each Japanese-scaled figure followed by its English reading,
    「10億ドル」 → 「10億ドル (= 1 billion)」, so the model need not convert 億 itself."""

    def annotate(m: re.Match[str]) -> str:
        q = quantities(m.group(0))
        if not q:
            return m.group(0)
        unit = {"jpy": " yen", "usd": " dollars", "eur": " euros"}.get(q[0].unit, "")
        return f"{m.group(0)} (= {english_scale(q[0].value)}{unit})"

    return re.sub(
        r"(?<![\d.,])\d+(?:[.,]\d+)*\s*[兆億万](?:\s*\d+(?:[.,]\d+)*\s*[億万])?(?:円|ドル|ユーロ)?", annotate, text
    )


# The periods a text states a figure for, as the answer's subject guard and the desk's figures read them.
_PERIOD = re.compile(
    r"(?P<year>(?:19|20)\d{2})\s*(?:年度?|FY)?\s*(?:(?:第\s*)?(?P<quarter>[1-4])\s*四半期|(?P<half>上半期|下半期))?|"
    r"FY\s*(?P<fy>(?:19|20)?\d{2})|(?:第\s*)?(?P<q_only>[1-4])\s*四半期|\bQ(?P<q>[1-4])\b",
    re.I,
)


def periods(text: str) -> list[tuple[int, str]]:
    """(offset, period) for years, fiscal years, quarters and halves: 2025年第3四半期 → 2025Q3."""
    out = []
    for m in _PERIOD.finditer(normalize(text)):
        year = m.group("year") or (("20" + m.group("fy")[-2:]) if m.group("fy") else "")
        quarter = m.group("quarter") or m.group("q_only") or m.group("q")
        part = f"Q{quarter}" if quarter else {"上半期": "H1", "下半期": "H2"}.get(m.group("half") or "", "")
        if year or part:
            out.append((m.start(), year + part))
    return out

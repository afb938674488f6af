"""Time in a question: the period whose posts it asks about ("2026年1月の記事で", "昨年", "last month",
"articles in 2025"), resolved against the day it is asked, and whether it wants the latest state
(最新, 現在, 直近, latest, current, as of …).

A year alone is not a period: in "2025年上半期の総時間は？" or "2024年3月の調査で" the year dates the
fact, not the post (on dev, 9 of 50 questions name a year like that and none of them a post period).
So a written date counts only with a word about posts (記事, 投稿, 掲載, articles, posts, published),
while relative periods (昨年, 先月, last month) always count."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, replace
from datetime import date, timedelta

from index.text import nfkc

_POST_WORDS_JA = r"(?:[)）]\s*)?(?:の|に)?(?:記事|投稿|掲載|公開された記事|書かれた|ブログ)"
_POST_WORDS_EN = r"\b(?:articles?|posts?|blog|publish(?:ed)?|written|coverage)\b"
_DATE_EN = r"(?P<date>\b(?:in|from|during)\s+(?:(?P<month>[A-Za-z]+)\s+)?(?P<year>\d{4})\b(?!\s*(?:-|to|–)\s*\d))"
_MONTHS_EN = {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
_LATEST = re.compile(
    r"最新|現在|現時点|直近|今の|今は|今、|最近の|\blatest\b|\bcurrent(?:ly)?\b|\bnow\b|\bas of\b|"
    r"\bmost recent\b|\bnewest\b|\brecent(?:ly)?\b",
    re.I,
)


@dataclass(frozen=True)
class Period:
    since: date
    until: date
    label: str  # as the answer states it: 2026年1月, 2025年, 2026-11-23〜2026-11-29
    phrase: str = ""  # the words that named it ("先月の記事によると"): scope, not content to search for

    def as_dict(self) -> dict[str, str]:
        return {"since": self.since.isoformat(), "until": self.until.isoformat(), "label": self.label}


def _month(year: int, month: int) -> Period:
    last = calendar.monthrange(year, month)[1]
    return Period(date(year, month, 1), date(year, month, last), f"{year}年{month}月")


def _year(year: int) -> Period:
    return Period(date(year, 1, 1), date(year, 12, 31), f"{year}年")


def _relative(text: str, today: date) -> Period | None:
    first_of_month = today.replace(day=1)
    last_month_end = first_of_month - timedelta(days=1)
    table = [
        (r"昨年|去年|\blast year\b", lambda: _year(today.year - 1)),
        (r"一昨年|\bthe year before last\b", lambda: _year(today.year - 2)),
        (r"今年|本年|\bthis year\b", lambda: _year(today.year)),
        (r"先月|前月|\blast month\b", lambda: _month(last_month_end.year, last_month_end.month)),
        (r"今月|\bthis month\b", lambda: _month(today.year, today.month)),
        (r"先週|\blast week\b", lambda: _week(today - timedelta(days=7))),
        (r"今週|\bthis week\b", lambda: _week(today)),
    ]
    found = None
    for pattern, make in table:  # 一昨年 holds 昨年: the longer, later entry wins
        if m := re.search(rf"(?:{pattern}){_POST_WORDS_JA}?(?:によると|では|で)?", text, re.I):
            found = replace(make(), phrase=m.group(0))
    return found


def _week(day: date) -> Period:
    monday = day - timedelta(days=day.weekday())
    sunday = monday + timedelta(days=6)
    return Period(monday, sunday, f"{monday.isoformat()}〜{sunday.isoformat()}")


def _written(text: str, today: date) -> Period | None:
    ja = re.search(rf"(?<![\d〜~-])(\d{{4}})年(?:(\d{{1,2}})月)?{_POST_WORDS_JA}", text)
    if ja:
        year, month = int(ja.group(1)), int(ja.group(2)) if ja.group(2) else 0
        found = _valid(year, month, today)
        return replace(found, phrase=ja.group(0)) if found else None
    # The post word must be next to the date ("posts published in May 2025", "in 2024 articles"):
    # "According to the blog, what was the density in 2022?" dates the fact, not the post.
    en = re.search(rf"{_POST_WORDS_EN}(?:\s+[\w']+){{0,3}}?\s+{_DATE_EN}", text, re.I) or re.search(
        rf"{_DATE_EN}(?:'s)?\s+{_POST_WORDS_EN}", text, re.I
    )
    if en:
        month = _MONTHS_EN.get((en.group("month") or "").lower(), 0)
        found = _valid(int(en.group("year")), month, today)
        return replace(found, phrase=en.group("date")) if found else None
    return None


def _valid(year: int, month: int, today: date) -> Period | None:
    if year > today.year or year < 1990 or month > 12:  # a future year is a forecast, not a post date
        return None
    return _month(year, month) if month else _year(year)


def read_period(question: str, today: date) -> Period | None:
    """The posting period the question names, or None."""
    text = nfkc(question)
    return _written(text, today) or _relative(text, today)


def without_period(question: str, period: Period | None) -> str:
    """The question as content to search for: the words that only scope it in time taken out."""
    if period is None or not period.phrase:
        return question
    text = nfkc(question)
    rest = text.replace(period.phrase, " ", 1).strip(" 、,")
    return rest or question


def wants_latest(question: str) -> bool:
    return bool(_LATEST.search(nfkc(question)))

"""Figures read from Japanese sentences: value with its scale, unit, and the measure it quantifies."""

from __future__ import annotations

import pytest

from index.sparse import JapaneseTokenizer
from rag.figures import Reading, measure_key, readings


@pytest.fixture(scope="module")
def tok() -> JapaneseTokenizer:
    return JapaneseTokenizer()


@pytest.mark.parametrize(
    "sentence, expected",
    [
        ("国内の生成AI市場は2028年に8,028億円に達する見込みです。", [("生成AI市場", 8.028e11, "jpy")]),
        ("年平均成長率（CAGR）84.4%という成長が見込まれています。", [("年平均成長率", 84.4, "pct")]),
        ("2024年に発表した700億パラメータ規模の日本語LLM", [("パラメータ数", 7e10, "パラメータ")]),
        ("同社の従業員数は約3,500人です。", [("従業員数", 3500, "人")]),
        ("３，５００人の従業員を抱える", [("従業員数", 3500, "人")]),
        ("市場規模は2030年までに1,000億ドルに達する", [("市場規模", 1e11, "usd")]),
        ("利用企業数は500社を超えた", [("利用企業数", 500, "社")]),
        ("ユーザーが費やした総時間は156億時間でした", [("総時間", 1.56e10, "時間")]),
    ],
)
def test_a_figure_is_read_with_its_measure_scale_and_unit(
    tok: JapaneseTokenizer, sentence: str, expected: list[tuple[str, float, str]]
) -> None:
    assert [(r.measure, r.value, r.unit) for r in readings(sentence, tok)] == expected


def test_a_change_after_a_figure_is_not_the_measure_itself(tok: JapaneseTokenizer) -> None:
    got = readings("売上高は前年比15%増の1兆2000億円となりました。", tok)
    assert [(r.measure, r.value, r.unit) for r in got] == [("売上高の伸び", 15, "pct"), ("売上高", 1.2e12, "jpy")]


def test_a_later_period_is_skipped_on_the_way_to_the_measure(tok: JapaneseTokenizer) -> None:
    got = readings("総時間は156億時間で、2024年下半期から84%増加しました。", tok)
    assert ("総時間の伸び", 84.0, "pct") in [(r.measure, r.value, r.unit) for r in got]


@pytest.mark.parametrize(
    "sentence",
    [
        "GPT-4oは2024年5月13日に発表された。",
        "Llama 3.1とQwen2.5を比較した。",
        "H100を搭載したサーバー",
        "第3四半期に公開された。",
    ],
)
def test_dates_ordinals_and_model_names_are_not_figures(tok: JapaneseTokenizer, sentence: str) -> None:
    assert readings(sentence, tok) == []


def test_a_bare_number_with_no_unit_or_scale_is_not_a_figure(tok: JapaneseTokenizer) -> None:
    assert readings("評価スコアは85だった。", tok) == []


def test_the_figure_keeps_its_written_form(tok: JapaneseTokenizer) -> None:
    [r] = readings("ELYZAの新モデルは700億パラメータです。", tok)
    assert r == Reading("パラメータ数", 7e10, "パラメータ", "700億パラメータ")


def test_measures_written_differently_share_a_key() -> None:
    assert measure_key("ＡＩ市場の規模") == measure_key("AI市場規模")

"""Figures read from Japanese sentences: value with its scale, unit, and the measure it quantifies."""

from __future__ import annotations

import pytest

from index.sparse import JapaneseTokenizer
from rag.desk.figures import measure_key, readings


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
    assert (r.measure, r.value, r.unit, r.text) == ("パラメータ数", 7e10, "パラメータ", "700億パラメータ")
    assert r.context.subject == "ELYZAの新モデル" and r.precision == 0.5e8


def test_measures_written_differently_share_a_key() -> None:
    assert measure_key("ＡＩ市場の規模") == measure_key("AI市場規模")


@pytest.mark.parametrize(
    "sentence, expected",
    [
        ("v5eと比較して4.7倍もの性能向上を実現した。", [("性能", 4.7, "倍")]),
        ("Gemini 1.5 Proの2倍の処理速度を実現している。", [("処理速度", 2.0, "倍")]),
        ("13.7エクサフロップスもの計算能力を持つ。", [("計算能力", 13.7, "エクサフロップス")]),
        (
            "年間売上予測は2026年には200億～260億ドルとされる。",
            [("売上予測", 2e10, "usd")],  # one range, 200億 to 260億 (its high end below)
        ),
    ],
)
def test_what_a_multiple_or_an_emphasised_figure_measures_comes_after_it(
    tok: JapaneseTokenizer, sentence: str, expected: list[tuple[str, float, str]]
) -> None:
    assert [(r.measure, r.value, r.unit) for r in readings(sentence, tok)] == expected


@pytest.mark.parametrize(
    "sentence",
    [
        "| 市場調査レポート | 40時間/件 | 8時間/件 | 80% |",  # a table row: the measure is in its header
        "入力$0.15/1M、出力$0.60/1Mと低価格です。",  # per a million tokens, not a million of anything
        "もう1つは、チップレット技術の進化です。",
        "さて、2つ目の問いについて考えます。",
        "io Productsは2025年に設立された。",  # digits in a year, a name and no measure
    ],
)
def test_figures_without_a_measure_to_tie_them_to_are_left_out(tok: JapaneseTokenizer, sentence: str) -> None:
    assert readings(sentence, tok) == []


@pytest.mark.parametrize(
    "sentence, expected",
    [
        ("ノキアに10億ドル投資して6G技術開発を支援した。", [("投資額", 1e9, "usd")]),
        ("io Productsを65億ドルで買収した。", [("買収額", 6.5e9, "usd")]),
        ("io Productsを65億ドルという巨額で買収した。", [("買収額", 6.5e9, "usd")]),
        ("AWSとも複数年で380億ドルという巨額の契約を結んだ。", [("契約額", 3.8e10, "usd")]),
        (
            "設備投資ガイダンスを400億～420億米ドルに引き上げた。",
            [("設備投資ガイダンス", 4e10, "usd")],  # one range
        ),
    ],
)
def test_money_put_into_an_action_is_that_actions_amount(
    tok: JapaneseTokenizer, sentence: str, expected: list[tuple[str, float, str]]
) -> None:
    assert [(r.measure, r.value, r.unit) for r in readings(sentence, tok)] == expected


@pytest.mark.parametrize(
    "sentence", ["自動運転レベル5の実現には課題が多い。", "5G通信とIoTの需要が伸びた。", "4K映像を生成する。"]
)
def test_grades_and_names_with_digits_are_not_figures(tok: JapaneseTokenizer, sentence: str) -> None:
    assert readings(sentence, tok) == []


def test_an_amount_in_another_currency_in_brackets_keeps_the_measure_of_the_one_before() -> None:
    got = readings(
        "評価額8,300億ドル（約124兆円）という評価で、1,000億ドル（約15兆円）規模の資金調達交渉を進めている。",
        JapaneseTokenizer(),
    )
    assert [(r.measure, r.value, r.unit) for r in got] == [
        ("評価額", 8.3e11, "usd"), ("評価額", 1.24e14, "jpy"), ("資金調達額", 1e11, "usd"), ("資金調達額", 1.5e13, "jpy"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    "sentence, expected",
    [
        ("不良品の出荷が月間100件から10件に減少した。", [("出荷", 100, "件"), ("出荷", 10, "件")]),
        ("2026年までに月間13万枚のウェーハに達する。", [("ウェーハ数", 1.3e5, "枚")]),
    ],
)
def test_how_often_is_not_what_is_counted(
    tok: JapaneseTokenizer, sentence: str, expected: list[tuple[str, float, str]]
) -> None:
    assert [(r.measure, r.value, r.unit) for r in readings(sentence, tok)] == expected


@pytest.mark.parametrize(
    "sentence, expected",
    [
        ("自動化率70%、開発期間1〜3ヶ月、運用コスト60%削減という実績。",
         [("自動化率", 70, "pct"), ("開発期間", 3, "ヶ月"), ("運用コストの減少", 60, "pct")]),
        ("NVIDIA新AIチップ、性能2倍の衝撃", [("性能", 2, "倍")]),
    ],
)  # fmt: skip
def test_a_range_is_read_at_its_end_and_an_adjacent_noun_is_the_measure(
    tok: JapaneseTokenizer, sentence: str, expected: list[tuple[str, float, str]]
) -> None:
    assert [(r.measure, r.value, r.unit) for r in readings(sentence, tok)] == expected


def test_a_range_is_one_figure_with_both_ends(tok: JapaneseTokenizer) -> None:
    [r] = readings("AIインフラへの投資は2030年までに3兆ドルから4兆ドルに達する見通しだ。", tok)
    assert (r.value, r.high, r.text) == (3e12, 4e12, "3兆ドルから4兆ドル")
    assert r.context.period == "2030" and "forecast" in r.context.scope


def test_a_figure_knows_whose_it_is_and_its_scope(tok: JapaneseTokenizer) -> None:
    [deal] = readings("NvidiaはIntelに50億ドルを投資した。", tok)
    assert deal.context.subject == "Nvidia→Intel"
    [group] = [
        r
        for r in readings("Microsoft、Alphabet、Amazon、Metaの4社の設備投資は合計3,000億ドルだ。", tok)
        if r.unit == "usd"
    ]
    assert group.context.subject == "Microsoft・Alphabet・Amazon・Meta" and "total" in group.context.scope
    [own] = readings("同社の売上高は120億円となった。", tok, title_subject="ミライAI")
    assert own.context.subject == "ミライAI"

"""Figures are compared as quantities: value after scale, and unit, across Japanese and English."""

from __future__ import annotations

import pytest

from index.text.quantities import quantities, share_supported, with_english_scales
from rag.answering.citations import attribute
from rag.answering.evidence import Scorer
from rag.answering.prompts import Source

SOURCE = "国内の生成AI市場は2030年に1兆2,000億円規模に達し、某社は10億ドルを調達した。チップの面積は300mm²。"


@pytest.mark.parametrize(
    ("claim", "supported"),
    [
        ("The company raised 1 billion dollars.", True),
        ("The company raised 10 billion dollars.", False),  # 10億 is one billion, not ten
        ("The market will reach 1.2 trillion yen by 2030.", True),
        ("The market will reach 1.2 million yen by 2030.", False),
        ("市場は1兆2000億円に達する。", True),
        ("The chip measures 300 mm².", True),
        ("The chip measures 300 square metres.", False),  # same digits, another unit
        ("The raise was 10 billion yen.", False),
    ],
)
def test_a_figure_is_supported_only_at_its_scale_and_unit(claim: str, supported: bool) -> None:
    assert (share_supported(claim, SOURCE) == 1.0) is supported


def test_a_table_cell_without_its_scale_still_matches_the_figure() -> None:
    assert share_supported("売上高は8028でした。", "売上高：8,028億円") == 1.0


def test_scales_parse_as_one_value() -> None:
    assert [q.value for q in quantities("1兆2,000億円と3万人と$5 billion")] == [1.2e12, 3e4, 5e9]


def test_english_questions_get_the_english_reading_of_japanese_scales() -> None:
    assert with_english_scales("10億ドルを調達") == "10億ドル (= 1 billion dollars)を調達"
    assert with_english_scales("1兆2,000億円") == "1兆2,000億円 (= 1.2 trillion yen)"


def test_a_wrong_scale_sentence_is_dropped_by_the_citation_check() -> None:
    scorer = Scorer(lambda t: t.lower().replace(".", " ").split(), lambda t: 1.0)
    source = Source(1, "a.md", "https://x/a", "資金調達", "2025-01-01", "", SOURCE)
    checked = attribute("The company raised 10 billion dollars [1].", [source], scorer)
    assert checked.text == "" and len(checked.dropped) == 1 and "10 billion" in checked.dropped[0]


def test_grading_reads_figures_across_scales_and_languages() -> None:
    from rag.evaluation.grading import grade

    assert grade("The model has 70 billion parameters.", "700億パラメータ").correct
    assert not grade("The model has 700 billion parameters.", "700億パラメータ").correct
    assert grade("売上高は8,028億円でした。", "8028億円").correct


def test_a_gold_answer_of_kanji_and_kana_alone_must_appear_in_the_answer() -> None:
    from rag.evaluation.grading import grade

    assert grade("江戸時代の銅山は別子銅山です[1]。", "別子銅山").correct
    assert grade("その矢筒は「靫」と呼ばれる[1]。", "「靫」").correct
    assert not grade("江戸時代の銅山は足尾銅山です[1]。", "別子銅山").correct
    assert not grade("", "別子銅山").correct

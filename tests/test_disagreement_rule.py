"""What counts as a disagreement (rag/desk/agreement.py): the same thing said differently by two posts.
Every sentence here is made up for the test (fictional products and companies)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from index.sparse import JapaneseTokenizer
from rag.desk.figure_context import named_runs
from rag.desk.research import disagreements, figures_of
from rag.types import Figure, MeasureFigures


@pytest.fixture(scope="module")
def tok() -> JapaneseTokenizer:
    return JapaneseTokenizer()


def found(tok: JapaneseTokenizer, *posts: tuple[str, str]) -> list[MeasureFigures]:
    """The disagreements among posts given as (date, sentence), each its own post."""
    figures: list[Figure] = []
    for n, (day, sentence) in enumerate(posts):
        hit = SimpleNamespace(title=f"記事{n}", source=f"{day}-{n}.md", url=f"/p/{n}")
        figures += figures_of(hit, [sentence], [], tok, day)  # type: ignore[arg-type]
    return disagreements(figures)


def test_a_version_number_stays_in_the_subject(tok: JapaneseTokenizer) -> None:
    names = [r[2] for r in named_runs(tok.morphemes("Zentro 2.0とZentro 1.5 ProとQx2.5とK100の比較"))]
    assert names == ["Zentro 2.0", "Zentro 1.5 Pro", "Qx2.5", "K100"]
    assert not found(
        tok, ("2025-03-01", "Zentro 2.0の生産性は25%向上した。"), ("2025-03-05", "Zentroの生産性は15%向上した。")
    )


def test_a_number_that_is_an_amount_is_not_a_version(tok: JapaneseTokenizer) -> None:
    names = [r[2] for r in named_runs(tok.morphemes("Zentro 30%の伸び、Zentro 2025年の計画、K100 8基"))]
    assert names == ["Zentro", "Zentro", "K100"]


def test_the_same_version_said_differently_disagrees(tok: JapaneseTokenizer) -> None:
    [group] = found(tok, ("2025-03-01", "Zentro 2.0の精度は95%だ。"), ("2025-03-05", "Zentro 2.0の精度は99%だ。"))
    assert {f.value for f in group.figures} == {95, 99}


def test_a_lower_bound_does_not_disagree_with_a_larger_value(tok: JapaneseTokenizer) -> None:
    assert not found(
        tok, ("2025-03-01", "Kumoraは30種以上のモデルを提供する。"), ("2025-03-05", "Kumoraは200種のモデルを提供する。")
    )
    assert not found(
        tok, ("2025-03-01", "Kumoraは30種超のモデルを提供する。"), ("2025-03-05", "Kumoraは200種のモデルを提供する。")
    )


def test_a_lower_bound_disagrees_with_a_smaller_value(tok: JapaneseTokenizer) -> None:
    assert found(
        tok, ("2025-03-01", "Kumoraは300種以上のモデルを提供する。"), ("2025-03-05", "Kumoraは20種のモデルを提供する。")
    )


def test_an_upper_bound_does_not_disagree_with_a_smaller_value(tok: JapaneseTokenizer) -> None:
    assert not found(
        tok, ("2025-03-01", "Kumoraの遅延は100ミリ秒未満だ。"), ("2025-03-05", "Kumoraの遅延は20ミリ秒だ。")
    )
    assert not found(tok, ("2025-03-01", "Zentro 2.0は最大4倍の性能だ。"), ("2025-03-05", "Zentro 2.0は3倍の性能だ。"))
    assert found(tok, ("2025-03-01", "Kumoraの遅延は10ミリ秒以下だ。"), ("2025-03-05", "Kumoraの遅延は90ミリ秒だ。"))


def test_market_values_of_different_days_do_not_disagree(tok: JapaneseTokenizer) -> None:
    assert not found(
        tok, ("2025-03-01", "Orvexの時価総額は2,700億ドルだ。"), ("2025-03-20", "Orvexの時価総額は2,600億ドルだ。")
    )
    assert found(
        tok, ("2025-03-20", "Orvexの時価総額は2,700億ドルだ。"), ("2025-03-20", "Orvexの時価総額は2,000億ドルだ。")
    )


def test_a_company_makes_many_investments(tok: JapaneseTokenizer) -> None:
    assert not found(
        tok, ("2025-03-01", "Orvexの50億ドル投資が話題だ。"), ("2025-03-05", "Orvexの10億ドル投資が話題だ。")
    )
    assert found(
        tok,
        ("2025-03-01", "OrvexはKumoraに50億ドルを投資した。"),
        ("2025-03-05", "OrvexはKumoraに10億ドルを投資した。"),
    )


def test_a_katakana_spelling_is_the_same_company(tok: JapaneseTokenizer) -> None:
    assert found(tok, ("2025-03-01", "アマゾンの従業員数は150万人だ。"), ("2025-03-05", "Amazonの従業員数は90万人だ。"))


def test_a_versioned_products_spec_disagrees_months_apart_but_its_price_does_not(tok: JapaneseTokenizer) -> None:
    assert found(tok, ("2025-01-01", "Zentro 2.0の推論速度は2倍だ。"), ("2025-06-01", "Zentro 2.0の推論速度は3倍だ。"))
    assert not found(tok, ("2025-01-01", "Zentroの推論速度は2倍だ。"), ("2025-06-01", "Zentroの推論速度は3倍だ。"))
    assert not found(
        tok, ("2025-01-01", "Zentro 2.0の価格は20ドルだ。"), ("2025-06-01", "Zentro 2.0の価格は30ドルだ。")
    )


def test_what_a_multiple_is_measured_against_is_not_its_subject(tok: JapaneseTokenizer) -> None:
    assert not found(
        tok,
        ("2025-03-01", "X1チップでは、K100に比べ学習性能で3倍になる。"),
        ("2025-03-05", "Z9チップでは、K100に比べ学習性能で1.7倍になる。"),
    )


def test_a_name_in_brackets_after_a_figure_is_that_figures_not_the_next_ones(tok: JapaneseTokenizer) -> None:
    assert not found(
        tok,
        ("2025-03-01", "Zentro Liteは月額20ドルだ。"),
        ("2025-03-05", "月額20ドルから(小規模向けZentro Lite)、大規模向けは月額35ドルからだ。"),
    )


def test_a_growth_written_before_its_change_word_is_a_growth(tok: JapaneseTokenizer) -> None:
    assert found(
        tok,
        ("2025-03-01", "Zentro 2.0の25%生産性向上は大きい。"),
        ("2025-03-05", "Zentro 2.0は生産性を15%向上させた。"),
    )


def test_a_forecast_later_in_the_sentence_is_not_this_figures_scope(tok: JapaneseTokenizer) -> None:
    assert found(
        tok,
        ("2025-03-01", "Orvexの年間収益は約100億ドルだ。"),
        ("2025-03-20", "Orvexは年間収益130億ドルから、2030年までに2000億ドルという目標を掲げる。"),
    )

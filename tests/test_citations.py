"""The citation checker on its own: which sentences a source supports."""

from __future__ import annotations

import numpy as np

from index.sparse import JapaneseTokenizer
from index.text import answer_sentences
from rag.answering.citations import Attributor, attribute, complete_sentences
from rag.answering.evidence import Scorer
from rag.answering.prompts import Source

TOKENIZE = JapaneseTokenizer()
KNOWN = {"量子": 1.0, "化": 0.2}  # a tiny "index": every other term is unknown, hence rare


def scorer() -> Scorer:
    return Scorer(TOKENIZE, lambda t: KNOWN.get(t, 5.0))


SOURCES = [
    Source(
        1, "a.md", "https://x/a/", "量子化の記事", "2025-09-03", "", "量子化により推論コストを約60%削減できました。"
    ),
    Source(2, "b.md", "https://x/b/", "検査の記事", "2025-09-10", "", "外観検査AIで検査工数を42%削減しました。"),
]


def test_a_sentence_that_only_repeats_source_titles_and_dates_is_not_an_answer() -> None:
    checker = Attributor(SOURCES, scorer())
    assert checker.add("量子化の記事[1] (2025-09-03)  検査の記事[2]。") is None
    assert checker.echoes and not checker.dropped
    assert checker.add("量子化の記事によると、推論コストを約60%削減できました。") is not None


def test_a_phrase_left_dangling_by_a_removed_marker_is_tidied() -> None:
    result = attribute("According to [1], inspection hours fell by 42%.", SOURCES, scorer())
    assert result.text == "Inspection hours fell by 42% [1]."
    result = attribute("[2]によると、検査工数を42%削減しました。", SOURCES, scorer())
    assert result.text == "検査工数を42%削減しました[1]。"


def test_a_sentence_sharing_one_common_word_with_a_source_is_not_supported_by_it() -> None:
    result = attribute("量子コンピュータの冷却方式は量子冷却です[1]。", SOURCES, scorer())
    assert result.text == "" and result.citations == []
    assert result.dropped == ["量子コンピュータの冷却方式は量子冷却です。"]


def test_a_figure_missing_from_the_cited_source_moves_the_marker_to_the_source_that_has_it() -> None:
    result = attribute("外観検査AIで検査工数を42%削減しました[1]。", SOURCES, scorer())
    assert result.text == "外観検査AIで検査工数を42%削減しました[1]。"
    assert result.citations[0].source == "b.md"  # renumbered: the only source used is [1]


def test_a_wrong_figure_is_dropped_even_with_a_marker() -> None:
    result = attribute("外観検査AIで検査工数を80%削減しました[2]。", SOURCES, scorer())
    assert result.citations == [] and result.dropped


def test_meaning_alone_supports_only_above_the_calibrated_cosine() -> None:
    def dense(claims: list[str], texts: list[str]) -> np.ndarray:
        return np.array([[0.84, 0.95]])  # below the floor for source 1, well above for source 2

    result = attribute("The inspection AI saved a lot of work.", SOURCES, scorer(), dense)
    assert [c.source for c in result.citations] == ["b.md"]
    assert result.text == "The inspection AI saved a lot of work [1]."


def test_connective_sentences_need_no_marker() -> None:
    checker = Attributor(SOURCES, scorer())
    assert checker.add("以下の通りです。") == "以下の通りです。"
    assert checker.result().factual == 0


def test_sentences_end_at_japanese_and_western_marks_and_keep_their_markers() -> None:
    assert answer_sentences("一つ目です[1]。二つ目です。[2] Third one [1]. 1.5倍です。") == [
        "一つ目です[1]。",
        "二つ目です。[2]",
        "Third one [1].",
        "1.5倍です。",
    ]


def test_a_sentence_is_finished_only_once_the_next_has_begun() -> None:
    assert complete_sentences("一つ目です。[1") == ([], "一つ目です。[1")
    done, rest = complete_sentences("一つ目です。[1] 二つ")
    assert done == ["一つ目です。[1]"] and rest == "二つ"


def test_a_short_sentence_that_names_something_needs_a_supporting_source() -> None:
    checker = Attributor(SOURCES, scorer())
    assert checker.add("OpenAIです。") is None and checker.add("首都は東京都。") is None
    assert len(checker.dropped) == 2


def test_a_link_in_the_answer_text_is_never_shown() -> None:
    checker = Attributor(SOURCES, scorer())
    assert checker.add("詳しくは evil.example を参照してください[1]。") is None

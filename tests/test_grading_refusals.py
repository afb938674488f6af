"""A refusal is never graded right: it names related posts, and a post's title may hold the figure asked
for (「OpenAIがNeptuneを4億ドルで買収」 under a refusal once counted as answering the Neptune question)."""

from __future__ import annotations

from rag.evaluation.evaluate import Question, graded

QUESTION = Question("q1", "Neptune買収の規模は？", "ja", True, ("neptune.md",), "4億ドル")
REFUSAL = (
    "アーカイブには、この質問に答える記事が見つかりませんでした。 関連しそうな記事: - OpenAIがNeptuneを4億ドルで買収"
)


def test_a_refusal_whose_related_titles_hold_the_answer_is_not_right() -> None:
    assert graded(REFUSAL, [], QUESTION, refused=True) == (False, False)


def test_the_same_words_as_an_answer_are_right() -> None:
    assert graded("OpenAIはNeptuneを4億ドルで買収した[1]。", [], QUESTION) == (True, False)


def test_a_key_passage_shown_before_a_refusal_is_still_graded() -> None:
    assert graded(REFUSAL, ["OpenAIはNeptuneを4億ドルで買収した。"], QUESTION, refused=True) == (False, True)

"""The short answer's source sentence (`RAG_ANSWER_SHORT_FIRST`) belongs to the first sentence the answer
keeps: a short answer dropped as off the question's subject leaves nothing behind for a later one."""

from __future__ import annotations

from rag.answering.citations import Attributor
from rag.answering.evidence import Scorer
from rag.answering.focus import Focus
from rag.answering.prompts import Source

QUESTION = "A社 の 売上 は いくら ですか"
SOURCES = [
    Source(1, "a", "https://blog.example.jp/a/", "a", "2025-09-01", "", "A社 の 売上 は 120億円 だった 。"),
    Source(2, "b", "https://blog.example.jp/b/", "b", "2025-09-01", "", "B社 利益 30億円 。"),
]


def attributor() -> Attributor:
    scorer = Scorer(lambda text: text.replace("。", " ").split(), lambda term: 1.0)
    return Attributor(SOURCES, scorer, focus=Focus(QUESTION, scorer), short_first=True)


def test_a_short_answer_of_another_subject_is_dropped_and_leaves_no_source_sentence_behind() -> None:
    checked = attributor()
    assert checked.add("30億円。[2]") is None and checked.off_topic == ["30億円。"]
    assert checked.add("A社 の 売上 は 前年 から 伸びて 120億円 だった と 記事 は 伝えている 。[1]") is not None
    assert checked.short_alone() is None  # the kept sentence is no short answer: nothing to follow it
    assert [c.n for c in checked.result().citations] == [1]


def test_a_kept_short_answer_is_followed_by_the_sentence_that_states_it() -> None:
    checked = attributor()
    assert checked.add("120億円。[1]") is not None
    assert checked.short_alone() == "A社 の 売上 は 120億円 だった [1]。"

"""When the model gives nothing to show, the key passage the reader was already shown is the answer as it
stands, even one the sentence checks would drop (it repeats its post's title, it ends in a question)."""

from __future__ import annotations

from rag.answering.evidence import Scorer
from rag.answering.outcomes import extractive
from rag.answering.passages import KeyPassage
from rag.answering.prompts import Source

TITLE = "Qwen3-MaxはAIの未来をどう変えるのか?"


def test_a_key_passage_that_repeats_its_post_title_is_the_answer_as_it_stands() -> None:
    sources = [Source(1, "qwen", "https://blog.example.jp/qwen/", TITLE, "2025-09-01", "", TITLE + "価格は未定だ。")]
    scorer = Scorer(lambda text: list(text), lambda term: 1.0)
    answer = extractive("Qwen3-Maxは何を変える?", sources, scorer, "ja", {}, 0.0, [KeyPassage(0, TITLE, 0.9)])
    assert answer.answer.startswith(TITLE) and "[1]" in answer.answer
    assert [c.url for c in answer.citations] == ["https://blog.example.jp/qwen/"]

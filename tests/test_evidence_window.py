"""How a source's characters are filled inside one post (`RAG_ANSWER_WINDOW`): the sentence that shares
the question's topic words is often the post's opening, and the figure asked for stands further down."""

from __future__ import annotations

from datetime import datetime

from rag.answering.evidence import Scorer, select_evidence
from rag.answering.passages import key_passages
from rag.retrieval.retriever import Hit, Passage

OPENING = "GX 社 は 新製品 の 発表会 を 開いた 。"
FILLER = [f"会場 に {k} 番目 展示 が 並んだ 。" for k in "一二三四五"]
FIGURE = "価格 は 3万円 と する 。"
QUESTION = "GX 社 の 新製品 の 価格 は いくら ですか"


def post(*sentences: str) -> Hit:
    return Hit(0, 0.1, "post", "https://blog.example.jp/post/", "post", datetime(2025, 9, 1), (), (),
               (Passage(0, (), "".join(sentences), 1.0),))  # fmt: skip


def scorer() -> Scorer:
    return Scorer(lambda text: text.replace("。", " ").split(), lambda term: 1.0)


def evidence(hit: Hit, window: str, chars: int = 60) -> str:
    sources = select_evidence(QUESTION, [hit], scorer(), max_sources=1, chars_per_source=chars,
                              favour_type=True, window=window)  # type: ignore[arg-type]  # fmt: skip
    return sources[0].text


def test_a_spread_window_reaches_the_figure_below_a_topic_opening() -> None:
    hit = post(OPENING, *FILLER, FIGURE)
    assert "3万円" not in evidence(hit, "contiguous")
    spread = evidence(hit, "spread")
    assert spread.startswith("GX 社") and "…価格 は 3万円" in spread


def test_a_spread_window_grows_around_the_best_sentence_when_no_other_sentence_bears_on_the_question() -> None:
    hit = post(*FILLER[:2], FIGURE, *FILLER[2:])
    assert evidence(hit, "spread") == evidence(hit, "contiguous")
    assert "…" not in evidence(hit, "spread")


def test_a_spread_window_keeps_to_the_budget() -> None:
    hit = post(OPENING, *FILLER, FIGURE, *FILLER)
    for chars in (30, 60, 90):
        assert len(evidence(hit, "spread", chars).replace("…", "")) <= chars


def test_a_key_passage_after_a_gap_is_quoted_without_the_gap_mark() -> None:
    hit = post(OPENING, *FILLER, FIGURE)
    sources = select_evidence(QUESTION, [hit], scorer(), max_sources=1, chars_per_source=60, favour_type=True,
                              window="spread")  # fmt: skip
    keys = key_passages(QUESTION, sources, scorer(), threshold=0.2)
    assert [k.text for k in keys] == [FIGURE]

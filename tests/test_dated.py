"""Dated answers: a named period is searched and stated, "latest" prefers the newest relevant post and
says its date, and values the cited posts disagree on are shown with their dates and markers."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from rag.answering.pipeline import Answerer
from rag.retrieval.engine import Engine
from rag.retrieval.periods import read_period, wants_latest
from rag.settings import Settings
from tests.fakes import fake_embedder, scripted_llm
from tests.options import answer_config

from .conftest import fake_index, settings, sse_events

TODAY = date(2025, 5, 10)


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fake_index(tmp_path_factory, "dated", archive="research")


@pytest.fixture(scope="module")
def answerer(index: Path) -> Answerer:
    engine = Engine(Settings(embedding_model="fake:64", index_dir=index), embedder=fake_embedder("fake:64"))
    return Answerer(engine, scripted_llm("fake:quote"), answer_config(), today=lambda: TODAY)


@pytest.mark.parametrize(
    "question, period",
    [
        ("2025年1月の記事でミライAIについて何と書かれていましたか？", ("2025-01-01", "2025-01-31")),
        ("ブログで最も古い時期（2025年1月）の記事の一つで、売上高は？", ("2025-01-01", "2025-01-31")),
        ("昨年の記事でミライAIはどう紹介されていた？", ("2024-01-01", "2024-12-31")),
        ("先月の記事によるとミライAIの売上高は？", ("2025-04-01", "2025-04-30")),
        ("What did the articles in 2024 say about Mirai AI?", ("2024-01-01", "2024-12-31")),
        ("What did the blog publish last month about Mirai?", ("2025-04-01", "2025-04-30")),
        ("In a post published in March 2025, what was Mirai's revenue?", ("2025-03-01", "2025-03-31")),
        ("What did the posts from 2024 say about Mirai?", ("2024-01-01", "2024-12-31")),
    ],
)
def test_a_named_period_is_resolved_against_the_day_it_is_asked(question: str, period: tuple[str, str]) -> None:
    p = read_period(question, TODAY)
    assert p is not None and (p.since.isoformat(), p.until.isoformat()) == period


@pytest.mark.parametrize(
    "question",
    [
        "2025年上半期にユーザーが生成AIアプリに費やした総時間は？",  # the year dates the fact, not the post
        "2024年3月の調査で、AIを導入している企業の割合は？",
        "市場は2028年にどの規模になると予測されていますか？",
        "2023〜2028年の年平均成長率は？",
        "What will the market be worth in 2030 according to the articles?",  # a future year is a forecast
        "According to the blog, what was South Korea's robot density in 2022?",  # the post word is not next to it
    ],
)
def test_a_year_that_dates_a_fact_is_not_a_period(question: str) -> None:
    assert read_period(question, TODAY) is None


@pytest.mark.parametrize(
    "question, latest",
    [("ミライAIの最新の売上高は？", True), ("現在の利用企業数は？", True), ("What is Mirai's current revenue?", True),
     ("ミライAIの売上高はいくらと書かれていますか？", False), ("今後の計画は？", False)],
)  # fmt: skip
def test_questions_about_the_latest_state_are_recognised(question: str, latest: bool) -> None:
    assert wants_latest(question) is latest


def test_an_answer_within_a_period_cites_only_its_posts_and_says_which_period(answerer: Answerer) -> None:
    answer = answerer.ask("先月の記事によるとミライAIの売上高はいくらですか？")
    assert answer.period is not None and answer.period.label == "2025年4月"
    assert answer.citations and all(c.date.startswith("2025-04") for c in answer.citations)
    assert answer.answer.endswith("（2025年4月の記事から探しました：2025-04-01〜2025-04-30）")


def test_the_latest_figure_comes_from_the_newest_relevant_post_with_its_date(answerer: Answerer) -> None:
    # three posts give the number of client companies (January twice, April); the June post is newer but
    # does not give it
    answer = answerer.ask("ミライAIの最新の利用企業数は何社ですか？")
    first = min(answer.citations, key=lambda c: c.n)
    assert first.date == "2025-04-02" and answer.as_of == "2025-04-02"
    assert "1,200社" in answer.answer and f"2025年4月2日の記事[{first.n}]" in answer.answer


def test_posts_that_disagree_on_what_was_asked_are_shown_with_dates_and_markers(answerer: Answerer) -> None:
    answer = answerer.ask("2025年1月の記事では、ミライAIの売上高はいくらとされていますか？")
    [d] = answer.disagreements
    assert d.measure == "売上高" and {f.subject for f in d.figures} == {"ミライAI"}
    assert [(f.text, f.date) for f in d.figures] == [("120億円", "2025-01-10"), ("150億円", "2025-01-25")]
    cited = {c.source: c for c in answer.citations}
    for f in d.figures:  # every marker in the note is a citation of that post, with a quote holding the value
        assert f"{f.text}（{f.date}）[{cited[f.source].n}]" in answer.answer
        assert cited[f.source].date == f.date and f.text in cited[f.source].quote.replace(",", "")


def test_a_single_value_is_not_a_disagreement(answerer: Answerer) -> None:
    answer = answerer.ask("ミライAIの従業員数は何人ですか？")
    assert answer.disagreements == [] and "値が異なります" not in answer.answer


def test_the_note_is_streamed_as_the_last_delta_and_carried_in_the_json(index: Path) -> None:
    with TestClient(create_app(settings(index))) as c:
        question = {"question": "2025年1月の記事では、ミライAIの売上高はいくらとされていますか？", "stream": True}
        with c.stream("POST", "/v1/ask", json=question) as r:
            events = sse_events(r.read().decode())
        plain = c.post("/v1/ask", json={**question, "stream": False}).json()
    deltas = [str(d["text"]) for e, d in events if e == "delta"]
    done = events[-1][1]
    assert "".join(deltas) == done["answer"] and "値が異なります" in deltas[-1]
    assert done["period"] == {"since": "2025-01-01", "until": "2025-01-31", "label": "2025年1月"}
    assert plain["disagreements"][0]["measure"] == "売上高"
    assert [(v["value"], v["unit"], v["date"]) for v in plain["disagreements"][0]["values"]] == [
        (1.2e10, "jpy", "2025-01-10"), (1.5e10, "jpy", "2025-01-25"),
    ]  # fmt: skip


def test_a_dated_answer_is_replayed_from_the_cache_with_its_dates(index: Path, tmp_path: Path) -> None:
    app = create_app(settings(index, cache_enabled=True, cache_path=tmp_path / "answers.sqlite"))
    question = {"question": "2025年1月の記事では、ミライAIの売上高はいくらとされていますか？"}
    with TestClient(app) as c:
        first, again = c.post("/v1/ask", json=question).json(), c.post("/v1/ask", json=question).json()
    assert again["cached"] is True and first["cached"] is False
    for key in ("answer", "period", "disagreements", "citations"):
        assert again[key] == first[key]

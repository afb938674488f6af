"""The research desk over tests/data/research: one fictional company followed for six months, with
figures that change, two posts that disagree, another company's figures, and a flattened UTC post."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from index.sparse import JapaneseTokenizer
from rag.desk.report import html, markdown
from rag.desk.research import Research, research, topic_terms
from rag.retrieval.engine import Engine
from rag.retrieval.filters import Filters
from rag.settings import Settings
from tests.fakes import fake_embedder

from .conftest import fake_index, settings
from .test_search_cli import rag

FIRST, SECOND, THIRD, OTHER, ABROAD = (
    "2025-01-10-1-ミライai決算.md", "2025-01-25-2-ミライai導入事例.md", "2025-04-02-1-ミライai新モデル.md",
    "2025-04-20-1-他社の動向.md", "2025-06-01-1-ミライai海外展開.md",
)  # fmt: skip


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fake_index(tmp_path_factory, "research", archive="research")


@pytest.fixture(scope="module")
def engine(index: Path) -> Engine:
    return Engine(
        Settings(embedding_model="fake:64", index_dir=index, llm_backend="none"), embedder=fake_embedder("fake:64")
    )


@pytest.fixture(scope="module")
def mirai(engine: Engine) -> Research:
    return research(engine, "ミライAI")


def by_measure(items: list[Any]) -> dict[str, list[tuple[str, float]]]:
    return {m.measure: [(f.date, f.value) for f in m.figures] for m in items}


def test_posts_on_the_topic_come_oldest_first_and_others_are_left_out(mirai: Research) -> None:
    assert [p.source for p in mirai.posts] == [FIRST, SECOND, THIRD, ABROAD]
    assert mirai.posts[0].url == "https://blog.example.jp/2025/01/10/1-ミライai決算/" and mirai.posts[0].snippet


def test_months_are_counted_in_the_site_timezone_with_empty_months_kept(mirai: Research) -> None:
    # the overseas post is dated 2025-05-31 20:00 UTC: June in Tokyo
    assert mirai.timeline == [
        ("2025-01", 2),
        ("2025-02", 0),
        ("2025-03", 0),
        ("2025-04", 1),
        ("2025-05", 0),
        ("2025-06", 1),
    ]
    assert mirai.posts[-1].date == "2025-06-01"


def test_each_figure_has_its_measure_normalized_value_date_and_sentence(mirai: Research) -> None:
    revenue = [f for f in mirai.figures if f.measure == "売上高" and f.unit == "jpy"]
    assert [(f.date, f.value, f.text) for f in revenue] == [
        ("2025-01-10", 1.2e10, "120億円"), ("2025-01-25", 1.5e10, "150億円"), ("2025-04-02", 2e10, "200億円"),
    ]  # fmt: skip
    assert revenue[1].sentence == "業界紙の報道では、ミライAIの売上高は150億円とされています。"
    assert revenue[1].url.endswith("/2025/01/25/2-ミライai導入事例/")


def test_another_companys_figures_and_model_names_are_not_read(mirai: Research) -> None:
    assert all(f.source != OTHER for f in mirai.figures)
    assert not [f for f in mirai.figures if f.value in (4, 3.1, 2)]  # GPT-4o, Llama 3.1, ミライLM 2


def test_changes_give_each_measure_from_several_posts_in_date_order(mirai: Research) -> None:
    changes = by_measure(mirai.changes)
    assert changes["利用企業数"] == [("2025-01-10", 300), ("2025-01-25", 500), ("2025-04-02", 1200)]
    assert changes["パラメータ数"] == [("2025-01-10", 1.3e10), ("2025-04-02", 7e10)]
    assert "従業員数" not in changes  # one post gives it


def test_only_posts_within_31_days_of_each_other_disagree(mirai: Research) -> None:
    disagreements = by_measure(mirai.disagreements)
    assert disagreements["売上高"] == [("2025-01-10", 1.2e10), ("2025-01-25", 1.5e10)]  # April's 200億 is a change
    assert "パラメータ数" not in disagreements  # 130億 and 700億 are 82 days apart


def test_date_filters_narrow_the_posts_and_their_figures(engine: Engine) -> None:
    spring = research(engine, "ミライAI", Filters(since=date(2025, 3, 1)))
    assert [p.source for p in spring.posts] == [THIRD, ABROAD]
    assert {f.date for f in spring.figures} <= {"2025-04-02", "2025-06-01"} and not spring.disagreements


def test_the_html_report_is_one_self_contained_file_linking_every_row(mirai: Research) -> None:
    page = html(mirai)
    assert "<svg" in page and "<script" not in page.lower()
    assert not re.search(r"""(src|href)=['"](?!https://blog\.example\.jp/)""", page)  # nothing else is fetched
    rows = re.findall(r"<tr><td>.*?</tr>", page)
    assert rows and all("href='https://blog.example.jp/" in r for r in rows)


def test_the_markdown_report_shows_the_disagreement_with_normalized_values(mirai: Research) -> None:
    text = markdown(mirai)
    section = text.split("## Disagreements", 1)[1].split("## Changes", 1)[0]
    assert "### 売上高" in section and "120億円" in section and "150億円" in section


def test_rag_research_json_and_reports_from_the_command_line(index: Path, tmp_path: Path) -> None:
    proc = rag("research", "ミライAI", "--index", str(index), "--json", "--md", str(tmp_path / "r.md"),
               "--html", str(tmp_path / "r.html"))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert set(data) == {"topic", "posts", "timeline", "figures", "changes", "disagreements", "took_ms"}
    assert data["timeline"][0] == {"month": "2025-01", "count": 2}
    assert {"measure", "value", "unit", "date", "source", "url", "sentence"} <= set(data["figures"][0])
    assert (tmp_path / "r.md").read_text().startswith("# ミライAI") and "<svg" in (tmp_path / "r.html").read_text()


def test_rag_research_rejects_a_malformed_date(index: Path) -> None:
    proc = rag("research", "ミライAI", "--index", str(index), "--since", "2025/01/01")
    assert proc.returncode == 2 and "YYYY-MM-DD" in proc.stderr


@pytest.fixture
def client(index: Path, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings(index, data_dir=tmp_path))) as c:
        yield c


def test_post_research_returns_the_same_json_as_the_cli(client: TestClient, index: Path) -> None:
    body = client.post("/v1/research", json={"topic": "ミライAI", "since": "2025-01-01", "limit": 50}).json()
    cli = json.loads(rag("research", "ミライAI", "--index", str(index), "--since", "2025-01-01", "--json").stdout)
    body.pop("took_ms"), cli.pop("took_ms")
    assert body == cli and body["disagreements"][0]["measure"] == "売上高"


@pytest.mark.parametrize(
    "body, field",
    [({"topic": ""}, "topic"), ({"topic": "AI", "limit": 0}, "limit"), ({"topic": "AI", "since": "昨年"}, "since")],
)
def test_a_malformed_research_request_is_a_422(client: TestClient, body: dict[str, Any], field: str) -> None:
    r = client.post("/v1/research", json=body)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == field


def test_a_latin_name_is_looked_for_as_written_not_as_its_katakana_reading() -> None:
    terms = topic_terms("Gemini", JapaneseTokenizer())  # the search tokens spell it ジェミニ
    assert any(t in "geminiの月間利用者は3億人に達した。" for t in terms)

"""The desk's data over HTTP: staff keys in, readers and page visitors out; what readers asked over a
period, each answer as its reader saw it, research downloads; suggested questions and the help answer
about the service itself."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app

from .conftest import settings

STAFF = {"Authorization": "Bearer staff-key"}
READER = {"Authorization": "Bearer reader-key"}
OPERATOR = {"Authorization": "Bearer operator-key"}
BLOG = "https://blog.example.jp"
QUESTION = "外観検査AIの導入で検査工数は何%削減されましたか？"


@pytest.fixture
def desk(index: Path, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(settings(index, api_keys=["reader-key"], staff_keys=["staff-key"], admin_keys=["operator-key"],
                              cors_origins=[BLOG], database_url=f"sqlite:///{tmp_path / 'log.sqlite'}"))  # fmt: skip
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_only_staff_and_operators_reach_the_desk(desk: TestClient) -> None:
    assert desk.get("/v1/desk/readers").status_code == 401
    assert desk.get("/v1/desk/readers", headers={"Origin": BLOG}).status_code == 401
    assert desk.get("/v1/desk/readers", headers=READER).status_code == 403
    assert desk.get("/v1/desk/readers", headers=STAFF).status_code == 200
    assert desk.get("/v1/desk/readers", headers=OPERATOR).status_code == 200
    assert desk.post("/v1/admin/reload", headers=STAFF).status_code == 403  # staff are not operators


def test_the_desk_page_holds_no_secret_and_asks_for_the_key(desk: TestClient) -> None:
    page = desk.get("/desk")
    assert page.status_code == 200 and "staff key" in page.text.lower()
    assert "staff-key" not in page.text and "staff-key" not in desk.get("/desk/desk.js").text
    assert "sessionStorage" in desk.get("/desk/desk.js").text  # kept for the browser tab only


def test_what_readers_asked_is_counted_per_day_with_shares_and_rated_answers(desk: TestClient) -> None:
    answers = [desk.post("/v1/ask", json={"question": q}, headers=READER).json()
               for q in (QUESTION, "量子コンピュータの冷却方式は？", QUESTION)]  # fmt: skip
    desk.post("/v1/feedback", json={"answer_id": answers[0]["id"], "rating": "down", "comment": "=1+1"},
              headers=READER)  # fmt: skip
    view = desk.get("/v1/desk/readers", headers=STAFF).json()
    assert view["total"] == 3 and sum(d["count"] for d in view["per_day"]) == 3 and len(view["per_day"]) == 7
    assert abs(sum(view["shares"][k] for k in ("answered", "refused")) - 1.0) < 1e-9
    assert view["ttft_ms"]["p50"] is not None
    [rated] = view["rated"]
    assert rated["rating"] == "down" and rated["comment"] == "=1+1" and rated["question"] == QUESTION
    assert view["gaps"] and any(QUESTION in g["examples"] for g in view["gaps"])  # rated down: a gap
    shown = desk.get(f"/v1/desk/answers/{rated['id']}", headers=STAFF).json()
    assert shown["answer"] == answers[0]["answer"] and shown["citations"][0]["n"] == 1
    assert shown["passages"] == [{k: p[k] for k in ("n", "source", "url", "title", "date", "text")}
                                 for p in answers[0]["passages"]]  # fmt: skip
    assert desk.get("/v1/desk/answers/nope", headers=STAFF).status_code == 404


def test_the_readers_csv_keeps_formulas_as_text(desk: TestClient) -> None:
    answer = desk.post("/v1/ask", json={"question": QUESTION}, headers=READER).json()
    desk.post("/v1/feedback", json={"answer_id": answer["id"], "rating": "down", "comment": "=HYPERLINK(\"x\")"},
              headers=READER)  # fmt: skip
    r = desk.get("/v1/desk/readers.csv", headers=STAFF)
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0][:3] == ["asked_at", "id", "question"] and rows[1][-1] == '\'=HYPERLINK("x")'


def test_research_downloads_in_three_formats(desk: TestClient) -> None:
    for fmt, kind in (("json", "application/json"), ("md", "text/markdown"), ("html", "text/html")):
        r = desk.get("/v1/desk/research", params={"topic": "外観検査AI", "format": fmt}, headers=STAFF)
        assert r.status_code == 200 and r.headers["content-type"].startswith(kind), fmt
        assert "attachment" in r.headers["content-disposition"]
    assert desk.get("/v1/desk/research", params={"topic": "AI"}, headers=READER).status_code == 403


def test_suggestions_are_the_questions_asked_most_and_answered_well(desk: TestClient) -> None:
    assert desk.post("/v1/suggestions", headers={"Origin": BLOG}).json() == {"questions": []}  # an empty log
    for _ in range(2):
        desk.post("/v1/ask", json={"question": QUESTION}, headers=READER)
    desk.app.state.services._suggested = (-1e9, [])  # type: ignore[attr-defined]  # no five-minute wait in a test
    assert desk.post("/v1/suggestions", headers={"Origin": BLOG}).json()["questions"][:1] == [QUESTION]


def test_a_question_about_the_service_gets_a_help_answer_from_the_index(desk: TestClient) -> None:
    r = desk.post("/v1/ask", json={"question": "このサービスは何の記事を検索できますか？"}, headers=READER).json()
    assert r["mode"] == "help" and r["citations"] == [] and not r["refused"]
    assert "件" in r["answer"] and "2025年" in r["answer"]  # how many posts, and from when
    en = desk.post("/v1/ask", json={"question": "What can I ask?"}, headers=READER).json()
    assert en["mode"] == "help" and "posts" in en["answer"]

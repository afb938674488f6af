"""Answers over HTTP carry a log id; readers rate them with POST /v1/feedback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from rag.desk.questionlog import QuestionLog, database_url

from .conftest import settings, sse_events

QUESTION = "外観検査AIの導入で検査工数は何%削減されましたか？"


@pytest.fixture
def client(index: Path, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(settings(index, database_url="", data_dir=tmp_path, api_keys=["reader-key"]))
    with TestClient(app, headers={"Authorization": "Bearer reader-key"}) as c:
        yield c


def _log(tmp_path: Path) -> QuestionLog:
    return QuestionLog(database_url("", tmp_path), keep_days=90)


def test_every_answer_over_http_is_logged_under_the_id_it_returns(client: TestClient, tmp_path: Path) -> None:
    plain = client.post("/v1/ask", json={"question": QUESTION}).json()
    with client.stream("POST", "/v1/ask", json={"question": "存在しない話題について", "stream": True}) as r:
        done = sse_events(r.read().decode())[-1][1]
    chat = client.post(
        "/v1/chat/completions", json={"model": "archive", "messages": [{"role": "user", "content": QUESTION}]}
    )
    ids = [plain["id"], done["id"], chat.json()["answer_id"]]
    entries = {e.id: e for e in _log(tmp_path).entries()}
    assert set(ids) == set(entries) and len(set(ids)) == 3
    assert entries[plain["id"]].question == QUESTION and entries[plain["id"]].mode == plain["mode"]
    assert [c["source"] for c in entries[plain["id"]].cited] == [c["source"] for c in plain["citations"]]


def test_no_client_address_or_key_reaches_the_log(client: TestClient, tmp_path: Path) -> None:
    client.post("/v1/ask", json={"question": QUESTION}, headers={"X-Forwarded-For": "203.0.113.77"})
    log = _log(tmp_path)
    with log.engine.connect() as conn:
        dump = repr(
            [tuple(row) for t in ("qa_questions", "qa_feedback") for row in conn.exec_driver_sql(f"SELECT * FROM {t}")]
        )
    assert QUESTION in dump
    assert "reader-key" not in dump and "203.0.113.77" not in dump and "testclient" not in dump


def test_a_reader_rates_an_answer_by_its_id(client: TestClient, tmp_path: Path) -> None:
    answer_id = client.post("/v1/ask", json={"question": QUESTION}).json()["id"]
    r = client.post("/v1/feedback", json={"answer_id": answer_id, "rating": "down", "comment": "数字が古い"})
    assert r.status_code == 200 and r.json() == {"answer_id": answer_id, "rating": "down"}
    [entry] = _log(tmp_path).entries(rated_only=True)
    assert (entry.id, entry.rating, entry.comment) == (answer_id, "down", "数字が古い")


def test_feedback_for_an_unknown_answer_is_a_404_that_says_why(client: TestClient) -> None:
    r = client.post("/v1/feedback", json={"answer_id": "a" * 32, "rating": "up"})
    assert r.status_code == 404 and r.json()["error"] == "unknown_answer" and "no answer with id" in r.json()["detail"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"answer_id": "a" * 32, "rating": "meh"}, "rating"),
        ({"answer_id": "a" * 32, "rating": "up", "comment": "長" * 1001}, "comment"),
        ({"answer_id": "../etc/passwd", "rating": "up"}, "answer_id"),
        ({"answer_id": "a" * 32, "rating": "up", "ip": "1.2.3.4"}, "ip"),
    ],
)
def test_malformed_feedback_is_a_422_naming_the_field(client: TestClient, body: dict[str, str], field: str) -> None:
    r = client.post("/v1/feedback", json=body)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == field


def test_feedback_needs_a_key_like_asking_does(index: Path, tmp_path: Path) -> None:
    with TestClient(create_app(settings(index, data_dir=tmp_path, api_keys=["reader-key"]))) as c:
        assert c.post("/v1/feedback", json={"answer_id": "a" * 32, "rating": "up"}).status_code == 401

"""The HTTP layer with fakes behind it: routes translate, errors become statuses, limits hold."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from index.ingest import ingest
from tests.fakes import fake_embedder
from tests.options import ingest_options

from .conftest import DATA, settings, sse_events


@pytest.fixture
def client(index: Path) -> Iterator[TestClient]:
    with TestClient(create_app(settings(index))) as c:
        yield c


def test_search_returns_hits_with_the_cli_fields(client: TestClient) -> None:
    r = client.post("/v1/search", json={"query": "外観検査AIの導入効果", "k": 3})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"hits", "took_ms"}
    hit = body["hits"][0]
    assert set(hit) == {"rank", "score", "source", "url", "title", "date", "categories", "tags", "heading", "text"}
    assert hit["source"] == "2025-09-10-3-製造業のai活用事例.md"
    assert r.headers["x-request-id"]


def test_search_filters_apply(client: TestClient) -> None:
    r = client.post("/v1/search", json={"query": "AI", "filters": {"category": "AI規制・政策"}})
    assert {h["source"] for h in r.json()["hits"]} == {"2025-09-04-1-ai規制の動向.md", "2025-09-05-1-ai規制の動向.md"}


def test_ask_returns_the_answer_object(client: TestClient) -> None:
    r = client.post("/v1/ask", json={"question": "外観検査AIの導入で検査工数は何%削減されましたか？"})
    assert r.status_code == 200
    body = r.json()
    assert {"answer", "citations", "refused", "mode", "timings"} <= set(body)
    assert body["mode"] == "generative" and body["citations"][0]["n"] == 1 and "42%" in body["answer"]


def test_ask_streams_sources_deltas_and_done(client: TestClient) -> None:
    with client.stream("POST", "/v1/ask", json={"question": "外観検査AIで工数は何%減った？", "stream": True}) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        events = sse_events(r.read().decode())
    names = [e for e, _ in events]
    assert names[0] == "sources" and names[-1] == "done" and "delta" in names
    deltas = "".join(str(d["text"]) for e, d in events if e == "delta")
    assert deltas == events[-1][1]["answer"]


def test_the_key_passage_is_streamed_before_the_answer_and_kept_in_it(client: TestClient) -> None:
    question = {"question": "外観検査AIの導入で検査工数は何%削減されましたか？", "stream": True}
    with client.stream("POST", "/v1/ask", json=question) as r:
        events = sse_events(r.read().decode())
    names = [e for e, _ in events]
    assert names[:2] == ["sources", "passage"] and names.index("passage") < names.index("delta")
    passage = events[1][1]
    quotes = passage["passages"]
    assert isinstance(quotes, list) and "42%" in quotes[0]["text"] and passage["passage_ms"] > 0
    done = events[-1][1]
    assert done["passages"] == quotes and "passage_ms" in done["timings"]  # type: ignore[operator]
    plain = client.post("/v1/ask", json={**question, "stream": False}).json()
    assert plain["passages"][0]["text"] == quotes[0]["text"] and plain["cached"] is False


def test_a_repeated_question_is_answered_from_the_cache(index: Path, tmp_path: Path) -> None:
    app = create_app(settings(index, cache_enabled=True, cache_path=tmp_path / "answers.sqlite"))
    with TestClient(app) as c:
        question = {"question": "外観検査AIの導入で検査工数は何%削減されましたか？"}
        first = c.post("/v1/ask", json=question).json()
        with c.stream("POST", "/v1/ask", json={**question, "stream": True}) as r:
            events = sse_events(r.read().decode())
    assert [e for e, _ in events] == ["sources", "passage", "delta", "done"]
    again = events[-1][1]
    assert again["cached"] is True and first["cached"] is False
    assert (again["answer"], again["citations"], again["passages"]) == (
        first["answer"],
        first["citations"],
        first["passages"],
    )


def test_openai_compatible_completion_carries_markers_sources_and_citations(client: TestClient) -> None:
    r = client.post(
        "/v1/chat/completions", json={"model": "x", "messages": [{"role": "user", "content": "外観検査AIの効果は？"}]}
    )
    body = r.json()
    content = body["choices"][0]["message"]["content"]
    assert "[1]" in content and "\n\n出典:\n[1] 製造業のAI活用事例" in content
    assert body["citations"][0]["source"] == "2025-09-10-3-製造業のai活用事例.md"
    assert body["usage"]["total_tokens"] > 0


@pytest.mark.parametrize(
    ("payload", "field"),
    [({"question": ""}, "question"), ({"question": "x" * 1001}, "question"), ({"question": "q", "k": 3}, "k")],
)
def test_invalid_requests_are_422_with_the_field_named(
    client: TestClient, payload: dict[str, object], field: str
) -> None:
    r = client.post("/v1/ask", json=payload)
    assert r.status_code == 422
    assert r.json()["error"] == "invalid_request" and r.json()["detail"][0]["field"] == field


def test_an_oversized_body_is_413(client: TestClient) -> None:
    r = client.post(
        "/v1/search", content=b'{"query": "' + b"a" * 1_100_000 + b'"}', headers={"content-type": "application/json"}
    )
    assert r.status_code == 413 and r.json()["error"] == "body_too_large"


def test_health_readiness_and_metrics(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["index_version"].startswith("v")
    client.post("/v1/search", json={"query": "AI"})
    text = client.get("/metrics").text
    for name in ("rag_requests_total", "rag_request_seconds", "rag_queue_depth", "rag_tokens_total", "rag_index_info"):
        assert name in text


def test_widget_and_demo_page_are_served(client: TestClient) -> None:
    js = client.get("/widget.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert "/widget.js" in client.get("/").text


def test_api_keys_when_set(index: Path) -> None:
    with TestClient(create_app(settings(index, api_keys=["s3cret"]))) as c:
        assert c.post("/v1/search", json={"query": "AI"}).status_code == 401
        assert c.post("/v1/search", json={"query": "AI"}, headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert c.post("/v1/search", json={"query": "AI"}, headers={"X-API-Key": "s3cret"}).status_code == 200
        assert c.get("/healthz").status_code == 200


def test_rate_limit_answers_429_with_retry_after(index: Path) -> None:
    with TestClient(create_app(settings(index, rate_limit_per_minute=2))) as c:
        codes = [c.post("/v1/search", json={"query": "AI"}).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        r = c.post("/v1/search", json={"query": "AI"})
        assert int(r.headers["retry-after"]) >= 1 and r.json()["error"] == "rate_limited"


def test_a_full_answer_queue_answers_429(index: Path) -> None:
    with TestClient(create_app(settings(index, queue_size=0))) as c:
        svc = c.app.state.services  # type: ignore[attr-defined]
        with svc.queue.admit():  # one answer already generating, no room to wait
            r = c.post("/v1/ask", json={"question": "外観検査AIの効果は？"})
        assert r.status_code == 429 and r.json()["error"] == "queue_full" and "retry-after" in r.headers


def test_cors_allows_only_listed_origins(index: Path) -> None:
    with TestClient(create_app(settings(index, cors_origins=["https://blog.example.jp"]))) as c:
        ok = c.options(
            "/v1/ask", headers={"Origin": "https://blog.example.jp", "Access-Control-Request-Method": "POST"}
        )
        assert ok.headers["access-control-allow-origin"] == "https://blog.example.jp"
        bad = c.options("/v1/ask", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
        assert "access-control-allow-origin" not in bad.headers


def test_without_an_index_the_service_starts_and_says_why(tmp_path: Path) -> None:
    with TestClient(create_app(settings(tmp_path / "none"))) as c:
        assert c.get("/healthz").status_code == 200
        r = c.get("/readyz")
        assert r.status_code == 503 and r.json()["parts"]["index"] is False and "detail" not in r.json()
        s = c.post("/v1/search", json={"query": "AI"})
        assert s.status_code == 503 and s.json()["error"] == "index_unavailable"
        assert "rag ingest" in s.json()["detail"] and str(tmp_path) not in s.text  # what to do, not where


def test_errors_never_carry_a_stack_trace(index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with TestClient(create_app(settings(index)), raise_server_exceptions=False) as client:
        svc = client.app.state.services  # type: ignore[attr-defined]

        def boom(*a: object, **k: object) -> None:
            raise RuntimeError("secret internal detail")

        monkeypatch.setattr(svc.engine, "search", boom)
        r = client.post("/v1/search", json={"query": "AI"})
    assert r.status_code == 500
    assert "secret" not in r.text and "Traceback" not in r.text and r.json()["error"] == "internal"


def test_an_answer_that_ends_without_a_result_is_not_a_reader_who_left(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Silent:  # a pipeline that stops without its final event, the client still waiting
        def stream(self, *args: object) -> Iterator[object]:
            return iter(())

    monkeypatch.setattr(client.app.state.services, "answerer", Silent)  # type: ignore[attr-defined]
    r = client.post("/v1/ask", json={"question": "外観検査AIの効果は？"})
    assert r.status_code == 503 and r.json()["error"] == "answer_incomplete"
    assert r.headers["retry-after"] == "5"


def test_a_newly_published_index_is_served_without_restart(tmp_path: Path) -> None:
    shutil.copytree(DATA / "archive", tmp_path / "archive")
    idx = tmp_path / "idx"
    ingest(tmp_path / "archive", idx, "fake:64", lambda: fake_embedder("fake:64"), ingest_options())
    with TestClient(create_app(settings(idx, api_keys=["reader"], admin_keys=["k"]))) as c:
        before = c.get("/readyz").json()["index_version"]
        (tmp_path / "archive" / "_posts" / "2026-03-01-1-新記事.md").write_text(
            "---\ntitle: 新しい記事\ndate: 2026-03-01\n---\n\n量子アニーリングの新製品が発表されました。\n",
            encoding="utf-8",
        )
        ingest(tmp_path / "archive", idx, "fake:64", lambda: fake_embedder("fake:64"), ingest_options())
        r = c.post("/v1/admin/reload", headers={"X-API-Key": "k"})
        assert r.json()["switched"] is True and r.json()["index_version"] != before
        hits = c.post("/v1/search", json={"query": "量子アニーリング"}, headers={"X-API-Key": "reader"}).json()["hits"]
        assert hits[0]["source"] == "2026-03-01-1-新記事.md"


def test_an_oversized_body_without_a_length_is_stopped_while_it_arrives(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"query": "'
        for _ in range(200):
            yield b"a" * 10_000
        yield b'"}'

    r = client.post("/v1/search", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"] == "body_too_large"

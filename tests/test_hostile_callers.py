"""Hostile callers: a page visitor is not a researcher, a flood from one caller never shuts out another,
a client that leaves stops costing anything, one question limit on every endpoint, reports that are
safe to open, and nothing of the server's insides in a public answer."""

from __future__ import annotations

import contextlib
import csv
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.queue import GenerationQueue, QueueFull
from rag.desk.escaping import csv_cell, markdown_link, safe_url
from rag.llm.gate import ModelGate

from .conftest import readers_who_leave, settings
from .servers import rag_server

BLOG = "https://blog.example.jp"


@pytest.fixture
def keyed(index: Path) -> Iterator[TestClient]:
    app = create_app(settings(index, api_keys=["reader"], admin_keys=["operator"], cors_origins=[BLOG],
                              rate_limit_per_minute=120, public_rate_limit_per_minute=5))  # fmt: skip
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_a_page_visitor_reaches_only_what_the_widget_uses(keyed: TestClient) -> None:
    page = {"Origin": BLOG}
    assert keyed.post("/v1/search", json={"query": "AI"}, headers=page).status_code == 200
    research = keyed.post("/v1/research", json={"topic": "AI"}, headers=page)
    assert research.status_code == 401 and "API key" in research.json()["detail"]
    assert keyed.post("/v1/research", json={"topic": "AI"}, headers={"X-API-Key": "reader"}).status_code == 200
    chat = keyed.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "AI?"}]}, headers=page)
    assert chat.status_code == 401


def test_a_page_visitor_has_its_own_lower_rate(keyed: TestClient) -> None:
    page = {"Origin": BLOG}
    codes = [keyed.post("/v1/search", json={"query": "AI", "k": 1}, headers=page).status_code for _ in range(8)]
    assert codes.count(200) <= 5 and codes[-1] == 429  # RAG_PUBLIC_RATE_LIMIT_PER_MINUTE=5
    assert keyed.post("/v1/search", json={"query": "AI"}, headers={"X-API-Key": "reader"}).status_code == 200


def test_one_caller_holds_at_most_its_share_of_the_queue() -> None:
    queue = GenerationQueue(max_waiting=8, per_caller=2)
    with queue.admit("flood"), queue.admit("flood"):
        with pytest.raises(QueueFull, match="RAG_QUEUE_PER_CALLER"):
            queue.check("flood")
        queue.check("someone else")  # room for everyone else


def test_the_gate_serves_another_callers_first_question_before_a_flood() -> None:
    gate = ModelGate(1, poll_s=0.005)
    order: list[str] = []
    release = threading.Event()

    def ask(who: str) -> None:
        with gate.enter(lambda: False, who):
            order.append(who)
            if who == "first":
                release.wait(5)

    first = threading.Thread(target=ask, args=("first",))
    first.start()
    while gate.busy == 0:
        time.sleep(0.001)
    flood = [threading.Thread(target=ask, args=("flood",)) for _ in range(4)]
    for t in flood:
        t.start()
    while gate.waiting < 4:
        time.sleep(0.001)
    other = threading.Thread(target=ask, args=("other",))
    other.start()
    while gate.waiting < 5:
        time.sleep(0.001)
    release.set()
    for t in [first, *flood, other]:
        t.join(5)
    assert order.index("other") <= 2, order  # after the one being answered and the flood's next, at most


@pytest.mark.timeout(300)
def test_abandoned_non_streamed_answers_free_the_queue(index: Path) -> None:
    env = {"RAG_INDEX_DIR": str(index), "RAG_EMBEDDING_MODEL": "fake:64", "RAG_LLM_BACKEND": "fake:slow",
           "RAG_CACHE_ENABLED": "false", "RAG_RATE_LIMIT_PER_MINUTE": "0", "RAG_API_KEYS": "flood,reader",
           "RAG_QUEUE_SIZE": "8"}  # fmt: skip
    with rag_server(env, fakes=True) as base:

        def abandon() -> None:
            with contextlib.suppress(httpx.TimeoutException):  # the client leaves without reading the answer
                httpx.post(f"{base}/v1/ask", json={"question": "外観検査AIの効果は？"}, timeout=0.3,
                           headers={"X-API-Key": "flood"})  # fmt: skip

        threads = [threading.Thread(target=abandon) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        time.sleep(1.0)  # the departed requests notice within a poll or two
        r = httpx.post(f"{base}/v1/ask", json={"question": "外観検査AIの効果は？"}, timeout=60,
                       headers={"X-API-Key": "reader"})  # fmt: skip
        assert r.status_code == 200, r.text
        assert r.json()["timings"].get("queue_ms", 0) < 3000  # it did not wait behind twelve dead answers


def test_the_question_limit_counts_every_part_of_a_chat_message(keyed: TestClient) -> None:
    parts = [{"type": "text", "text": "a" * 3000} for _ in range(300)]
    r = keyed.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": parts}]},
                   headers={"X-API-Key": "reader"})  # fmt: skip
    assert r.status_code in (413, 422)  # 900,000 characters: over the body limit or the question limit
    two = [{"type": "text", "text": "あ" * 600}, {"type": "text", "text": "い" * 600}]
    r = keyed.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": two}]},
                   headers={"X-API-Key": "reader"})  # fmt: skip
    assert r.status_code == 422 and "1,000" in r.text


def test_an_earlier_question_in_the_history_has_the_same_limit(keyed: TestClient) -> None:
    body = {"question": "それは？", "history": [{"role": "user", "content": "あ" * 1500}]}
    r = keyed.post("/v1/ask", json=body, headers={"X-API-Key": "reader"})
    assert r.status_code == 422 and "1,000" in r.text


def test_only_http_links_survive_in_reports() -> None:
    assert safe_url("javascript:alert(1)") == "" and safe_url("https://x.jp/a") == "https://x.jp/a"
    assert safe_url("https://x.jp/a' onmouseover='x") == ""
    assert markdown_link("[evil](javascript:x)", "javascript:x") == r"\[evil\]\(javascript:x\)"


def test_a_research_report_never_links_a_javascript_permalink(tmp_path: Path) -> None:
    from rag.desk.report import html, markdown
    from rag.desk.research import Figure, MeasureFigures, Research, ResearchPost

    post = ResearchPost("2025-09-01", "javascript:alert(1)", "題 [x](javascript:y)", "a.md", "本文")
    figure = Figure("売上高", 1e10, "jpy", "100億円", "2025-09-01", "a.md", "javascript:alert(1)", "売上高は100億円。")
    r = Research("t", [post], [("2025-09", 1)], [figure], [MeasureFigures("売上高", [figure])], [], 1.0)
    assert "javascript" not in html(r).split("<body>", 1)[1].replace("題 [x](javascript:y)", "")
    assert "](javascript" not in markdown(r)


def test_a_formula_in_a_comment_stays_text_in_the_csv(tmp_path: Path) -> None:
    cells = [csv_cell(v) for v in ('=HYPERLINK("http://evil.example","x")', "+1", "-1", "@a", "\tx", "ok")]
    path = tmp_path / "f.csv"
    with path.open("w", newline="") as f:
        csv.writer(f).writerow(cells)
    row = next(csv.reader(path.open()))
    assert all(c.startswith("'") for c in row[:5]) and row[5] == "ok"


def test_readiness_without_an_operator_key_names_parts_not_paths(keyed: TestClient, index: Path) -> None:
    public = keyed.get("/readyz").json()
    assert public["status"] == "ready" and set(public["parts"]) == {"index", "embedder", "llm"}
    assert str(index) not in keyed.get("/readyz").text and "llm" not in {k for k in public if k != "parts"}
    full = keyed.get("/readyz", headers={"X-API-Key": "operator"}).json()
    assert "embedder" in full and "llm" in full


def test_a_reader_who_left_while_waiting_for_a_core_costs_no_retrieval(index: Path) -> None:
    from rag.answering.pipeline import Answerer
    from rag.retrieval.engine import Engine
    from rag.settings import Settings
    from tests.fakes import ScriptedLLM
    from tests.options import answer_config

    engine = Engine(Settings(embedding_model="fake:64"), index=index)
    searched: list[str] = []
    real_search = engine.search
    engine.search = lambda q, *a, **k: (searched.append(q), real_search(q, *a, **k))[1]  # type: ignore[method-assign]
    prepare = ModelGate(1, poll_s=0.005)
    with prepare.enter(lambda: False, "someone") as held:  # the core is taken
        assert held
        readers_who_leave(
            prepare,
            lambda n, cancel: Answerer(engine, ScriptedLLM("fake:quote"), answer_config(), prepare=prepare).stream(
                f"質問{n}", cancel=cancel
            ),
        )
    assert searched == []  # none of the twelve searched, embedded or scored anything

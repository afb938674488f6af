"""`make test-scale`: nginx → two replicas sharing Redis and PostgreSQL, one LLM server, all real."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from .conftest import GGUF, fake_index
from .scale import Topology, requests_served, topology

RATE = 60  # per key and minute, counted across the replicas
QUESTION = "外観検査AIの導入で検査工数は何%削減されましたか？"
pytestmark = pytest.mark.scale


@pytest.fixture(scope="module")
def scale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    with topology(fake_index(tmp_path_factory, "scale"), GGUF, RATE) as t:
        yield t


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_searches_through_nginx_reach_both_replicas(scale: Topology) -> None:
    before = [requests_served(r) for r in scale.replicas]
    with httpx.Client(base_url=scale.front, headers=auth(scale.keys[0]), timeout=30) as c:
        codes = [c.post("/v1/search", json={"query": "外観検査AI", "k": 3}).status_code for _ in range(20)]
    assert codes == [200] * 20
    assert all(after > b for after, b in zip([requests_served(r) for r in scale.replicas], before, strict=True))


def test_a_client_is_limited_across_both_replicas_together(scale: Topology) -> None:
    with httpx.Client(base_url=scale.front, headers=auth(scale.keys[1]), timeout=30) as c:
        codes = [c.post("/v1/search", json={"query": "AI", "k": 1}).status_code for _ in range(RATE + 20)]
    print(f"rate limit across replicas: {codes.count(200)} of {len(codes)} passed, quota {RATE}")  # for the record
    assert abs(codes.count(200) - RATE) <= RATE * 0.05 and codes.count(429) == len(codes) - codes.count(200)


def test_both_replicas_serve_the_one_shared_index(scale: Topology) -> None:
    versions = {httpx.get(f"{r}/readyz", timeout=10).json()["index_version"] for r in scale.replicas}
    assert len(versions) == 1


def test_an_answer_cached_through_one_replica_is_a_hit_on_the_other_and_both_are_logged(scale: Topology) -> None:
    first = httpx.post(f"{scale.replicas[0]}/v1/ask", json={"question": QUESTION}, headers=auth(scale.keys[2]),
                       timeout=600).json()  # fmt: skip
    again = httpx.post(f"{scale.replicas[1]}/v1/ask", json={"question": QUESTION}, headers=auth(scale.keys[2]),
                       timeout=60).json()  # fmt: skip
    assert first["cached"] is False and again["cached"] is True and again["answer"] == first["answer"]
    through = httpx.post(f"{scale.front}/v1/ask", json={"question": QUESTION}, headers=auth(scale.keys[2]),
                         timeout=60).json()  # fmt: skip
    assert through["cached"] is True
    with psycopg.connect(scale.database_url) as db:
        logged = {row[0] for row in db.execute("SELECT id FROM qa_questions WHERE question = %s", (QUESTION,))}
    assert {first["id"], again["id"], through["id"]} <= logged


def test_killing_a_replica_under_a_60_second_load_fails_no_request_but_an_ask_it_was_answering(
    scale: Topology,
) -> None:
    """Readers spread over four keys (each under its quota) search and ask for a minute; one replica is
    killed with SIGKILL a third of the way in. nginx retries on the other what never reached the dead one,
    and any search; an ask the dead replica was already answering is not repeated (it was logged and
    generated there), so only such an ask may fail, with a 502."""
    results: list[tuple[str, int, float, float]] = []  # (kind, status, sent, answered)
    errors: list[str] = []
    stop = time.monotonic() + 60

    def reader(key: str, ask: bool) -> None:
        with httpx.Client(base_url=scale.front, headers=auth(key), timeout=120) as c:
            while time.monotonic() < stop:
                sent = time.monotonic()
                try:
                    if ask:
                        r = c.post("/v1/ask", json={"question": QUESTION})
                    else:
                        r = c.post("/v1/search", json={"query": "生成AI 市場", "k": 5})
                    results.append(("ask" if ask else "search", r.status_code, sent, time.monotonic()))
                except httpx.HTTPError as exc:
                    errors.append(repr(exc))
                time.sleep(60 / (RATE * 0.8))  # under the per-key quota

    threads = [threading.Thread(target=reader, args=(k, i == 0)) for i, k in enumerate(scale.keys[3:6])]
    for t in threads:
        t.start()
    time.sleep(20)
    killed = time.monotonic()
    scale.processes[0].send_signal(signal.SIGKILL)
    for t in threads:
        t.join()
    failed = [(kind, code) for kind, code, sent, answered in results if code != 200]
    in_flight = [(kind, code) for kind, code, sent, answered in results if code != 200 and sent <= killed <= answered]
    print(f"replica killed under load: {len(results)} requests, {len(errors)} errors, failed {failed}")
    assert errors == [] and results and len(results) > 40, errors
    assert failed == in_flight and all(kind == "ask" and code == 502 for kind, code in failed), failed

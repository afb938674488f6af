"""Two replicas sharing a real Redis: one quota per client across both, one answer cache."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from api.main import create_app

from .conftest import settings
from .redis_server import redis_server

QUESTION = "外観検査AIの導入で検査工数は何%削減されましたか？"


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


def replicas(index: Path, tmp_path: Path, redis_url: str, **over: object) -> list[TestClient]:
    redis.Redis.from_url(redis_url).flushdb()
    return [
        TestClient(create_app(settings(index, redis_url=redis_url, data_dir=tmp_path / f"r{i}", **over)))
        for i in range(2)
    ]


def test_a_client_gets_its_quota_once_across_two_replicas(index: Path, tmp_path: Path, redis_url: str) -> None:
    a, b = replicas(index, tmp_path, redis_url, rate_limit_per_minute=10)
    with a, b:
        codes = [(a if i % 2 else b).post("/v1/search", json={"query": "AI"}).status_code for i in range(20)]
        refused = b.post("/v1/search", json={"query": "AI"})
    assert codes.count(200) == 10 and codes.count(429) == 10
    assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 60


def test_an_answer_cached_through_one_replica_is_a_hit_on_the_other(
    index: Path, tmp_path: Path, redis_url: str
) -> None:
    a, b = replicas(index, tmp_path, redis_url, cache_enabled=True)
    with a, b:
        first = a.post("/v1/ask", json={"question": QUESTION}).json()
        second = b.post("/v1/ask", json={"question": QUESTION}).json()
    assert first["cached"] is False and second["cached"] is True
    assert second["answer"] == first["answer"] and second["citations"] == first["citations"]

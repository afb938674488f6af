"""No Docker engine runs here, so the compose file and Dockerfile are checked as data."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).parents[1]


def compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def test_the_api_service_mounts_index_and_archive_and_checks_readiness() -> None:
    api = compose()["services"]["api"]
    mounts = {re.search(r":(/[^:]+)(?::r[ow])?$", v).group(1) for v in api["volumes"]}  # type: ignore[union-attr]
    assert {"/archive", "/data"} <= mounts
    assert api["environment"]["RAG_INDEX_DIR"].startswith("/data")
    assert api["environment"]["RAG_ARCHIVE"] == "/archive"
    assert any("/readyz" in part for part in api["healthcheck"]["test"])
    assert api["ports"] == ["${PUBLISH_ADDR:-127.0.0.1}:8000:8000"]  # loopback unless the operator says so


def test_no_service_is_published_beyond_loopback_by_default() -> None:
    published = [p for svc in compose()["services"].values() for p in svc.get("ports", [])]
    assert published and all(str(p).startswith("${PUBLISH_ADDR:-127.0.0.1}:") for p in published)


def test_ollama_is_optional_and_reachable_through_the_llm_url() -> None:
    c = compose()
    assert c["services"]["ollama"]["profiles"] == ["ollama"]
    assert "RAG_LLM_URL" in c["services"]["api"]["environment"]
    assert set(c["volumes"]) >= {"index-data", "ollama-models"}


def test_the_image_runs_the_same_install_and_serves() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "make install" in dockerfile and '"serve"' in dockerfile
    for path in ("index", "rag", "api"):
        assert f"COPY {path} ./{path}" in dockerfile


def test_the_scale_profile_puts_nginx_before_two_replicas_sharing_redis_postgres_and_one_llm_server() -> None:
    services = compose()["services"]
    scale = {name for name, svc in services.items() if svc.get("profiles") == ["scale"]}
    assert scale == {"nginx", "replica", "indexer", "llm", "redis", "postgres"}
    replica = services["replica"]
    assert replica["deploy"]["replicas"] == 2
    assert replica["volumes"] == ["index-data:/data:ro"]  # the index is shared read-only; the indexer writes it
    env = replica["environment"]
    assert env["RAG_REDIS_URL"].startswith("redis://redis:") and env["RAG_DATABASE_URL"].startswith("postgresql://")
    assert env["RAG_LLM_URL"] == "http://llm:8080"
    assert "server replica:8000" in services["nginx"]["environment"]["RAG_UPSTREAMS"]
    assert all("healthcheck" in services[s] for s in ("replica", "llm", "redis", "postgres"))
    assert "--watch" in services["indexer"]["command"] and "index-data:/data" in services["indexer"]["volumes"]
    template = (ROOT / "deploy" / "nginx-rag.conf.template").read_text(encoding="utf-8")
    assert "${RAG_UPSTREAMS}" in template and "proxy_next_upstream error timeout;" in template
    asks = template.split("location / {", 1)[1].split("}", 1)[0]
    rules = [line.strip() for line in asks.splitlines() if line.strip().startswith("proxy_next_upstream")]
    assert rules == ["proxy_next_upstream error timeout;"]  # an ask once sent is never repeated elsewhere

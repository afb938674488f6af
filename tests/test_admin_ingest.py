"""The index kept current from inside the service: POST /v1/admin/ingest and the archive watch ingest
through the loaded embedder and serve the new version at once."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from index.ingest import ingest
from tests.fakes import fake_embedder
from tests.options import ingest_options

from .conftest import DATA, settings

POST = "_posts/2025-09-03-1-llm推論コスト.md"
WORD = "ズッキーニ計画"
OPERATOR = {"Authorization": "Bearer op-key"}


@pytest.fixture
def site(tmp_path: Path) -> tuple[Path, Path]:
    archive, index = tmp_path / "archive", tmp_path / "idx"
    shutil.copytree(DATA / "archive", archive)
    ingest(archive, index, "fake:64", lambda: fake_embedder("fake:64"), ingest_options())
    return archive, index


def edit(archive: Path) -> None:
    path = archive / POST
    path.write_text(path.read_text(encoding="utf-8") + f"\n\n社内では{WORD}と呼ばれています。\n", encoding="utf-8")


def found(client: TestClient) -> bool:
    hits = client.post("/v1/search", json={"query": WORD, "k": 1}, headers=OPERATOR).json()["hits"]
    return bool(hits) and WORD in hits[0]["text"]


@pytest.fixture
def client(site: tuple[Path, Path], tmp_path: Path) -> Iterator[TestClient]:
    archive, index = site
    app = create_app(settings(index, archive=archive, data_dir=tmp_path, api_keys=["reader"], admin_keys=["op-key"]))
    with TestClient(app) as c:
        yield c


def test_an_edited_post_is_searchable_when_the_ingest_request_returns(
    client: TestClient, site: tuple[Path, Path]
) -> None:
    before = client.get("/readyz").json()["index_version"]
    edit(site[0])
    r = client.post("/v1/admin/ingest", headers=OPERATOR)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["state"] == "done" and body["summary"]["posts_updated"] == 1 and body["index_version"] != before
    assert found(client)
    assert client.get("/v1/admin/ingest", headers=OPERATOR).json()["last"]["summary"]["posts_updated"] == 1


def test_ingesting_needs_an_operator_key(client: TestClient) -> None:
    assert client.post("/v1/admin/ingest").status_code == 401
    assert client.post("/v1/admin/ingest", headers={"Authorization": "Bearer reader"}).status_code == 403


def test_without_an_archive_the_request_says_which_setting_is_missing(site: tuple[Path, Path], tmp_path: Path) -> None:
    # archive=None: the test run may have RAG_ARCHIVE in its environment (CI sets it)
    with TestClient(create_app(settings(site[1], archive=None, data_dir=tmp_path, admin_keys=["op-key"]))) as c:
        r = c.post("/v1/admin/ingest", headers=OPERATOR)
    assert r.status_code == 409 and "RAG_ARCHIVE" in r.json()["detail"]


def test_a_failed_ingest_keeps_the_previous_version_served(client: TestClient, site: tuple[Path, Path]) -> None:
    before = client.get("/readyz").json()["index_version"]
    shutil.rmtree(site[0] / "_posts")
    r = client.post("/v1/admin/ingest", headers=OPERATOR)
    assert r.status_code == 503 and "previous version is still served" in r.json()["detail"]
    assert client.get("/readyz").json()["index_version"] == before


def test_the_watched_archive_is_ingested_when_a_post_changes(site: tuple[Path, Path], tmp_path: Path) -> None:
    archive, index = site
    app = create_app(settings(index, archive=archive, data_dir=tmp_path, watch_archive=True, watch_archive_s=0.1,
                              admin_keys=["op-key"]))  # fmt: skip
    with TestClient(app) as c:
        assert not found(c)
        edit(archive)
        deadline = time.monotonic() + 20
        while not found(c):
            assert time.monotonic() < deadline, "the edit was never ingested"
            time.sleep(0.1)
        assert c.get("/v1/admin/ingest", headers=OPERATOR).json()["last"]["trigger"] == "watch"

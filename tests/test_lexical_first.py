"""A fresh ingest publishes in two stages: BM25 only as soon as the posts are read, then the full
index once every chunk has its vector; the service answers from the first and says so."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from index.ingest import ingest
from index.store import IndexFolder, Manifest
from rag.retrieval.engine import Engine
from rag.settings import Settings
from tests.fakes import HashingEmbedder
from tests.options import ingest_options

from .conftest import DATA, settings


class Watching(HashingEmbedder):
    """Looks at what is published each time it is asked to embed."""

    def __init__(self, index: Path) -> None:
        super().__init__("fake:64")
        self.index, self.seen = index, []

    def embed_documents(self, texts):  # type: ignore[no-untyped-def]
        current = IndexFolder(self.index).current()
        self.seen.append(Manifest.read(current).extra.get("lexical_only") if current else None)
        return super().embed_documents(texts)


def test_the_lexical_version_is_served_while_the_vectors_are_computed(tmp_path: Path) -> None:
    index = tmp_path / "idx"
    embedder = Watching(index)
    summary = ingest(DATA / "archive", index, "fake:64", lambda: embedder, ingest_options(), batch_texts=4)
    assert embedder.seen and set(embedder.seen) == {True}  # every embedding happened with BM25 already out
    final = Manifest.read(IndexFolder(index).require_current())
    assert not final.extra.get("lexical_only") and final.chunks == summary.chunks_total
    versions = [p for p in (index / "versions").iterdir() if not p.name.startswith(".")]
    assert len(versions) == 2  # the lexical stage, then the full one


def test_an_ingest_stopped_after_the_lexical_stage_is_completed_by_the_next(tmp_path: Path) -> None:
    index = tmp_path / "idx"
    broken = HashingEmbedder("fake:64")
    broken.fail_after = 3
    with pytest.raises(RuntimeError, match="simulated crash"):
        ingest(DATA / "archive", index, "fake:64", lambda: broken, ingest_options(), batch_texts=2)
    assert Manifest.read(IndexFolder(index).require_current()).extra["lexical_only"] is True
    summary = ingest(DATA / "archive", index, "fake:64", lambda: HashingEmbedder("fake:64"), ingest_options())
    engine = Engine(Settings(embedding_model="fake:64", index_dir=index), embedder=HashingEmbedder("fake:64"))
    assert engine.retriever.snapshot.dense.ntotal == summary.chunks_total > 0
    assert not engine.retriever.lexical_only


def test_the_service_answers_from_the_lexical_version_and_says_so(tmp_path: Path) -> None:
    index = tmp_path / "idx"
    broken = HashingEmbedder("fake:64")
    broken.fail_after = 0
    with pytest.raises(RuntimeError):
        ingest(DATA / "archive", index, "fake:64", lambda: broken, ingest_options())
    with TestClient(create_app(settings(index, data_dir=tmp_path))) as c:
        ready = c.get("/readyz").json()
        hits = c.post("/v1/search", json={"query": "外観検査AI 工数削減", "k": 3}).json()["hits"]
    assert "lexical only" in ready["retrieval"]
    assert hits and hits[0]["source"] == "2025-09-10-3-製造業のai活用事例.md"
    assert np.isfinite([h["score"] for h in hits]).all()

"""The retriever adapter inside a LlamaIndex pipeline."""

from __future__ import annotations

import shutil
from pathlib import Path

from index.ingest import ingest
from rag.retrieval.engine import Engine
from rag.retrieval.filters import Filters
from rag.retrieval.llamaindex import ArchiveRetriever
from rag.settings import Settings
from tests.fakes import fake_embedder
from tests.options import ingest_options

from .conftest import DATA


def test_llamaindex_gets_one_node_per_post_with_its_metadata(tmp_path: Path) -> None:
    shutil.copytree(DATA / "archive", tmp_path / "archive")
    ingest(tmp_path / "archive", tmp_path / "idx", "fake:64", lambda: fake_embedder("fake:64"), ingest_options())
    engine = Engine(Settings(embedding_model="fake:64", index_dir=tmp_path / "idx"))
    nodes = ArchiveRetriever(engine, k=3).retrieve("外観検査AIの導入効果")
    assert len(nodes) == 3 and len({n.node.metadata["source"] for n in nodes}) == 3
    top = nodes[0].node
    assert top.metadata["url"] == "https://blog.example.jp/2025/09/10/3-製造業のai活用事例/"
    assert "外観検査" in top.get_content()
    regulation = ArchiveRetriever(engine, k=5, filters=Filters(category="AI規制・政策")).retrieve("AI")
    assert {n.node.metadata["source"] for n in regulation} == {
        "2025-09-04-1-ai規制の動向.md",
        "2025-09-05-1-ai規制の動向.md",
    }

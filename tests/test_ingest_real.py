"""Ingestion end to end with the real default embedder (multilingual-e5-small converted at install)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index.embedding import DEFAULT_EMBEDDER, SentenceTransformerEmbedder
from index.ingest import ingest
from index.snapshot import Snapshot
from tests.options import embedder_options, ingest_options

from .conftest import models_dir


class CountingEmbedder:
    def __init__(self, inner: SentenceTransformerEmbedder) -> None:
        self.inner, self.name, self.dim, self.embedded = inner, inner.name, inner.dim, 0

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        self.embedded += len(texts)
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)


@pytest.fixture(scope="module")
def e5() -> CountingEmbedder:
    return CountingEmbedder(
        SentenceTransformerEmbedder.load(DEFAULT_EMBEDDER, embedder_options(models_dir=models_dir(), threads=2))
    )


def top_source(index: Path, e5: CountingEmbedder, question: str) -> str:
    snap = Snapshot.open(index, embedder=e5.name, dim=e5.dim)
    try:
        (cid, _), *_ = snap.search_dense(e5.embed_query(question), 1)
        return snap.post_of(cid).source
    finally:
        snap.close()


def test_ingest_reingest_edit_delete_with_the_real_embedder(
    archive: Path, tmp_path: Path, e5: CountingEmbedder
) -> None:
    index = tmp_path / "idx"

    def run() -> tuple[int, int, int, int]:
        e5.embedded = 0
        s = ingest(archive, index, e5.name, lambda: e5, ingest_options())  # type: ignore[arg-type,return-value]
        assert s.chunks_embedded == e5.embedded
        return s.posts_added, s.posts_updated, s.posts_removed, s.chunks_embedded

    added, _, _, embedded = run()
    assert added == 9 and embedded > 9
    assert Snapshot.open(index).manifest.dim == 384
    assert top_source(index, e5, "外観検査AIで検査工数はどれだけ減りましたか？").startswith("2025-09-10-3-")
    assert top_source(index, e5, "How much did quantization cut LLM inference cost?").startswith("2025-09-03-1-")

    assert run() == (0, 0, 0, 0)

    post = next((archive / "_posts").glob("2026-01-15-2-*.md"))
    post.write_text(post.read_text(encoding="utf-8").replace("41%から63%", "41%から68%"), encoding="utf-8")
    assert run() == (0, 1, 0, 1)

    post.unlink()
    assert run() == (0, 0, 1, 0)
    assert not top_source(index, e5, "強化学習で数学の正答率はどれだけ上がった？").startswith("2026-01-15-2-")


def test_a_hub_model_that_is_not_downloaded_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from index.embedding import load_embedder
    from index.errors import ModelNotFound

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(ModelNotFound, match=r"could not be loaded offline.*huggingface-cli download"):
        load_embedder("intfloat/multilingual-e5-base", embedder_options(models_dir=tmp_path))


def test_the_default_embedder_missing_says_to_run_make_install(tmp_path: Path) -> None:
    from index.embedding import load_embedder
    from index.errors import ModelNotFound

    with pytest.raises(ModelNotFound, match='run "make install"'):
        load_embedder(DEFAULT_EMBEDDER, embedder_options(models_dir=tmp_path))

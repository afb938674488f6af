from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.install import gguf
from tests import fakes
from tests.options import ingest_options

from .servers import child_server, free_port, llama_cpp_server_cmd

DATA = Path(__file__).parent / "data"
fakes.register()


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """A private copy of the sample archive, free to edit."""
    dest = tmp_path / "archive"
    shutil.copytree(DATA / "archive", dest)
    return dest


@pytest.fixture
def fake() -> Iterator[fakes.HashingEmbedder]:
    emb = fakes.fake_embedder("fake:64")
    emb.embedded, emb.fail_after = 0, None
    yield emb
    emb.fail_after = None


def models_dir() -> Path:
    return Path(os.environ.get("RAG_MODELS_DIR") or Path(__file__).parents[1] / "data" / "models")


def fake_index(factory: pytest.TempPathFactory, name: str, archive: str = "archive") -> Path:
    """A sample archive ingested with the fake embedder, in a fresh folder; returns the index folder."""
    from index.ingest import ingest

    root = factory.mktemp(name)
    shutil.copytree(DATA / archive, root / "archive")
    ingest(root / "archive", root / "idx", "fake:64", lambda: fakes.fake_embedder("fake:64"), ingest_options())
    return root / "idx"


GGUF = models_dir() / gguf.DEFAULT_NAME


@pytest.fixture(scope="session")
def llama_server() -> Iterator[str]:
    """llama-cpp-python's own OpenAI-compatible server on the installed GGUF: the HTTP backend's peer."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with child_server(llama_cpp_server_cmd(GGUF, port), url, "/v1/models", "llama-server-"):
        yield url

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rag.install import gguf
from rag.llm.gate import ModelGate
from rag.settings import Settings
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


@pytest.fixture(scope="module")
def index(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample archive ingested with the fake embedder, once per test module."""
    return fake_index(tmp_path_factory, request.module.__name__.rsplit(".", 1)[-1])


def settings(index: Path, **over: object) -> Settings:
    """An app's settings on `index`: the fake embedder and scripted model, no rate limit, no answer cache,
    the question log beside the index; `over` changes any of them."""
    base: dict[str, object] = dict(
        embedding_model="fake:64", index_dir=index, llm_backend="fake:quote", watch_index_s=0,
        rate_limit_per_minute=0, cache_enabled=False,
        database_url=f"sqlite:///{index.parent / 'questions.sqlite'}",
    )  # fmt: skip
    return Settings(**{**base, **over})  # type: ignore[arg-type]


def sse_events(text: str) -> list[tuple[str, dict[str, object]]]:
    """(event, data) of each frame of a `POST /v1/ask` stream, read whole."""
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def readers_who_leave(gate: ModelGate, start: Callable[[int, threading.Event], Iterator[object]], n: int = 12) -> None:
    """`n` answer streams (`start(i, cancel)`) run in threads; once all `n` wait at `gate`, every reader
    leaves (its cancel is set). Returns when their threads have ended."""
    departed = []
    for i in range(n):
        cancel = threading.Event()
        stream = start(i, cancel)
        thread = threading.Thread(target=lambda s=stream: list(s))
        thread.start()
        departed.append((cancel, thread))
    while gate.waiting < n:
        time.sleep(0.002)
    for cancel, _ in departed:
        cancel.set()
    for _, thread in departed:
        thread.join(5)


GGUF = models_dir() / gguf.DEFAULT_NAME


@pytest.fixture(scope="session")
def llama_server() -> Iterator[str]:
    """llama-cpp-python's own OpenAI-compatible server on the installed GGUF: the HTTP backend's peer."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with child_server(llama_cpp_server_cmd(GGUF, port), url, "/v1/models", "llama-server-"):
        yield url

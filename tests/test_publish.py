"""A published version is whole on disk before it is named, leftovers of killed publishes go, and the
server's watcher neither reloads the model while waiting for an index nor dies on a corrupt one."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest

from api.services import Services
from index.ingest import ingest
from index.store import DENSE, IndexFolder
from rag.settings import Settings
from tests.fakes import fake_embedder
from tests.options import ingest_options

from .conftest import DATA
from .waiting import eventually


def test_every_file_of_a_version_is_synced_before_current_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    (tmp_path / "idx").mkdir()
    (tmp_path / "idx" / ".CURRENT.0123abcd").write_text("v-stale\n")  # a publish killed before its rename
    ingest(DATA / "archive", tmp_path / "idx", "fake:64", lambda: fake_embedder("fake:64"), ingest_options())
    names = [Path(p).name for p in synced]
    current = next(i for i, n in enumerate(names) if n.startswith(".CURRENT."))
    for needed in (DENSE, "sparse.npz", "docstore.sqlite", "manifest.json"):
        assert needed in names[:current], f"{needed} not synced before CURRENT"
    assert not list((tmp_path / "idx").glob(".CURRENT.*"))


def test_waiting_for_a_first_index_loads_the_embedder_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loads = []
    import api.services as services

    real = services.settings_embedder
    monkeypatch.setattr(services, "settings_embedder", lambda *a: loads.append(1) or real(*a))
    settings = Settings(embedding_model="fake:64", index_dir=tmp_path / "idx", llm_backend="none",
                        watch_index_s=0.05, cache_enabled=False, data_dir=tmp_path)  # fmt: skip
    polls: list[int] = []
    real_reload = Services.reload
    monkeypatch.setattr(Services, "reload", lambda self: polls.append(1) or real_reload(self))
    svc = Services.start(settings)
    try:
        eventually(lambda: len(polls) >= 10, 10, "ten polls with no index")
        assert svc.engine is None and len(loads) == 1
        ingest(DATA / "archive", tmp_path / "idx", "fake:64", lambda: fake_embedder("fake:64"), ingest_options())
        eventually(lambda: svc.engine is not None, 5, "the first index being loaded")
        assert len(loads) == 1
    finally:
        svc.stop()


def test_a_corrupt_new_version_does_not_stop_hot_reload(tmp_path: Path) -> None:
    shutil.copytree(DATA / "archive", tmp_path / "archive")
    idx = tmp_path / "idx"
    ingest(tmp_path / "archive", idx, "fake:64", lambda: fake_embedder("fake:64"), ingest_options())
    settings = Settings(embedding_model="fake:64", index_dir=idx, llm_backend="none", watch_index_s=0.05,
                        cache_enabled=False, data_dir=tmp_path)  # fmt: skip
    svc = Services.start(settings)
    try:
        first = svc.engine.version if svc.engine else ""
        folder = IndexFolder(idx)
        bad = folder.versions / "v99990101T000000-bad"
        shutil.copytree(folder.require_current(), bad)
        (bad / "sparse.npz").write_bytes(b"not a zip file")  # unreadable in a way no code of ours wraps
        failures: list[int] = []
        handler = logging.Handler()
        handler.emit = lambda record: failures.append(1) if "reload failed" in record.getMessage() else None  # type: ignore[method-assign]
        logging.getLogger("api").addHandler(handler)
        try:
            (idx / "CURRENT").write_text(bad.name + "\n")
            eventually(lambda: len(failures) >= 3, 10, "the watcher failing on it, repeatedly")
        finally:
            logging.getLogger("api").removeHandler(handler)
        assert svc.engine is not None and svc.engine.version == first  # and still serving
        (tmp_path / "archive" / "_posts" / "2026-03-01-1-new.md").write_text(
            "---\ntitle: 新しい記事\ndate: 2026-03-01\n---\n\n量子アニーリングの新製品。\n", encoding="utf-8"
        )
        (idx / "CURRENT").write_text(first + "\n")
        published = ingest(
            tmp_path / "archive", idx, "fake:64", lambda: fake_embedder("fake:64"), ingest_options()
        ).version
        eventually(lambda: svc.engine is not None and svc.engine.version == published, 5,
                   "the still-living watcher serving the new version")  # fmt: skip
    finally:
        svc.stop()

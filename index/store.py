"""The index folder: immutable versions published by an atomic pointer switch.

    data/index/
      CURRENT                 name of the published version (replaced with os.replace)
      versions/<id>/          manifest.json, docstore.sqlite, dense.faiss (+ sparse files)
      embed-cache.sqlite      vectors by text hash: an interrupted ingest loses no embedding work
      .lock                   held by the one ingest allowed to write

A build happens in versions/.build-*; until CURRENT names it, readers keep the previous version,
so a crash, kill -9 or Ctrl-C mid-ingest leaves the old index intact and readable."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import sqlite3
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from index.errors import EmbedderMismatch, IndexCorrupt, IndexLocked, IndexNotFound

FORMAT = 1
MANIFEST = "manifest.json"
DOCSTORE = "docstore.sqlite"
DENSE = "dense.faiss"
KEEP_VERSIONS = 3  # the current one plus two older ones that open readers may still use


@dataclass(frozen=True)
class Manifest:
    version: str
    created: float
    embedder: str
    dim: int
    chunking: dict[str, Any]
    posts: int
    chunks: int
    format: int = FORMAT
    extra: dict[str, Any] = field(default_factory=dict)

    def write(self, folder: Path) -> None:
        _write_atomic(folder / MANIFEST, json.dumps(asdict(self), ensure_ascii=False, indent=2))

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        try:
            data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
            return cls(**data)
        except (OSError, ValueError, TypeError) as exc:
            raise IndexCorrupt(folder, f"manifest unreadable: {exc}") from exc

    def check_embedder(self, folder: Path, name: str, dim: int | None = None) -> None:
        if self.embedder != name or (dim is not None and dim != self.dim):
            raise EmbedderMismatch(folder, self.embedder, self.dim, name, dim or self.dim)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class IndexFolder:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.versions = root / "versions"

    @property
    def cache_path(self) -> Path:
        return self.root / "embed-cache.sqlite"

    def current(self) -> Path | None:
        try:
            name = (self.root / "CURRENT").read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        path = self.versions / name
        if not path.is_dir():
            raise IndexCorrupt(self.root, f"CURRENT names {name}, which is missing")
        return path

    def require_current(self) -> Path:
        path = self.current()
        if path is None:
            raise IndexNotFound(self.root)
        return path

    @contextlib.contextmanager
    def writer_lock(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "w") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise IndexLocked(self.root) from None
            yield  # the lock dies with the process, so kill -9 never leaves it stuck

    def new_build(self, base: Path | None) -> Path:
        """A private folder for the next version, starting as a copy of `base`'s docstore."""
        self.versions.mkdir(parents=True, exist_ok=True)
        for stale in self.versions.glob(".build-*"):  # leftovers of killed ingests
            shutil.rmtree(stale, ignore_errors=True)
        build = self.versions / f".build-{uuid.uuid4().hex[:8]}"
        build.mkdir()
        if base is not None:
            src = sqlite3.connect(f"file:{base / DOCSTORE}?mode=ro", uri=True)
            dst = sqlite3.connect(build / DOCSTORE)
            with dst:
                src.backup(dst)
            src.close()
            dst.close()
        return build

    def publish(self, build: Path, manifest: Manifest) -> Path:
        manifest.write(build)
        # Every file reaches the disk before CURRENT names the version: after a power loss, a published
        # version is whole, never one with empty FAISS or BM25 files.
        for path in build.iterdir():
            if path.is_file():
                with open(path, "rb") as fh:
                    os.fsync(fh.fileno())
        _fsync_dir(build)
        for stale in self.root.glob(".CURRENT.*"):  # temp files of publishes killed before their rename
            stale.unlink(missing_ok=True)
        final = self.versions / manifest.version
        os.rename(build, final)
        _fsync_dir(self.versions)
        _write_atomic(self.root / "CURRENT", manifest.version + "\n")
        _fsync_dir(self.root)
        self._prune(keep=final)
        return final

    def _prune(self, keep: Path) -> None:
        published = sorted(p for p in self.versions.iterdir() if not p.name.startswith("."))
        for old in published[:-KEEP_VERSIONS]:
            if old != keep:
                shutil.rmtree(old, ignore_errors=True)


def new_version_name() -> str:
    # Sortable by time; the suffix keeps two publishes in one second apart.
    return time.strftime("v%Y%m%dT%H%M%S", time.gmtime()) + f"-{uuid.uuid4().hex[:6]}"


def empty_dense(dim: int) -> faiss.Index:
    # Exact inner product on normalized vectors is cosine; at ~50k chunks a flat scan takes a few ms.
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


def read_dense(folder: Path) -> faiss.Index:
    try:
        return faiss.read_index(str(folder / DENSE))
    except RuntimeError as exc:
        raise IndexCorrupt(folder, f"dense index unreadable: {exc}") from exc


def write_dense(index: faiss.Index, folder: Path) -> None:
    faiss.write_index(index, str(folder / DENSE))


def remove_vectors(index: faiss.Index, ids: Sequence[int]) -> None:
    if ids:
        index.remove_ids(faiss.IDSelectorBatch(np.asarray(ids, dtype=np.int64)))


def add_vectors(index: faiss.Index, ids: Sequence[int], vectors: np.ndarray) -> None:
    if ids:
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))

"""Archive → new index version, incrementally: only added or edited posts are chunked and embedded."""

from __future__ import annotations

import hashlib
import logging
import shutil
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import asdict, dataclass, field
from pathlib import Path

import faiss
import numpy as np
from tqdm import tqdm

from index import docstore
from index.chunking import Chunk, ChunkingConfig
from index.cleaning import CLEANING_VERSION
from index.embed_cache import EmbeddingCache
from index.embedding import Embedder
from index.errors import NothingIngested
from index.posts import MalformedPost, Post, SiteConfig, post_files
from index.reading import PostReader
from index.sparse import JapaneseTokenizer, Vocab, build_bm25
from index.store import (
    DOCSTORE,
    IndexFolder,
    Manifest,
    add_vectors,
    empty_dense,
    new_version_name,
    read_dense,
    remove_vectors,
    write_dense,
)

log = logging.getLogger(__name__)

EMBED_BATCH = 256  # texts handed to the embedder at once; it sorts them by length inside


@dataclass(frozen=True)
class IngestSummary:
    posts_seen: int
    posts_added: int
    posts_updated: int
    posts_removed: int
    posts_skipped: int
    chunks_total: int
    chunks_embedded: int
    seconds: float
    version: str = ""

    def as_dict(self) -> dict[str, float | int]:
        data = asdict(self)
        data.pop("version")
        return data


@dataclass(frozen=True)
class IngestOptions:
    """What the settings decide about an ingest (`rag.settings.Settings.ingest_options()`): index/ never
    reads them itself."""

    chunking: ChunkingConfig
    max_post_bytes: int  # larger files are skipped
    post_seconds: float  # longest read of one post; 0 reads in-process, without a budget


@dataclass
class _Scan:
    seen: int = 0
    changed: list[Post] = field(default_factory=list)
    chunks: dict[str, list[Chunk]] = field(default_factory=dict)  # by post source
    added: set[str] = field(default_factory=set)
    removed: set[str] = field(default_factory=set)
    skipped: int = 0


@dataclass
class Ingest:
    """One ingest run. `load_embedder` is only called when some chunk has no cached vector."""

    archive: Path
    index_root: Path
    embedder_name: str
    load_embedder: Callable[[], Embedder]
    options: IngestOptions
    tokenize: Callable[[str], list[str]] = field(default_factory=JapaneseTokenizer)
    rebuild: bool = False
    progress: bool = False
    batch_texts: int = EMBED_BATCH
    # A fresh index is first published without vectors (BM25 only, in about a minute for the full
    # archive), so a new deployment answers long before embedding ends (about 75 minutes here).
    lexical_first: bool = True

    def __post_init__(self) -> None:
        load = self.load_embedder
        held: list[Embedder] = []

        def once() -> Embedder:  # both stages of a fresh ingest use one loaded model
            if not held:
                held.append(load())
            return held[0]

        self.load_embedder = once

    def settings(self) -> dict[str, object]:
        """What decides how posts become chunks and tokens; a change re-chunks every post."""
        return {**self.options.chunking.as_dict(), "tokenizer": getattr(self.tokenize, "name", "custom"),
                "cleaning": CLEANING_VERSION}  # fmt: skip

    def run(self) -> IngestSummary:
        start = time.monotonic()
        folder = IndexFolder(self.index_root)
        with folder.writer_lock():
            base = None if self.rebuild else folder.current()
            manifest = Manifest.read(base) if base else None
            lexical_base = bool(manifest and manifest.extra.get("lexical_only"))
            if lexical_base:  # a fresh ingest stopped after its first stage: its vectors are still to do
                base, manifest = None, None
            old: dict[str, str] = {}
            if manifest and base:
                manifest.check_embedder(base, self.embedder_name)
                with closing(docstore.connect(base / DOCSTORE, readonly=True)) as ro:
                    old = docstore.post_hashes(ro)
            rechunk_all = manifest is not None and manifest.chunking != self.settings()
            scan = self._scan(old, rechunk_all)
            if not old and not scan.changed:
                raise NothingIngested(self.archive, scan.skipped)
            counts = dict(
                posts_seen=scan.seen, posts_added=len(scan.added), posts_updated=len(scan.changed) - len(scan.added),
                posts_removed=len(scan.removed), posts_skipped=scan.skipped,
            )  # fmt: skip
            if manifest and not scan.changed and not scan.removed:
                took = round(time.monotonic() - start, 3)
                return IngestSummary(**counts, chunks_total=manifest.chunks, chunks_embedded=0, seconds=took,
                                     version=manifest.version)  # fmt: skip
            if base is None and self.lexical_first and not lexical_base:
                self._publish_lexical(folder, scan)
            built = self._build_and_publish(folder, base, manifest, scan)
            took = round(time.monotonic() - start, 3)
            return IngestSummary(**counts, chunks_total=built.chunks, chunks_embedded=int(built.extra["embedded"]),
                                 seconds=took, version=built.version)  # fmt: skip

    def _scan(self, old: dict[str, str], rechunk_all: bool) -> _Scan:
        site = SiteConfig.load(self.archive)
        files = post_files(self.archive)
        scan = _Scan(seen=len(files))
        present: set[str] = set()
        root = self.archive.resolve()
        with PostReader(site, self.options.chunking, self.options.post_seconds) as reader:
            for source, path in files:
                present.add(source)  # a post that turns malformed keeps its last good version
                try:  # whatever goes wrong inside one post (an author's typo) skips that post only
                    read = self._read(source, path, root, reader, old, rechunk_all)
                except Exception as exc:
                    scan.skipped += 1
                    kept = " (its previously indexed version is kept)" if source in old else ""
                    reason = str(exc) if isinstance(exc, MalformedPost | OSError) else f"{type(exc).__name__}: {exc}"
                    log.warning("skipped %s: %s%s", source, reason, kept)
                    continue
                if read is not None:
                    scan.changed.append(read[0])
                    scan.chunks[source] = read[1]
        scan.added = {p.source for p in scan.changed} - old.keys()
        scan.removed = set(old) - present
        return scan

    def _read(
        self, source: str, path: Path, root: Path, reader: PostReader, old: dict[str, str], rechunk_all: bool
    ) -> tuple[Post, list[Chunk]] | None:
        """The post and its chunks, or None when it is unchanged."""
        if not path.resolve().is_relative_to(root):
            raise MalformedPost("a link to a file outside the archive")
        size = path.stat().st_size
        if size > self.options.max_post_bytes:
            raise MalformedPost(f"{size:,} bytes, over the {self.options.max_post_bytes:,} of RAG_MAX_POST_BYTES")
        raw = path.read_bytes()
        if not rechunk_all and old.get(source) == hashlib.sha256(raw).hexdigest():
            return None
        read = reader.read(source, raw)
        for note in read.notes:
            log.warning("%s: %s", source, note)
        return read.post, read.chunks

    def _publish_lexical(self, folder: IndexFolder, scan: _Scan) -> Manifest:
        """Stage one of a fresh ingest: posts, chunks and BM25, an empty vector index of the right size."""
        build = folder.new_build(None)
        try:
            dim = self.load_embedder().dim
            with closing(docstore.connect(build / DOCSTORE)) as conn:
                self._add_posts(conn, None, None, scan, dim, None)
                build_bm25(conn, build)
                posts, chunks = (
                    int(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in ("posts", "chunks")
                )
            write_dense(empty_dense(dim), build)
            built = Manifest(
                version=new_version_name(), created=time.time(), embedder=self.embedder_name, dim=dim,
                chunking=self.settings(), posts=posts, chunks=chunks,
                extra={"embedded": 0, "lexical_only": True, "timezone": SiteConfig.load(self.archive).timezone},
            )  # fmt: skip
            folder.publish(build, built)
            log.warning("published %s without vectors (BM25 only) while the %d chunks are embedded", built.version,
                        chunks)  # fmt: skip
        finally:
            shutil.rmtree(build, ignore_errors=True)
        return built

    def _build_and_publish(
        self, folder: IndexFolder, base: Path | None, manifest: Manifest | None, scan: _Scan
    ) -> Manifest:
        build = folder.new_build(base)
        cache = EmbeddingCache(folder.cache_path)
        try:
            embedder = None if manifest else self.load_embedder()
            dim = manifest.dim if manifest else embedder.dim  # type: ignore[union-attr]
            dense = read_dense(base) if base else empty_dense(dim)
            with closing(docstore.connect(build / DOCSTORE)) as conn:
                with conn:
                    gone = docstore.delete_posts(conn, [*scan.removed, *(p.source for p in scan.changed)])
                remove_vectors(dense, gone)
                embedded = self._add_posts(conn, dense, cache, scan, dim, embedder)
                build_bm25(conn, build)
                posts, chunks = (
                    int(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in ("posts", "chunks")
                )
                live = {h for (h,) in conn.execute("SELECT embed_hash FROM chunks")}
            write_dense(dense, build)
            built = Manifest(
                version=new_version_name(), created=time.time(), embedder=self.embedder_name, dim=dim,
                chunking=self.settings(), posts=posts, chunks=chunks,
                extra={"embedded": embedded, "timezone": SiteConfig.load(self.archive).timezone},
            )  # fmt: skip
            final = folder.publish(build, built)
            cache.retain(self.embedder_name, live)  # only once the new version is the published one
        finally:
            cache.close()
            shutil.rmtree(build, ignore_errors=True)  # gone already when published
        _warn_shared_urls(final)
        return built

    def _add_posts(
        self, conn: sqlite3.Connection, dense: faiss.Index | None, cache: EmbeddingCache | None, scan: _Scan,
        dim: int, embedder: Embedder | None,
    ) -> int:  # fmt: skip
        """Posts, chunks and their BM25 tokens into the docstore; their vectors into `dense` (from the cache
        or the embedder) unless `dense` is None (the lexical stage)."""
        vocab = Vocab(conn)
        posts = scan.changed
        embedded = done_chunks = 0
        bar = tqdm(total=len(posts), unit="post", disable=not self.progress, dynamic_ncols=True, desc="ingest")
        pending: list[tuple[Post, list[Chunk]]] = []
        for i, post in enumerate(posts):
            pending.append((post, scan.chunks[post.source]))
            if sum(len(cs) for _, cs in pending) < self.batch_texts and i + 1 < len(posts):
                continue
            pairs = [(p, c) for p, cs in pending for c in cs]
            texts = [c.embed_text(p.title) for p, c in pairs]
            hashes = [c.embed_hash(p.title) for p, c in pairs]
            vectors = cache.get_many(self.embedder_name, hashes, dim) if cache is not None else {}
            missing = [j for j, h in enumerate(hashes) if h not in vectors] if dense is not None else []
            if missing and cache is not None:
                embedder = embedder or self.load_embedder()
                fresh = embedder.embed_documents([texts[j] for j in missing])
                cache.put_many(self.embedder_name, [hashes[j] for j in missing], fresh)
                vectors.update((hashes[j], v) for j, v in zip(missing, fresh, strict=True))
                embedded += len(missing)
            with conn:
                for p, _ in pending:
                    docstore.insert_post(conn, p)
                tokens = [vocab.encode(self.tokenize(t)).tobytes() for t in texts]
                ids = docstore.insert_chunks(conn, [c for _, c in pairs], hashes, tokens)
            if dense is not None:
                add_vectors(dense, ids, np.stack([vectors[h] for h in hashes]) if hashes else np.zeros((0, dim)))
            done_chunks += len(pairs)
            bar.update(len(pending))
            bar.set_postfix(chunks=done_chunks, embedded=embedded)
            pending = []
        bar.close()
        return embedded


def ingest(
    archive: Path, index_root: Path, embedder_name: str, load_embedder: Callable[[], Embedder],
    options: IngestOptions, **knobs: object,
) -> IngestSummary:  # fmt: skip
    """`knobs`: the run's own switches (rebuild, progress, batch_texts, lexical_first), not settings."""
    return Ingest(archive, index_root, embedder_name, load_embedder, options, **knobs).run()  # type: ignore[arg-type]


def _warn_shared_urls(version: Path) -> None:
    with closing(docstore.connect(version / DOCSTORE, readonly=True)) as conn:
        rows = conn.execute(
            "SELECT url, group_concat(source, ', ') FROM posts GROUP BY url HAVING COUNT(*) > 1"
        ).fetchall()
    if rows:
        log.warning(
            "%d URL(s) are claimed by more than one post (e.g. %s ← %s); each post is kept as its own document",
            len(rows), rows[0][0], rows[0][1],
        )  # fmt: skip

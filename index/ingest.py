"""Archive → new index version, incrementally: only added or edited posts are chunked and embedded."""

from __future__ import annotations

import hashlib
import logging
import shutil
import time
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from index import docstore
from index.chunking import Chunk, ChunkingConfig, chunk_blocks
from index.cleaning import clean_body
from index.embed_cache import EmbeddingCache
from index.embedding import Embedder
from index.errors import NothingIngested
from index.posts import MalformedPost, Post, SiteConfig, parse_post, post_files
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
class _Scan:
    seen: int
    changed: list[Post]
    added: set[str]
    removed: set[str]
    skipped: int


def _scan(archive: Path, site: SiteConfig, old: dict[str, str], rechunk_all: bool) -> _Scan:
    files = post_files(archive)
    changed: list[Post] = []
    skipped = 0
    present: set[str] = set()
    for source, path in files:
        present.add(source)  # a post that turns malformed keeps its last good version
        raw = path.read_bytes()
        if not rechunk_all and old.get(source) == hashlib.sha256(raw).hexdigest():
            continue
        try:
            changed.append(parse_post(source, raw, site))
        except MalformedPost as exc:
            skipped += 1
            kept = " (its previously indexed version is kept)" if source in old else ""
            log.warning("skipped %s: %s%s", source, exc, kept)
    added = {p.source for p in changed} - old.keys()
    return _Scan(len(files), changed, added, old.keys() - present, skipped)


def _chunks(post: Post, cfg: ChunkingConfig) -> list[Chunk]:
    return chunk_blocks(post.source, clean_body(post.body), cfg)


def ingest(
    archive: Path,
    index_root: Path,
    embedder_name: str,
    load_embedder: Callable[[], Embedder],
    cfg: ChunkingConfig | None = None,
    *,
    rebuild: bool = False,
    progress: bool = False,
    tokenize: Callable[[str], list[str]] | None = None,
    publish_hooks: Iterable[Callable[[Path], None]] = (),
    batch_texts: int = EMBED_BATCH,
) -> IngestSummary:
    """`tokenize` fills each chunk's sparse tokens; `publish_hooks` build extra files (the sparse
    index) into the new version folder before it is published."""
    start = time.monotonic()
    cfg = cfg or ChunkingConfig()
    site = SiteConfig.load(archive)
    folder = IndexFolder(index_root)
    with folder.writer_lock():
        base = None if rebuild else folder.current()
        manifest = Manifest.read(base) if base else None
        if manifest and base:
            manifest.check_embedder(base, embedder_name)
        old: dict[str, str] = {}
        if base:
            with closing(docstore.connect(base / DOCSTORE, readonly=True)) as ro:
                old = docstore.post_hashes(ro)
        rechunk_all = manifest is not None and manifest.chunking != cfg.as_dict()
        scan = _scan(archive, site, old, rechunk_all)
        if not old and not scan.changed:
            raise NothingIngested(archive, scan.skipped)
        summary = dict(
            posts_seen=scan.seen,
            posts_added=len(scan.added),
            posts_removed=len(scan.removed),
            posts_updated=len(scan.changed) - len(scan.added),
            posts_skipped=scan.skipped,
        )
        if manifest and not scan.changed and not scan.removed:
            return IngestSummary(
                **summary,
                chunks_total=manifest.chunks,
                chunks_embedded=0,
                seconds=round(time.monotonic() - start, 3),
                version=manifest.version,
            )
        build = folder.new_build(base)
        try:
            cache = EmbeddingCache(folder.cache_path)
            built, live = _build(
                build, base, manifest, scan, cfg, embedder_name, load_embedder, cache, progress, tokenize, batch_texts
            )
            for hook in publish_hooks:
                hook(build)
            final = folder.publish(build, built)
            cache.retain(embedder_name, live)  # only once the new version is the published one
            cache.close()
        finally:
            if build.exists():
                shutil.rmtree(build, ignore_errors=True)
        _warn_shared_urls(final)
        return IngestSummary(
            **summary,
            chunks_total=built.chunks,
            chunks_embedded=built.extra["embedded"],
            seconds=round(time.monotonic() - start, 3),
            version=built.version,
        )


def _build(
    build: Path,
    base: Path | None,
    manifest: Manifest | None,
    scan: _Scan,
    cfg: ChunkingConfig,
    embedder_name: str,
    load_embedder: Callable[[], Embedder],
    cache: EmbeddingCache,
    progress: bool,
    tokenize: Callable[[str], list[str]] | None,
    batch_texts: int,
) -> tuple[Manifest, set[str]]:
    embedder: Embedder | None = None
    dim = manifest.dim if manifest else None
    if dim is None:
        embedder = load_embedder()
        dim = embedder.dim
    dense = read_dense(base) if base else empty_dense(dim)
    conn = docstore.connect(build / DOCSTORE)
    embedded = 0
    try:
        with conn:
            gone = docstore.delete_posts(conn, [*scan.removed, *(p.source for p in scan.changed)])
        remove_vectors(dense, gone)
        bar = tqdm(total=len(scan.changed), unit="post", disable=not progress, dynamic_ncols=True, desc="ingest")
        pending: list[tuple[Post, list[Chunk]]] = []
        n_pending = 0
        chunks_done = 0
        for i, post in enumerate(scan.changed):
            chunks = _chunks(post, cfg)
            pending.append((post, chunks))
            n_pending += len(chunks)
            if n_pending < batch_texts and i + 1 < len(scan.changed):
                continue
            texts = [c.embed_text(p.title) for p, cs in pending for c in cs]
            hashes = [c.embed_hash(p.title) for p, cs in pending for c in cs]
            vectors = cache.get_many(embedder_name, hashes, dim)
            missing = [j for j, h in enumerate(hashes) if h not in vectors]
            if missing:
                if embedder is None:
                    embedder = load_embedder()
                    if embedder.dim != dim and manifest and base:
                        manifest.check_embedder(base, embedder_name, embedder.dim)
                fresh = embedder.embed_documents([texts[j] for j in missing])
                cache.put_many(embedder_name, [hashes[j] for j in missing], fresh)
                for j, vec in zip(missing, fresh, strict=True):
                    vectors[hashes[j]] = vec
                embedded += len(missing)
            tokens = [" ".join(tokenize(t)) if tokenize else "" for t in texts]
            with conn:
                for p, _ in pending:
                    docstore.insert_post(conn, p)
                ids = docstore.insert_chunks(conn, [c for _, cs in pending for c in cs], hashes, tokens)
            add_vectors(dense, ids, np.stack([vectors[h] for h in hashes]) if hashes else np.zeros((0, dim)))
            chunks_done += n_pending
            bar.update(len(pending))
            bar.set_postfix(chunks=chunks_done, embedded=embedded)
            pending, n_pending = [], 0
        bar.close()
        posts_total = conn.execute("SELECT COUNT(*) FROM posts").fetchone()[0]
        chunks_total = conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        live = {h for (h,) in conn.execute("SELECT embed_hash FROM chunks")}
    finally:
        conn.close()
    write_dense(dense, build)
    return Manifest(
        version=new_version_name(),
        created=time.time(),
        embedder=embedder_name,
        dim=dim,
        chunking=cfg.as_dict(),
        posts=int(posts_total),
        chunks=int(chunks_total),
        extra={"embedded": embedded},
    ), live


def _warn_shared_urls(version: Path) -> None:
    with closing(docstore.connect(version / DOCSTORE, readonly=True)) as conn:
        rows = conn.execute(
            "SELECT url, group_concat(source, ', ') FROM posts GROUP BY url HAVING COUNT(*) > 1"
        ).fetchall()
    if rows:
        log.warning(
            "%d URL(s) are claimed by more than one post (e.g. %s ← %s); each post is kept as its own document",
            len(rows),
            rows[0][0],
            rows[0][1],
        )

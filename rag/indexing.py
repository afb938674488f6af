"""The index, built from the archive with the settings' options: the one ingest entry that `rag ingest`
and the service's own ingest (`POST /v1/admin/ingest`, `rag serve --watch`) call, the embedder the
settings name, and a fingerprint of the archive's post files that tells a watcher when to ingest again.
The HTTP layer reaches `index` through here only."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from index.embedding import Embedder, load_embedder
from index.ingest import IngestSummary, ingest
from index.posts import post_files
from rag.settings import Settings

__all__ = ["Embedder", "IngestSummary", "archive_fingerprint", "ingest_archive", "settings_embedder"]


def settings_embedder(settings: Settings) -> Embedder:
    """The embedding model RAG_EMBEDDING_MODEL names, loaded with the settings' options."""
    return load_embedder(settings.embedding_model, settings.embedder_options())


def ingest_archive(
    settings: Settings, archive: Path, embedder: Callable[[], Embedder], index: Path | None = None,
    rebuild: bool = False, progress: bool = False,
) -> IngestSummary:  # fmt: skip
    """A new index version from `archive` (incrementally, unless `rebuild`) into `index`, RAG_INDEX_DIR by
    default. `embedder` is only called when some chunk has no cached vector."""
    root = index or settings.index_path
    return ingest(archive, root, settings.embedding_model, embedder, settings.ingest_options(), rebuild=rebuild,
                  progress=progress)  # fmt: skip


def archive_fingerprint(archive: Path) -> frozenset[tuple[str, int, int]]:
    """The names, sizes and change times of the archive's post files and site config: equal fingerprints,
    nothing to ingest. Raises when the archive is missing."""
    out = set()
    for source, path in post_files(archive):
        try:
            st = path.stat()
        except OSError:
            continue
        out.add((source, st.st_size, st.st_mtime_ns))
    config = archive / "_config.yml"
    if config.exists():
        st = config.stat()
        out.add(("_config.yml", st.st_size, st.st_mtime_ns))
    return frozenset(out)

"""Domain errors of the ingestion side. Each message says what happened and what to do;
the CLI and the HTTP app turn them into exit codes and status codes, nothing else does."""

from __future__ import annotations

from pathlib import Path


class ArchiveQAError(Exception):
    """Base of every error this project raises on purpose."""


class ArchiveNotFound(ArchiveQAError):
    def __init__(self, path: Path) -> None:
        super().__init__(
            f"no archive at {path}: expected a Jekyll site folder holding _posts/ "
            f"(for example RAG_ARCHIVE=../shared/corpus)"
        )
        self.path = path


class NothingIngested(ArchiveQAError):
    def __init__(self, path: Path, skipped: int) -> None:
        super().__init__(
            f"nothing could be ingested from {path}: {skipped} post file(s) found, all malformed "
            f"(see the warnings above)"
        )


class IndexNotFound(ArchiveQAError):
    def __init__(self, path: Path) -> None:
        super().__init__(f'no index at {path}; run "rag ingest ARCHIVE_DIR --index {path}"')
        self.path = path


class IndexCorrupt(ArchiveQAError):
    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(
            f"the index at {path} cannot be read ({reason}); "
            f'rebuild it with "rag ingest ARCHIVE_DIR --index {path} --rebuild"'
        )


class EmbedderMismatch(ArchiveQAError):
    def __init__(self, path: Path, built_with: str, built_dim: int, requested: str, dim: int) -> None:
        super().__init__(
            f"the index at {path} was built with embedder {built_with!r} ({built_dim} dims) but this "
            f"process uses {requested!r} ({dim} dims); set RAG_EMBEDDING_MODEL={built_with!r}, "
            f"or ingest into another folder with --index (or --rebuild to replace it)"
        )


class IndexLocked(ArchiveQAError):
    def __init__(self, path: Path) -> None:
        super().__init__(f"another ingest is writing to {path}; wait for it to finish (readers are not affected)")


class ModelNotFound(ArchiveQAError):
    """An embedding or language model could not be loaded from disk or the hub."""

"""The errors callers of `rag` catch. Every error raised on purpose derives from `ArchiveQAError`, which
the index defines (ingestion raises it too); it is named here so the HTTP layer reaches the index only
through `rag`."""

from __future__ import annotations

from index.errors import ArchiveQAError

__all__ = ["ArchiveQAError"]

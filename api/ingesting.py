"""Ingest inside the running service: `POST /v1/admin/ingest` and `rag serve --watch` run the normal
incremental ingest of the configured archive with the embedder the server already holds (loading it
in a new process is most of a one-post `rag ingest`), publish atomically, and switch to the new
version at once; other replicas see `CURRENT` change on their next poll."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from api.errors import NoArchive
from rag.errors import ArchiveQAError
from rag.indexing import Embedder, archive_fingerprint, ingest_archive
from rag.settings import Settings

log = logging.getLogger("api")


@dataclass
class IngestRun:
    started: float
    trigger: str  # "request" or "watch"
    finished: float = 0.0
    summary: dict[str, Any] | None = None
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        state = "running" if not self.finished else "failed" if self.error else "done"
        seconds = round((self.finished or time.time()) - self.started, 3)
        return {"state": state, "trigger": self.trigger, "seconds": seconds, "summary": self.summary,
                "error": self.error}  # fmt: skip


class Ingester:
    """One ingest at a time; a request that arrives during a run waits for the next one to cover its
    change (a run that started before the edit may have missed it)."""

    def __init__(self, settings: Settings, embedder: Callable[[], Embedder], after: Callable[[], object]) -> None:
        self.settings, self.archive, self.embedder, self.after = settings, settings.archive, embedder, after
        self._lock = threading.Lock()  # held for the length of a run
        self.last: IngestRun | None = None

    def run(self, trigger: str) -> IngestRun:
        if self.archive is None:
            raise NoArchive("the service has no archive to ingest: set RAG_ARCHIVE (or start it with --watch DIR)")
        with self._lock:
            run = self.last = IngestRun(time.time(), trigger)
            try:
                summary = ingest_archive(self.settings, self.archive, self.embedder)
                run.summary = {**summary.as_dict(), "version": summary.version}
                self.after()  # this replica serves the new version before the request returns
            except ArchiveQAError as exc:
                run.error = str(exc)
                log.error("ingest (%s) failed: %s", trigger, exc)
            finally:
                run.finished = time.time()
            return run

    def watch(self, every_s: float, stop: threading.Event) -> None:
        """Polls the archive's post files (names, sizes, times) and ingests when they change."""
        assert self.archive is not None
        seen = archive_fingerprint(self.archive)
        while not stop.wait(every_s):
            try:
                now = archive_fingerprint(self.archive)
                if now != seen:
                    seen = now
                    self.run("watch")
            except Exception:  # a vanished folder must not end the watch for the life of the process
                log.exception("archive watch failed; still watching")

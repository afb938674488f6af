"""Answers to repeated questions, in one SQLite file under the data folder shared by every worker.

Our own store rather than diskcache: diskcache has no vector-similarity lookup and no purge by index
version, the two things that let a reworded question hit and a newly published index drop old answers.
It is only a cache: every failure is logged and becomes a miss or a no-op, never an error for the caller."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

import numpy as np

from index.text import nfkc

log = logging.getLogger(__name__)
T = TypeVar("T")

SCHEMA_VERSION = 1
# Writes take milliseconds, so this only bites when a writer is stuck; then a miss beats a hung request.
BUSY_TIMEOUT_S = 2.0
RETRY_S = 60.0  # a cache that could not be opened is tried again after this long
SCHEMA = (
    """CREATE TABLE IF NOT EXISTS answers (
        key TEXT NOT NULL, version TEXT NOT NULL, payload TEXT NOT NULL, created REAL NOT NULL,
        used REAL NOT NULL, evidence TEXT NOT NULL DEFAULT '', vector BLOB,  -- float32 question vector
        PRIMARY KEY (version, key))""",
    "CREATE INDEX IF NOT EXISTS answers_by_evidence ON answers(version, evidence)",
    "CREATE INDEX IF NOT EXISTS answers_by_used ON answers(used)",
    "CREATE INDEX IF NOT EXISTS answers_by_created ON answers(created)",
)


def question_key(question: str, filters: object | None) -> str:
    """Same text after NFKC, case folding and whitespace collapsing, and same filters -> same key (hex sha256).

    `filters` is a frozen dataclass or None; its repr goes into the hash, so its fields must have a
    stable repr (tuples, not sets). Empty filters (a falsy `Filters()`) count as None."""
    text = nfkc(question).casefold()
    text = nfkc(text)  # case folding can undo NFKC (e.g. "ǰ" -> "ǰ")
    text = " ".join(text.split())  # str.split() knows U+3000 and every other Unicode space
    blob = json.dumps([text, repr(filters if filters else None)], ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class AnswerStore(Protocol):
    """Where answers are kept: `AnswerCache` (SQLite, one machine) or `RedisAnswerCache` (replicas)."""

    def get(self, key: str, version: str) -> CachedAnswer | None: ...
    def similar(self, vector: np.ndarray, evidence: str, version: str, threshold: float) -> CachedAnswer | None: ...
    def put(
        self, key: str, version: str, payload: str, vector: np.ndarray | None = None, evidence: str = ""
    ) -> None: ...
    def keep_only(self, version: str) -> int: ...
    def __len__(self) -> int: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class CachedAnswer:
    payload: str  # the JSON text that was stored
    created: float  # unix time
    similarity: float  # 1.0 for an exact hit, else the cosine


def nearest(stored: np.ndarray, query: np.ndarray) -> tuple[int, float]:
    """The row of `stored` nearest `query` by cosine (unnormalized vectors welcome), and that cosine."""
    rows = stored.astype(np.float64)
    norms = np.linalg.norm(rows, axis=1) * float(np.linalg.norm(query))
    cosines = np.divide(rows @ query, norms, out=np.full(len(rows), -1.0), where=norms > 0)
    best = int(np.argmax(cosines))
    return best, min(float(cosines[best]), 1.0)


@contextlib.contextmanager
def _write_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    # IMMEDIATE takes the write lock up front (waiting out the busy timeout); a deferred transaction
    # that read first can fail at once with "database is locked" when another process wrote meanwhile.
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _wal(conn: sqlite3.Connection) -> None:
    """WAL, so that readers never wait for another worker's writer."""
    # Switching a new file to WAL answers "database is locked" at once, not after the busy timeout,
    # when workers open it together (one round in ten of four openers, in the tests): wait for it ourselves.
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def _corrupt(exc: sqlite3.DatabaseError) -> bool:
    # Only these mean the file itself is bad; "database is locked" or a full disk must not cost the entries.
    return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except OSError:
        return None


class AnswerCache:
    """One connection per instance (and per process), guarded by a lock for the threads of that process."""

    def __init__(
        self,
        path: Path,
        max_entries: int = 5000,
        max_age_s: float = 7 * 86400,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path, self.max_entries, self.max_age_s = Path(path), max_entries, max_age_s
        self._clock = clock
        self._lock = threading.RLock()
        self._closed = False
        self._pid = os.getpid()
        self._tried = 0.0
        self._inode: int | None = None
        self._conn = self._open()

    def _open(self) -> sqlite3.Connection | None:
        self._tried = self._clock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            seen = _inode(self.path)
            try:
                return self._connect()
            except sqlite3.DatabaseError as exc:
                if not _corrupt(exc):
                    raise
                self._move_aside(seen, exc)
                return self._connect()
        except (sqlite3.Error, OSError) as exc:
            log.warning(
                "answer cache %s cannot be opened (%s): answering without a cache, trying again in %.0f s; "
                "check the folder's permissions and free space",
                self.path,
                exc,
                RETRY_S,
            )
            return None

    def _move_aside(self, seen: int | None, exc: sqlite3.DatabaseError) -> None:
        log.warning(
            "answer cache %s is corrupt (%s): moved aside to %s.corrupt, starting empty; "
            "delete the .corrupt files once nobody needs to inspect them",
            self.path,
            exc,
            self.path.name,
        )
        # Another worker may have replaced the bad file already: then there is nothing to move.
        if seen is not None and _inode(self.path) == seen:
            for suffix in ("", "-wal", "-shm"):  # a stale WAL must not be replayed into the new file
                with contextlib.suppress(OSError):  # if the bad file stays, reopening fails and says so
                    os.replace(f"{self.path}{suffix}", f"{self.path}.corrupt{suffix}")

    def _connect(self) -> sqlite3.Connection:
        # We open transactions ourselves (see _write_transaction); the instance lock makes sharing across threads safe.
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        try:
            _wal(conn)
            conn.execute("PRAGMA synchronous = NORMAL")  # a power cut may lose the last answers, not the file
            conn.execute("PRAGMA journal_size_limit = 4194304")  # else the WAL keeps its high-water size
            with _write_transaction(conn):
                found = conn.execute("PRAGMA user_version").fetchone()[0]
                if found > SCHEMA_VERSION:
                    # Written by a newer release: we cannot read it, and it is only a cache.
                    log.info("answer cache %s has schema %d > %d: emptied", self.path, found, SCHEMA_VERSION)
                    conn.execute("DROP TABLE IF EXISTS answers")
                # Migrations from older schemas go here, keyed on `found`.
                for statement in SCHEMA:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except BaseException:
            conn.close()
            raise
        self._inode = _inode(self.path)
        return conn

    def _run(self, what: str, default: T, work: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            if self._closed:
                return default
            # Forked after opening (a preloading server): a SQLite connection must not cross a fork.
            forked = self._pid != os.getpid()
            if forked or (self._conn is None and self._clock() - self._tried >= RETRY_S):
                self._pid, self._conn = os.getpid(), self._open()
            if self._conn is None:
                return default
            try:
                return work(self._conn)
            except sqlite3.Error as exc:
                if isinstance(exc, sqlite3.DatabaseError) and _corrupt(exc):
                    # A bad page deep in the file passes the checks at open: without this it would fail forever.
                    self._conn.close()
                    self._move_aside(self._inode, exc)
                    self._conn = self._open()
                else:
                    log.warning("answer cache %s: %s failed (%s); served as a miss", self.path, what, exc)
                return default

    def get(self, key: str, version: str) -> CachedAnswer | None:
        """The answer stored under this key for this index version, unless older than max_age_s."""

        def work(conn: sqlite3.Connection) -> CachedAnswer | None:
            now = self._clock()
            row = conn.execute(
                "SELECT payload, created FROM answers WHERE version = ? AND key = ? AND created >= ?",
                (version, key, now - self.max_age_s),
            ).fetchone()
            if row is None:
                return None
            conn.execute("UPDATE answers SET used = ? WHERE version = ? AND key = ?", (now, version, key))
            return CachedAnswer(payload=row[0], created=row[1], similarity=1.0)

        return self._run("get", None, work)

    def similar(self, vector: np.ndarray, evidence: str, version: str, threshold: float) -> CachedAnswer | None:
        """Near-duplicate wording: among this version's entries with the same `evidence` id, the one whose
        question vector has the highest cosine with `vector`, if that cosine >= threshold."""
        query = np.asarray(vector, dtype=np.float64).ravel()
        query_norm = float(np.linalg.norm(query))
        if not np.isfinite(query_norm) or query_norm == 0.0:
            return None

        def work(conn: sqlite3.Connection) -> CachedAnswer | None:
            now = self._clock()
            rows = [
                row
                for row in conn.execute(
                    "SELECT key, payload, created, vector FROM answers WHERE version = ? AND evidence = ? "
                    "AND vector IS NOT NULL AND created >= ?",
                    (version, evidence, now - self.max_age_s),
                )
                if len(row[3]) == query.size * 4  # vectors of another embedder never compare
            ]
            if not rows:
                return None
            best, cosine = nearest(np.stack([np.frombuffer(row[3], dtype=np.float32) for row in rows]), query)
            if not cosine >= threshold:
                return None
            key, payload, created, _ = rows[best]
            conn.execute("UPDATE answers SET used = ? WHERE version = ? AND key = ?", (now, version, key))
            return CachedAnswer(payload=payload, created=created, similarity=cosine)

        return self._run("similar", None, work)

    def put(self, key: str, version: str, payload: str, vector: np.ndarray | None = None, evidence: str = "") -> None:
        """Insert or replace, then drop entries older than max_age_s and the least recently used beyond max_entries."""
        blob = None if vector is None else np.asarray(vector, dtype=np.float32).ravel().tobytes()

        def work(conn: sqlite3.Connection) -> None:
            now = self._clock()
            with _write_transaction(conn):
                conn.execute(
                    "INSERT OR REPLACE INTO answers (key, version, payload, created, used, evidence, vector) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (key, version, payload, now, now, evidence, blob),
                )
                conn.execute("DELETE FROM answers WHERE created < ?", (now - self.max_age_s,))
                excess = conn.execute("SELECT COUNT(*) FROM answers").fetchone()[0] - self.max_entries
                if excess > 0:
                    # rowid breaks ties in `used`: a replaced row gets a new, higher one.
                    conn.execute(
                        "DELETE FROM answers WHERE rowid IN (SELECT rowid FROM answers ORDER BY used, rowid LIMIT ?)",
                        (excess,),
                    )

        self._run("put", None, work)

    def keep_only(self, version: str) -> int:
        """Delete every entry of any other index version; returns how many were deleted."""

        def work(conn: sqlite3.Connection) -> int:
            with _write_transaction(conn):
                return conn.execute("DELETE FROM answers WHERE version != ?", (version,)).rowcount

        return self._run("keep_only", 0, work)

    def __len__(self) -> int:
        return self._run("len", 0, lambda conn: int(conn.execute("SELECT COUNT(*) FROM answers").fetchone()[0]))

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._conn is not None:
                self._conn.close()
                self._conn = None

from __future__ import annotations

import logging
import re
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import redis

from rag.cache.redis_store import RedisAnswerCache
from rag.cache.store import AnswerCache, CachedAnswer, question_key
from rag.retrieval.filters import Filters

from .redis_server import redis_server

ROOT = Path(__file__).parents[1]
V1, V2 = "20250101-aaaa", "20250201-bbbb"


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


Make = Callable[..., AnswerCache]


@pytest.fixture(params=["sqlite", "redis"])
def make(request: pytest.FixtureRequest, tmp_path: Path, clock: Clock) -> Iterator[Make]:
    """The one contract both stores keep: the embedded SQLite file and the shared Redis."""
    made: list[AnswerCache] = []

    def build(max_entries: int = 100, max_age_s: float = 3600) -> AnswerCache:
        if request.param == "sqlite":
            c = AnswerCache(tmp_path / "data" / "answer-cache.sqlite", max_entries=max_entries, max_age_s=max_age_s,
                            clock=clock)  # fmt: skip
        else:
            url = request.getfixturevalue("redis_url")
            redis.Redis.from_url(url).flushdb()
            c = RedisAnswerCache(url, max_entries=max_entries, max_age_s=max_age_s, clock=clock)  # type: ignore[assignment]
        made.append(c)
        return c

    yield build
    for c in made:
        c.close()


@pytest.fixture
def cache(make: Make) -> AnswerCache:
    return make()


@pytest.fixture
def sqlite_cache(tmp_path: Path, clock: Clock) -> Iterator[AnswerCache]:
    c = AnswerCache(tmp_path / "data" / "answer-cache.sqlite", max_entries=100, max_age_s=3600, clock=clock)
    yield c
    c.close()


def unit(*xs: float) -> np.ndarray:
    v = np.asarray(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_same_question_after_normalisation_hits(cache: AnswerCache) -> None:
    variants = [
        "ＡＩコンパスの　使い方は？",  # full-width letters, U+3000, full-width question mark
        "aiコンパスの 使い方は?",
        "  Aiｺﾝﾊﾟｽの \u3000\t 使い方は?\n",  # half-width katakana, runs of mixed whitespace
    ]
    keys = {question_key(q, None) for q in variants}
    assert len(keys) == 1
    key = keys.pop()
    assert re.fullmatch(r"[0-9a-f]{64}", key)  # a sha256 in hex: a fixed-size key, whatever the question

    assert question_key(variants[0], Filters(category="ニュース")) != key
    assert question_key(variants[0], Filters(category="ニュース")) == question_key(
        variants[1], Filters(category="ニュース")
    )
    assert question_key(variants[0], Filters(category="ニュース")) != question_key(
        variants[0], Filters(category="論文")
    )
    assert question_key(variants[0], Filters()) == key  # empty filters filter nothing, like None
    assert question_key("AIコンパスの使い方は?", None) != key  # a space inside the text still counts

    cache.put(question_key(variants[0], None), V1, '{"answer": "x"}')
    hit = cache.get(question_key(variants[2], None), V1)
    assert hit is not None and hit.payload == '{"answer": "x"}'


def test_hit_returns_stored_payload_with_similarity_one(cache: AnswerCache, clock: Clock) -> None:
    payload = '[{"event": "done", "answer": "日本語の答え [1]"}]'
    cache.put("k", V1, payload)
    clock.now += 10
    assert cache.get("k", V1) == CachedAnswer(payload=payload, created=1_000_000.0, similarity=1.0)
    assert cache.get("other", V1) is None


def test_put_replaces_the_entry_under_the_same_key(cache: AnswerCache, clock: Clock) -> None:
    cache.put("k", V1, '"old"')
    clock.now += 5
    cache.put("k", V1, '"new"')
    hit = cache.get("k", V1)
    assert hit is not None and (hit.payload, hit.created) == ('"new"', clock.now)
    assert len(cache) == 1


def test_other_index_version_misses(cache: AnswerCache) -> None:
    cache.put("k", V1, '"v1"')
    assert cache.get("k", V2) is None
    cache.put("k", V2, '"v2"')
    assert [cache.get("k", v).payload for v in (V1, V2)] == ['"v1"', '"v2"']  # type: ignore[union-attr]


def test_keep_only_empties_other_versions(cache: AnswerCache) -> None:
    for i in range(3):
        cache.put(f"old{i}", V1, "1", vector=unit(1, 0), evidence="e")
    cache.put("new", V2, "2")
    assert cache.keep_only(V2) == 3
    assert len(cache) == 1
    assert cache.get("old0", V1) is None
    assert cache.similar(unit(1, 0), "e", V1, 0.5) is None
    assert cache.get("new", V2) is not None
    assert cache.keep_only(V2) == 0


def test_entries_older_than_max_age_miss_and_are_removed(cache: AnswerCache, clock: Clock) -> None:
    cache.put("old", V1, "1", vector=unit(1, 0), evidence="e")
    clock.now += 3000
    cache.put("young", V1, "2")
    clock.now += 601  # "old" is now 3601 s old, over max_age_s=3600
    assert cache.get("old", V1) is None
    assert cache.similar(unit(1, 0), "e", V1, 0.5) is None
    assert cache.get("young", V1) is not None
    assert len(cache) == 2  # a miss does not delete; the next put does
    cache.put("another", V1, "3")
    assert len(cache) == 2
    assert cache.get("another", V1) is not None


def test_beyond_max_entries_the_least_recently_used_go(make: Make, clock: Clock) -> None:
    cache = make(max_entries=3)
    for key in ("a", "b", "c"):
        clock.now += 1
        cache.put(key, V1, key)
    clock.now += 1
    assert cache.get("a", V1) is not None  # a hit makes "a" the most recently used; "b" is now the oldest
    clock.now += 1
    cache.put("d", V1, "d")
    assert len(cache) == 3
    assert cache.get("b", V1) is None
    assert all(cache.get(k, V1) is not None for k in ("a", "c", "d"))

    clock.now += 1
    assert cache.similar(unit(1, 0), "", V1, 0.0) is None  # no vectors stored: nothing to compare
    cache.put("v", V1, "v", vector=unit(1, 0), evidence="e")  # "a", "c", "d" were all used just before
    clock.now += 1
    assert cache.similar(unit(1, 0.1), "e", V1, 0.9) is not None  # a similar() hit refreshes too
    cache.put("w", V1, "w")
    assert cache.get("v", V1) is not None
    assert len(cache) == 3
    cache.close()


def test_similar_close_vector_with_same_evidence_hits(cache: AnswerCache) -> None:
    cache.put("q1", V1, '"near"', vector=unit(1, 0.1, 0), evidence="p1,p2")
    cache.put("q2", V1, '"far"', vector=unit(0, 1, 0), evidence="p1,p2")
    query = unit(1, 0.12, 0.02)
    hit = cache.similar(query, "p1,p2", V1, threshold=0.95)
    assert hit is not None and hit.payload == '"near"'
    assert hit.similarity == pytest.approx(float(unit(1, 0.1, 0) @ query), abs=1e-6)
    assert 0.95 <= hit.similarity < 1.0


def test_similar_computes_a_cosine_even_for_unnormalised_vectors(cache: AnswerCache) -> None:
    cache.put("q", V1, '"x"', vector=np.array([3.0, 0.0], dtype=np.float32), evidence="e")
    hit = cache.similar(np.array([0.0, 0.0]), "e", V1, 0.0)
    assert hit is None  # a zero vector has no direction
    hit = cache.similar(np.array([10.0, 10.0], dtype=np.float32), "e", V1, 0.7)
    assert hit is not None and hit.similarity == pytest.approx(2**-0.5)


def test_similar_same_vector_other_evidence_misses(cache: AnswerCache) -> None:
    cache.put("q", V1, '"x"', vector=unit(1, 2, 3), evidence="p1,p2")
    assert cache.similar(unit(1, 2, 3), "p1,p3", V1, 0.5) is None
    assert cache.similar(unit(1, 2, 3), "p1,p2", V2, 0.5) is None  # nor another index version
    hit = cache.similar(unit(1, 2, 3), "p1,p2", V1, 0.5)
    assert hit is not None and hit.similarity == pytest.approx(1.0)


def test_similar_below_threshold_misses(cache: AnswerCache) -> None:
    cache.put("q", V1, '"x"', vector=unit(1, 0), evidence="e")
    query = unit(1, 1)  # cosine 0.707
    assert cache.similar(query, "e", V1, threshold=0.8) is None
    assert cache.similar(query, "e", V1, threshold=0.7) is not None


def test_similar_ignores_vectors_of_another_dimension(cache: AnswerCache) -> None:
    cache.put("q", V1, '"x"', vector=unit(1, 0, 0, 0), evidence="e")
    assert cache.similar(unit(1, 0), "e", V1, 0.0) is None


def test_an_entry_written_by_another_process_is_read(sqlite_cache: AnswerCache) -> None:
    assert len(sqlite_cache) == 0  # the parent's connection is open before the child writes
    child = (
        "import sys; from pathlib import Path; import numpy as np; from rag.cache.store import AnswerCache; "
        "c = AnswerCache(Path(sys.argv[1])); "
        "c.put('k', sys.argv[2], '\"from child\"', vector=np.array([0.6, 0.8], dtype=np.float32), evidence='e'); "
        "c.close()"
    )
    subprocess.run([sys.executable, "-c", child, str(sqlite_cache.path), V1], cwd=ROOT, check=True, timeout=60)
    # The child wrote with the real clock; the fixture's clock is far in the past, so nothing is too old.
    hit = sqlite_cache.get("k", V1)
    assert hit is not None and hit.payload == '"from child"'
    hit = sqlite_cache.similar(unit(0.6, 0.8), "e", V1, 0.99)
    assert hit is not None and hit.payload == '"from child"'


@pytest.mark.parametrize("shared", [True, False], ids=["one-instance", "instance-per-thread"])
def test_concurrent_writers_from_four_threads(tmp_path: Path, caplog: pytest.LogCaptureFixture, shared: bool) -> None:
    path = tmp_path / "c.sqlite"
    one = AnswerCache(path) if shared else None
    opened: list[AnswerCache] = []
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            start.wait()
            cache = one or AnswerCache(path)  # like four workers starting at once on a new file
            opened.append(cache)
            for i in range(50):
                cache.put(f"{n}-{i}", V1, f'"{n}-{i}"', vector=unit(n + 1, i + 1), evidence="e")
                assert cache.get(f"{n}-{i}", V1) is not None
        except BaseException as exc:
            errors.append(exc)

    with caplog.at_level(logging.WARNING, logger="rag.cache.store"):
        threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    assert caplog.records == []  # failures are logged and swallowed, so the log is where they show
    assert len(opened[0]) == 200
    assert not list(tmp_path.glob("*.corrupt*"))
    for c in set(opened):
        c.close()


def test_workers_opening_a_new_file_together(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Four connections switching a new file to WAL at once: one round in ten lost it with "database is
    # locked" before _wal() waited for it, so run enough rounds to see it (30: about 1 s).
    def open_and_write(path: Path, start: threading.Barrier, n: int, opened: list[AnswerCache]) -> None:
        start.wait()
        cache = AnswerCache(path)
        cache.put(str(n), V1, "1")
        opened.append(cache)

    for i in range(30):
        opened: list[AnswerCache] = []
        start = threading.Barrier(4)
        args = [(tmp_path / f"c{i}.sqlite", start, n, opened) for n in range(4)]
        with caplog.at_level(logging.WARNING, logger="rag.cache.store"):
            threads = [threading.Thread(target=open_and_write, args=a) for a in args]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        assert caplog.records == []
        assert len(opened) == 4 and len(opened[0]) == 4
        for c in opened:
            c.close()


def test_corrupt_file_gives_an_empty_working_cache(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "c.sqlite"
    path.write_bytes(b"this is not a database, just garbage " * 200)
    Path(f"{path}-wal").write_bytes(b"its write-ahead log")
    with caplog.at_level(logging.WARNING, logger="rag.cache.store"):
        cache = AnswerCache(path)
    assert any(str(path) in r.getMessage() and "moved aside" in r.getMessage() for r in caplog.records)
    assert (tmp_path / "c.sqlite.corrupt").read_bytes().startswith(b"this is not a database")
    assert len(cache) == 0
    wal = Path(f"{path}-wal")
    assert not wal.exists() or b"its write-ahead log" not in wal.read_bytes()  # never replayed into the new file
    cache.put("k", V1, '"x"')
    assert cache.get("k", V1) is not None
    cache.close()


def test_newer_schema_is_dropped_and_recreated(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE answers (something_else TEXT)")
        conn.execute("INSERT INTO answers VALUES ('from a newer release')")
        conn.execute("PRAGMA user_version = 99")
    conn.close()
    cache = AnswerCache(path)
    assert len(cache) == 0
    assert not list(tmp_path.glob("*.corrupt*"))  # emptied on purpose, not taken for corrupt
    cache.put("k", V1, '"x"')
    assert cache.get("k", V1) is not None
    cache.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_errors_while_in_use_are_misses_and_no_ops(sqlite_cache: AnswerCache, caplog: pytest.LogCaptureFixture) -> None:
    sqlite_cache.put("k", V1, '"x"', vector=unit(1, 0), evidence="e")
    with sqlite3.connect(sqlite_cache.path) as other:
        other.execute("DROP TABLE answers")  # e.g. someone "cleaning up" by hand
    other.close()
    with caplog.at_level(logging.WARNING, logger="rag.cache.store"):
        assert sqlite_cache.get("k", V1) is None
        assert sqlite_cache.similar(unit(1, 0), "e", V1, 0.5) is None
        sqlite_cache.put("k", V1, '"x"')
        assert sqlite_cache.keep_only(V1) == 0
        assert len(sqlite_cache) == 0
    assert len(caplog.records) == 5
    assert all(str(sqlite_cache.path) in r.getMessage() for r in caplog.records)


def test_corruption_found_in_use_is_recovered(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "c.sqlite"
    cache = AnswerCache(path)
    for i in range(20):
        cache.put(f"k{i}", V1, '"' + "答え" * 1000 + '"')
    cache.close()  # the last connection checkpoints the WAL into the file
    data = path.read_bytes()
    path.write_bytes(data[:4096] + b"\xde\xad" * ((len(data) - 4096) // 2))  # header and schema page intact
    cache = AnswerCache(path)
    with caplog.at_level(logging.WARNING, logger="rag.cache.store"):
        assert cache.get("k3", V1) is None
    assert "is corrupt" in caplog.text and str(path) in caplog.text
    assert (tmp_path / "c.sqlite.corrupt").exists()
    cache.put("k3", V1, '"fresh"')
    hit = cache.get("k3", V1)
    assert hit is not None and hit.payload == '"fresh"'
    assert len(cache) == 1
    cache.close()


def test_a_locked_file_is_not_taken_for_corrupt(
    tmp_path: Path, clock: Clock, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "c.sqlite"
    first = AnswerCache(path)
    first.put("k", V1, '"kept"')
    monkeypatch.setattr("rag.cache.store.BUSY_TIMEOUT_S", 0.05)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process stuck in a write transaction
    with caplog.at_level(logging.WARNING, logger="rag.cache.store"):
        second = AnswerCache(path, clock=clock)
    assert "cannot be opened" in caplog.text
    assert second.get("k", V1) is None
    holder.execute("ROLLBACK")
    holder.close()
    assert not list(tmp_path.glob("*.corrupt*"))
    assert second.get("k", V1) is None  # not retried at once on every call
    clock.now += 61
    hit = second.get("k", V1)
    assert hit is not None and hit.payload == '"kept"'
    first.close()
    second.close()


def test_unusable_location_gives_a_cache_that_misses_until_fixed(
    tmp_path: Path, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")
    with caplog.at_level(logging.WARNING, logger="rag.cache.store"):
        cache = AnswerCache(blocker / "c.sqlite", clock=clock)
    assert "cannot be opened" in caplog.text and str(blocker) in caplog.text
    cache.put("k", V1, '"x"')
    assert cache.get("k", V1) is None
    assert len(cache) == 0
    blocker.unlink()
    clock.now += 61
    cache.put("k", V1, '"x"')
    assert cache.get("k", V1) is not None
    cache.close()


def test_closed_cache_misses_quietly(sqlite_cache: AnswerCache) -> None:
    sqlite_cache.put("k", V1, '"x"')
    sqlite_cache.close()
    assert sqlite_cache.get("k", V1) is None
    sqlite_cache.put("k2", V1, '"y"')
    sqlite_cache.close()


def test_an_entry_written_by_another_replica_is_read_through_redis(redis_url: str) -> None:
    redis.Redis.from_url(redis_url).flushdb()
    child = (
        "import sys; import numpy as np; from rag.cache.redis_store import RedisAnswerCache; "
        "c = RedisAnswerCache(sys.argv[1]); "
        "c.put('k', sys.argv[2], '\"from child\"', vector=np.array([0.6, 0.8], dtype=np.float32), evidence='e'); "
        "c.close()"
    )
    subprocess.run([sys.executable, "-c", child, redis_url, V1], cwd=ROOT, check=True, timeout=60)
    here = RedisAnswerCache(redis_url)
    hit = here.get("k", V1)
    assert hit is not None and hit.payload == '"from child"'
    near = here.similar(np.array([0.6, 0.79]), "e", V1, 0.99)
    assert near is not None and near.payload == '"from child"'


def test_a_redis_that_is_down_gives_misses_and_no_ops(caplog: pytest.LogCaptureFixture) -> None:
    from .servers import free_port

    down = RedisAnswerCache(f"redis://127.0.0.1:{free_port()}/0")
    with caplog.at_level(logging.WARNING):
        down.put("k", V1, '"x"', vector=unit(1, 0), evidence="e")
        assert down.get("k", V1) is None and down.similar(unit(1, 0), "e", V1, 0.5) is None
        assert down.keep_only(V1) == 0 and len(down) == 0
    assert "served as a miss" in caplog.text and "127.0.0.1" in caplog.text

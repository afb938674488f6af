"""The answer cache in Redis (RAG_REDIS_URL), shared by every replica on every machine; the same
contract as the SQLite `AnswerCache`, and like it only a cache: a Redis error is logged and becomes a
miss or a no-op, never an error for the reader.

Layout under one prefix: an entry is a hash `e:<version>:<key>` (payload, created, evidence, vector);
the sorted sets `used` and `created` order entries for least-recently-used and age eviction; the set
`ev:<version>:<evidence>` lists the keys whose near-duplicates may hit. Redis-py does the protocol."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import redis

from rag.cache.store import CachedAnswer, nearest

log = logging.getLogger(__name__)
T = TypeVar("T")
# Redis forgets an entry on its own a while after our age limit, should no later put prune it.
_TTL_MARGIN_S = 3600


class RedisAnswerCache:
    def __init__(
        self, url: str, max_entries: int = 5000, max_age_s: float = 7 * 86400, *, prefix: str = "rag:cache:",
        clock: Callable[[], float] = time.time,
    ) -> None:  # fmt: skip
        self.url, self.max_entries, self.max_age_s, self.p = url, max_entries, max_age_s, prefix
        self._clock = clock
        self.r = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)

    def _run(self, what: str, default: T, work: Callable[[], T]) -> T:
        try:
            return work()
        except redis.RedisError as exc:
            log.warning("answer cache at %s: %s failed (%s); served as a miss", self._where(), what, exc)
            return default

    def _where(self) -> str:
        kw = self.r.connection_pool.connection_kwargs
        return f"redis {kw.get('host', '?')}:{kw.get('port', '?')}"

    def _entry_key(self, version: str, key: str) -> str:
        return f"{self.p}e:{version}:{key}"

    def _touch(self, name: str, now: float) -> None:
        self.r.zadd(f"{self.p}used", {name: now})

    def get(self, key: str, version: str) -> CachedAnswer | None:
        def work() -> CachedAnswer | None:
            now = self._clock()
            name = self._entry_key(version, key)
            payload, created = self.r.hmget(name, ["payload", "created"])
            if payload is None or created is None or float(created) < now - self.max_age_s:
                return None
            self._touch(name, now)
            return CachedAnswer(payload=_decoded(payload), created=float(created), similarity=1.0)

        return self._run("get", None, work)

    def similar(self, vector: np.ndarray, evidence: str, version: str, threshold: float) -> CachedAnswer | None:
        query = np.asarray(vector, dtype=np.float64).ravel()
        query_norm = float(np.linalg.norm(query))
        if not np.isfinite(query_norm) or query_norm == 0.0:
            return None

        def work() -> CachedAnswer | None:
            now = self._clock()
            names = sorted(_decoded(n) for n in self.r.smembers(f"{self.p}ev:{version}:{evidence}"))
            pipe = self.r.pipeline()
            for name in names:
                pipe.hmget(name, ["payload", "created", "vector"])
            rows = [
                (name, _decoded(row[0]), float(row[1]), np.frombuffer(row[2], dtype=np.float32))
                for name, row in zip(names, pipe.execute(), strict=True)
                if row[0] is not None and row[2] and float(row[1]) >= now - self.max_age_s
                and len(row[2]) == query.size * 4  # vectors of another embedder never compare
            ]  # fmt: skip
            if not rows:
                return None
            best, cosine = nearest(np.stack([r[3] for r in rows]), query)
            if not cosine >= threshold:
                return None
            self._touch(rows[best][0], now)
            return CachedAnswer(payload=rows[best][1], created=rows[best][2], similarity=cosine)

        return self._run("similar", None, work)

    def put(self, key: str, version: str, payload: str, vector: np.ndarray | None = None, evidence: str = "") -> None:
        def work() -> None:
            now = self._clock()
            name = self._entry_key(version, key)
            fields: dict[str, str | bytes | float] = {"payload": payload, "created": now, "evidence": evidence}
            if vector is not None:
                fields["vector"] = np.asarray(vector, dtype=np.float32).ravel().tobytes()
            ttl = int(self.max_age_s) + _TTL_MARGIN_S
            pipe = self.r.pipeline()
            pipe.delete(name)  # a replaced entry keeps no field of the old one
            pipe.hset(name, mapping=fields)  # type: ignore[arg-type]
            pipe.expire(name, ttl)
            pipe.zadd(f"{self.p}used", {name: now})
            pipe.zadd(f"{self.p}created", {name: now})
            if vector is not None:
                pipe.sadd(f"{self.p}ev:{version}:{evidence}", name)
                pipe.expire(f"{self.p}ev:{version}:{evidence}", ttl)
            pipe.execute()
            too_old = self.r.zrangebyscore(f"{self.p}created", "-inf", f"({now - self.max_age_s}")
            self._drop([_decoded(n) for n in too_old])
            excess = int(self.r.zcard(f"{self.p}used")) - self.max_entries
            if excess > 0:
                self._drop([_decoded(n) for n in self.r.zrange(f"{self.p}used", 0, excess - 1)])

        self._run("put", None, work)

    def _drop(self, names: list[str]) -> int:
        if not names:
            return 0
        pipe = self.r.pipeline()
        pipe.delete(*names)
        pipe.zrem(f"{self.p}used", *names)
        pipe.zrem(f"{self.p}created", *names)
        return int(pipe.execute()[0])  # near-duplicate sets keep stale names; lookups skip them

    def keep_only(self, version: str) -> int:
        def work() -> int:
            mine = f"{self.p}e:{version}:"
            entries = (_decoded(n) for n in self.r.scan_iter(match=f"{self.p}e:*", count=500))
            others = [n for n in entries if not n.startswith(mine)]
            gone = self._drop(others)
            for ev in self.r.scan_iter(match=f"{self.p}ev:*", count=500):
                if not _decoded(ev).startswith(f"{self.p}ev:{version}:"):
                    self.r.delete(ev)
            return gone

        return self._run("keep_only", 0, work)

    def __len__(self) -> int:
        return self._run("len", 0, lambda: int(self.r.zcard(f"{self.p}used")))

    def close(self) -> None:
        self.r.close()


def _decoded(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)

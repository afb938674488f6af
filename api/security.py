"""Optional API keys and per-key (or per-IP) rate limits."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from fastapi import Request


class Unauthorized(Exception):
    pass


class RateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"rate limit reached; retry after {retry_after} s")
        self.retry_after = retry_after


def caller(request: Request, keys: frozenset[str]) -> str:
    """Who is calling: their API key when keys are configured (required then), else their address."""
    supplied = request.headers.get("x-api-key", "")
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        supplied = auth[7:].strip()
    if keys:
        if supplied not in keys:
            raise Unauthorized("missing or unknown API key: send Authorization: Bearer KEY or X-API-Key: KEY")
        return f"key:{supplied[:6]}"
    return f"ip:{request.client.host if request.client else 'unknown'}"


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token bucket per caller: `per_minute` requests a minute, with bursts up to the same number."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def check(self, who: str) -> None:
        if self.per_minute <= 0:
            return
        rate = self.per_minute / 60.0
        now = time.monotonic()
        with self._lock:
            b = self._buckets.setdefault(who, _Bucket(float(self.per_minute), now))
            b.tokens = min(float(self.per_minute), b.tokens + (now - b.updated) * rate)
            b.updated = now
            if b.tokens < 1.0:
                raise RateLimited(max(1, round((1.0 - b.tokens) / rate)))
            b.tokens -= 1.0
            if len(self._buckets) > 10_000:  # forget idle callers rather than grow without bound
                for k in [k for k, v in self._buckets.items() if now - v.updated > 600]:
                    del self._buckets[k]

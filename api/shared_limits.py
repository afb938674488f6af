"""Rate limits counted across replicas (RAG_REDIS_URL): the `limits` library's moving window in Redis,
so a client gets its quota once however many replicas nginx spreads it over."""

from __future__ import annotations

import logging
import math
import time

from limits import RateLimitItemPerMinute
from limits.errors import ConfigurationError
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from api.security import RateLimited

log = logging.getLogger("api")


class SharedRateLimiter:
    """`per_minute` requests in any 60-second window per caller, counted in Redis. When Redis cannot be
    reached the request passes (logged): an outage of the shared store must not lock every reader out."""

    def __init__(self, per_minute: int, redis_url: str, prefix: str = "rag:limits") -> None:
        self.per_minute = per_minute
        self.item = RateLimitItemPerMinute(max(per_minute, 1))
        try:
            self.storage = storage_from_string(redis_url, key_prefix=prefix)
        except ConfigurationError as exc:
            raise ValueError(f"RAG_REDIS_URL {redis_url!r} is not a Redis URL: {exc}") from exc
        self.window = MovingWindowRateLimiter(self.storage)

    def check(self, who: str) -> None:
        if self.per_minute <= 0:
            return
        try:
            if self.window.hit(self.item, who):
                return
            reset = self.window.get_window_stats(self.item, who).reset_time
        except Exception as exc:  # redis-py's errors arrive wrapped differently per limits version
            log.warning("shared rate limit unavailable (%s); request let through", exc)
            return
        raise RateLimited(max(1, math.ceil(reset - time.time())))

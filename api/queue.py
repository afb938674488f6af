"""Admission for answers. One embedded model generates one answer at a time (its own lock orders
them); here we only bound how many may wait, and refuse the rest at once with a Retry-After that
reflects recent answer times, instead of letting them time out."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator


class QueueFull(Exception):
    def __init__(self, retry_after: int, depth: int) -> None:
        super().__init__(f"{depth} answers are already in progress or waiting; retry after {retry_after} s")
        self.retry_after = retry_after


class GenerationQueue:
    def __init__(self, max_waiting: int, seconds_per_answer: float = 15.0) -> None:
        self.capacity = 1 + max_waiting  # the one generating plus those waiting
        self.seconds_per_answer = seconds_per_answer  # moving average of observed answers
        self.depth = 0

    def check(self) -> None:
        """A full queue is a 429 now, before a streamed response has begun."""
        if self.depth >= self.capacity:
            raise QueueFull(max(1, round(self.seconds_per_answer * (self.depth - self.capacity + 1))), self.depth)

    @contextlib.contextmanager
    def admit(self, checked: bool = False) -> Iterator[None]:
        """Holds a place while the answer runs. `checked`: the caller already called `check()` when it
        accepted the request (a stream takes its place only once its body starts, so a client that
        leaves before that holds none)."""
        if not checked:
            self.check()
        self.depth += 1
        started = time.monotonic()
        try:
            yield
        finally:
            self.depth -= 1
            self.seconds_per_answer = 0.8 * self.seconds_per_answer + 0.2 * (time.monotonic() - started)

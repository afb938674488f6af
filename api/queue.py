"""Admission for answers: bound how many may be in progress or waiting for the model's slots, in all and
per caller, and refuse the rest at once with a Retry-After that reflects recent answer times, instead
of letting them time out. The model's gate (rag/llm/gate.py) then serves the admitted fairly between callers."""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Iterator


class QueueFull(Exception):
    def __init__(self, retry_after: int, message: str) -> None:
        super().__init__(f"{message}; retry after {retry_after} s")
        self.retry_after = retry_after


class GenerationQueue:
    def __init__(self, max_waiting: int, per_caller: int = 2, slots: int = 1, seconds_per_answer: float = 15.0) -> None:
        self.capacity = slots + max_waiting  # those generating plus those waiting
        self.per_caller = per_caller  # places one caller may hold; 0 = no limit
        self.seconds_per_answer = seconds_per_answer  # moving average of observed answers
        self.depth = 0
        self._held: Counter[str] = Counter()

    def check(self, who: str = "") -> None:
        """A full queue, or a caller holding its share of it, is a 429 now, before a stream has begun."""
        mine = self._held[who]
        if self.per_caller and mine >= self.per_caller:
            wait = max(1, round(self.seconds_per_answer * mine))
            raise QueueFull(wait, f"you already have {mine} answers in progress or waiting (RAG_QUEUE_PER_CALLER)")
        if self.depth >= self.capacity:
            wait = max(1, round(self.seconds_per_answer * (self.depth - self.capacity + 1)))
            raise QueueFull(wait, f"{self.depth} answers are already in progress or waiting")

    @contextlib.contextmanager
    def admit(self, who: str = "", checked: bool = False) -> Iterator[None]:
        """Holds a place while the answer runs. `checked`: the caller already called `check()` when it
        accepted the request (a stream takes its place only once its body starts, so a client that
        leaves before that holds none)."""
        if not checked:
            self.check(who)
        self.depth += 1
        self._held[who] += 1
        started = time.monotonic()
        try:
            yield
        finally:
            self.depth -= 1
            self._held[who] -= 1
            if not self._held[who]:
                del self._held[who]
            self.seconds_per_answer = 0.8 * self.seconds_per_answer + 0.2 * (time.monotonic() - started)

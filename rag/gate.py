"""The model's door: at most `slots` generations at once (one llama.cpp context serves one). A request
waits here, not inside the model, so one whose reader left, or whose deadline passed while it waited,
never reaches the model, and the first-token deadline can count from when the model starts on it."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator


class ModelGate:
    def __init__(self, slots: int = 1, poll_s: float = 0.05) -> None:
        self.slots = slots
        self._free = threading.Semaphore(slots)
        self._poll_s = poll_s  # how soon a waiting request notices that its reader left
        self._lock = threading.Lock()
        self.waiting = 0
        self.busy = 0

    @contextlib.contextmanager
    def enter(self, gone: Callable[[], bool]) -> Iterator[bool]:
        """Yields True once a slot is ours, or False as soon as `gone()` says the request no longer
        needs one (its reader left or its deadline passed); the slot is released on exit."""
        with self._lock:
            self.waiting += 1
        got = False
        try:
            while not gone():
                if self._free.acquire(timeout=self._poll_s):
                    got = True
                    break
        finally:
            with self._lock:
                self.waiting -= 1
                self.busy += got
        if got and gone():  # left in the instant the slot came free
            self._release()
            got = False
        try:
            yield got
        finally:
            if got:
                self._release()

    def _release(self) -> None:
        with self._lock:
            self.busy -= 1
        self._free.release()

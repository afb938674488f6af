"""A door with a few slots: the model's (one llama.cpp context serves one generation) and the CPU work
before it (retrieval, evidence, key passage: as many at once as there are cores). A request waits here,
not inside the work, so one whose reader left, or whose deadline passed while it waited, never starts it,
and the model's first-token deadline can count from when the model starts on the request.

Slots go to waiting requests fairly, in turns between callers: the one whose caller has been served
least since it last had nothing waiting, counting its places ahead in the line, goes first (oldest first
among equals). A caller who sends many questions at once never makes another caller's first question
wait behind them all: it waits for at most the one being answered and the flood's next."""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections import Counter
from collections.abc import Callable, Iterator


class ModelGate:
    def __init__(self, slots: int = 1, poll_s: float = 0.05) -> None:
        self.slots = slots
        self._poll_s = poll_s  # how soon a waiting request notices that its reader left
        self._cond = threading.Condition()
        self._tickets = itertools.count()
        self._queue: list[tuple[int, str]] = []  # (ticket, caller) of waiting requests, oldest first
        self._holding: Counter[str] = Counter()  # slots held, by caller
        self._served: Counter[str] = Counter()  # slots granted, by caller, since it last had nothing here
        self.waiting = 0
        self.busy = 0

    def _first(self) -> int | None:
        """The ticket to serve next: its caller served least (and fewest places ahead), then oldest."""
        ahead: Counter[str] = Counter()
        best: tuple[int, int] | None = None
        for ticket, who in self._queue:
            rank = (self._served[who] + ahead[who], ticket)
            ahead[who] += 1
            if best is None or rank < best:
                best = rank
        return best[1] if best else None

    @contextlib.contextmanager
    def enter(self, gone: Callable[[], bool], who: str = "") -> Iterator[bool]:
        """Yields True once a slot is ours, or False as soon as `gone()` says the request no longer
        needs one (its reader left or its deadline passed); the slot is released on exit. `who` names
        the caller, for fairness between callers."""
        ticket = next(self._tickets)
        got = False
        with self._cond:
            self._queue.append((ticket, who))
            self.waiting += 1
            try:
                while not gone():
                    if self.busy < self.slots and self._first() == ticket:
                        got = True
                        break
                    self._cond.wait(self._poll_s)
                if got and gone():  # left in the instant the slot came free
                    got = False
            finally:
                self._queue.remove((ticket, who))
                self.waiting -= 1
                if got:
                    self.busy += 1
                    self._holding[who] += 1
                    self._served[who] += 1
                self._forget(who)
                self._cond.notify_all()
        try:
            yield got
        finally:
            if got:
                with self._cond:
                    self.busy -= 1
                    self._holding[who] -= 1
                    self._forget(who)
                    self._cond.notify_all()

    def _forget(self, who: str) -> None:
        """A caller with nothing held or waiting starts afresh next time (and costs no memory)."""
        if self._holding[who] <= 0 and not any(w == who for _, w in self._queue):
            self._holding.pop(who, None)
            self._served.pop(who, None)

"""The model's part of an answer: wait at the gate, then stream tokens under deadlines.

A request whose reader left, or whose wait passed `queue_s`, never reaches the model. The deadlines
(first token, total) count from when the model starts on the request, not from time spent queued."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from rag.llm.base import LLM, LLMFailed, LLMUnavailable, Message, Usage
from rag.llm.bridge import Bridge
from rag.llm.gate import ModelGate


@dataclass(frozen=True)
class Limits:
    """How much a generation may write and how long it may take: deadlines from when the model starts on
    it, and the longest wait for the model before that."""

    max_tokens: int
    first_token_s: float
    total_s: float
    queue_s: float

    def shorter(self, max_tokens: int, first_token_s: float, total_s: float) -> Limits:
        """The limits of a short side request (search terms, a pick, a translation)."""
        return Limits(max_tokens, min(self.first_token_s, first_token_s), min(self.total_s, total_s), self.queue_s)


class LLMTimeout(LLMFailed):
    pass


class ModelBusy(LLMFailed):
    """The request waited longer than `queue_s` for the model."""


def generate(
    llm: LLM, gate: ModelGate, messages: list[Message], limits: Limits, cancel: threading.Event,
    grammar: str | None = None, timings: dict[str, float] | None = None, who: str = "",
) -> Iterator[str | Usage]:  # fmt: skip
    """Text deltas then a `Usage`; nothing at all when the reader left before the model was free."""
    arrived = time.monotonic()
    give_up = arrived + limits.queue_s

    def gone() -> bool:
        return cancel.is_set() or time.monotonic() >= give_up

    with gate.enter(gone, who) as ours:
        if not ours:
            if cancel.is_set():
                return  # the reader left: nobody to answer
            raise ModelBusy(f"waited {limits.queue_s:.0f} s for the model")
        start = time.monotonic()
        if timings is not None:
            timings["queue_ms"] = round((start - arrived) * 1000, 1)
        bridge: Bridge[str | Usage] = Bridge(
            lambda stop: llm.stream(messages, max_tokens=limits.max_tokens, grammar=grammar, cancel=stop), "llm"
        )
        first = True
        try:
            while not cancel.is_set():
                limit = limits.first_token_s if first else limits.total_s
                left = start + limit - time.monotonic()
                if left <= 0:
                    raise LLMTimeout(f"no {'first token' if first else 'end'} within {limit:.0f} s")
                try:
                    item = bridge.get(timeout=min(left, 0.25))  # wake up to notice a cancel
                except queue.Empty:
                    continue
                except (LLMFailed, LLMUnavailable):
                    raise
                except Exception as exc:  # a backend's own error type: the answer degrades, never crashes
                    raise LLMFailed(str(exc)) from exc
                if item is None:
                    return
                first = first and not isinstance(item, str)
                yield item
        finally:
            bridge.close()
            # Hold the slot until the model has really stopped (it checks between prompt slices and
            # tokens), so the next request's deadline does not start while this one still runs.
            bridge.join(limits.first_token_s)


def complete(
    llm: LLM, gate: ModelGate, messages: list[Message], limits: Limits, cancel: threading.Event,
    grammar: str | None = None, timings: dict[str, float] | None = None, who: str = "",
) -> str | None:  # fmt: skip
    """The whole text of a short side request (search terms, a pick, a translation), or None when the
    model is busy, slow or failing: the caller then goes on without it."""
    text = ""
    try:
        for item in generate(llm, gate, messages, limits, cancel, grammar, timings, who):
            if isinstance(item, str):
                text += item
    except (LLMFailed, LLMUnavailable):
        return None
    return text

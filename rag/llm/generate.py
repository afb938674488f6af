"""The model's part of an answer: wait at the gate, then stream tokens under deadlines.

A request whose reader left, or whose wait passed `queue_s`, never reaches the model. The deadlines
(first token, total) count from when the model starts on the request, not from time spent queued."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator

from rag.config import AnswerConfig
from rag.llm.base import LLM, LLMFailed, LLMUnavailable, Message, Usage
from rag.llm.bridge import Bridge
from rag.llm.gate import ModelGate


class LLMTimeout(LLMFailed):
    pass


class ModelBusy(LLMFailed):
    """The request waited longer than `queue_s` for the model."""


def generate(
    llm: LLM, gate: ModelGate, messages: list[Message], cfg: AnswerConfig, cancel: threading.Event,
    grammar: str | None = None, timings: dict[str, float] | None = None, who: str = "",
) -> Iterator[str | Usage]:  # fmt: skip
    """Text deltas then a `Usage`; nothing at all when the reader left before the model was free."""
    arrived = time.monotonic()
    give_up = arrived + cfg.queue_s

    def gone() -> bool:
        return cancel.is_set() or time.monotonic() >= give_up

    with gate.enter(gone, who) as ours:
        if not ours:
            if cancel.is_set():
                return  # the reader left: nobody to answer
            raise ModelBusy(f"waited {cfg.queue_s:.0f} s for the model")
        start = time.monotonic()
        if timings is not None:
            timings["queue_ms"] = round((start - arrived) * 1000, 1)
        bridge: Bridge[str | Usage] = Bridge(
            lambda stop: llm.stream(messages, max_tokens=cfg.max_tokens, grammar=grammar, cancel=stop), "llm"
        )
        first = True
        try:
            while not cancel.is_set():
                limit = cfg.first_token_s if first else cfg.total_s
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
            bridge.join(cfg.first_token_s)

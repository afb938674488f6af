"""Answer events for async code (through rag's one thread bridge) and their SSE framing."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from rag.llm.bridge import Bridge


def events_in_thread(produce: Callable[[threading.Event], Iterator[Any]]) -> AsyncIterator[Any]:
    """The synchronous answer stream runs in a worker; when the client goes away, the bridge's stop
    event tells the pipeline, which stops the model at its next token or prompt slice."""
    return Bridge(produce, "answer").aiter()


def sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"

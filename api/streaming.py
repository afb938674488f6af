"""Runs the synchronous answer stream in a worker thread and hands its events to async code; when
the client goes away, the cancel event stops the model at its next token."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

_DONE = object()


async def events_in_thread(produce: Callable[[threading.Event], Iterator[Any]]) -> AsyncIterator[Any]:
    loop = asyncio.get_running_loop()
    out: asyncio.Queue[Any] = asyncio.Queue()
    cancel = threading.Event()

    def put(item: Any) -> None:
        try:
            loop.call_soon_threadsafe(out.put_nowait, item)
        except RuntimeError:  # the loop is gone (server shutting down): nobody is listening
            cancel.set()

    def work() -> None:
        try:
            for event in produce(cancel):
                put(event)
                if cancel.is_set():
                    break
        except BaseException as exc:  # delivered to the consumer, which maps it to an error event
            put(exc)
        finally:
            put(_DONE)

    thread = threading.Thread(target=work, name="answer", daemon=True)
    thread.start()
    try:
        while True:
            item = await out.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        cancel.set()  # normal end, error or client disconnect


def sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"

"""One thread bridge: a blocking producer (a model stream, the answer pipeline) runs in a worker
thread, and its items reach a consumer, blocking or async, through one queue. Stopping the bridge
sets the producer's `stop` event, which it checks between items (and the models between slices)."""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncGenerator, Callable, Iterable
from typing import Generic, TypeVar

T = TypeVar("T")


class _End:
    pass


_END = _End()


class Bridge(Generic[T]):
    def __init__(self, produce: Callable[[threading.Event], Iterable[T]], name: str = "bridge") -> None:
        self.stop = threading.Event()
        self._items: queue.Queue[T | BaseException | _End] = queue.Queue()
        self._wake: Callable[[], None] | None = None  # set by an async consumer
        self._thread = threading.Thread(target=self._produce, args=(produce,), name=name, daemon=True)
        self._thread.start()

    def _put(self, item: T | BaseException | _End) -> None:
        self._items.put(item)
        wake = self._wake
        if wake is not None:
            wake()

    def _produce(self, produce: Callable[[threading.Event], Iterable[T]]) -> None:
        try:
            for item in produce(self.stop):
                self._put(item)
                if self.stop.is_set():
                    break
        except BaseException as exc:  # handed to the consumer, which decides what it means
            self._put(exc)
        finally:
            self._put(_END)

    def get(self, timeout: float) -> T | None:
        """The next item; None at the end. Raises `queue.Empty` after `timeout` seconds without one,
        and re-raises what the producer raised."""
        item = self._items.get(timeout=timeout)
        if isinstance(item, _End):
            self._items.put(item)  # the end stays the end for later calls
            return None
        if isinstance(item, BaseException):
            raise item
        return item

    async def aiter(self) -> AsyncGenerator[T, None]:
        """Items for async code; leaving the loop early (the client went away) stops the producer."""
        loop = asyncio.get_running_loop()
        ready = asyncio.Event()

        def wake() -> None:
            try:
                loop.call_soon_threadsafe(ready.set)
            except RuntimeError:  # the loop is gone (server shutting down): nobody is listening
                self.stop.set()

        self._wake = wake
        try:
            while True:
                try:
                    item = self.get(timeout=0)
                except queue.Empty:
                    await ready.wait()
                    ready.clear()
                    continue
                if item is None:
                    return
                yield item
        finally:
            self.close()

    def close(self) -> None:
        self.stop.set()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

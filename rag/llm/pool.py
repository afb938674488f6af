"""Several LLM servers behind one `LLM` (RAG_LLM_URL=a,b,…): each request goes to the upstream with the
fewest requests in flight; one that fails or cannot be reached before its first token is taken out for
a back-off period and the request is tried once more elsewhere, so a server that dies costs no reader
an error. After the first token the text is the reader's: a failure then is the caller's to handle."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from rag.llm.base import LLM, LLMFailed, LLMUnavailable, Message, Usage

log = logging.getLogger(__name__)
BACKOFF_S = (5.0, 60.0)  # the first pause after a failure, doubled per failure in a row up to the second


@dataclass
class Upstream:
    llm: LLM
    in_flight: int = 0
    failures: int = 0  # in a row
    down_until: float = 0.0
    served: int = 0
    failed: int = 0  # in all

    def up(self, now: float) -> bool:
        return now >= self.down_until

    def state(self, now: float) -> dict[str, object]:
        return {"name": self.llm.name, "up": self.up(now), "in_flight": self.in_flight, "served": self.served,
                "failed": self.failed, "back_in_s": round(max(0.0, self.down_until - now), 1)}  # fmt: skip


class UpstreamPool:
    def __init__(self, members: Sequence[LLM], clock: Callable[[], float] = time.monotonic) -> None:
        if not members:
            raise LLMUnavailable("no LLM upstream given")
        self.upstreams = [Upstream(m) for m in members]
        self.name = "pool[" + ", ".join(m.name for m in members) + "]"
        self._clock = clock
        self._lock = threading.Lock()

    def _pick_upstream(self, tried: set[int]) -> int | None:
        now = self._clock()
        with self._lock:
            order = [i for i in range(len(self.upstreams)) if i not in tried]
            live = [i for i in order if self.upstreams[i].up(now)] or order  # all down: try the least bad
            if not live:
                return None
            best = min(live, key=lambda i: (self.upstreams[i].in_flight, self.upstreams[i].served, i))  # ties: spread
            self.upstreams[best].in_flight += 1
            return best

    def _done(self, i: int, ok: bool) -> None:
        with self._lock:
            u = self.upstreams[i]
            u.in_flight -= 1
            if ok:
                u.failures, u.down_until = 0, 0.0
                u.served += 1
                return
            u.failures += 1
            u.failed += 1
            pause = min(BACKOFF_S[0] * 2 ** (u.failures - 1), BACKOFF_S[1])
            u.down_until = self._clock() + pause
            log.warning("LLM upstream %s failed; out for %.0f s", u.llm.name, pause)

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int = 400, temperature: float = 0.0,
        grammar: str | None = None, stop: Sequence[str] = (), cancel: threading.Event | None = None,
    ) -> Iterator[str | Usage]:  # fmt: skip
        tried: set[int] = set()
        last: Exception | None = None
        for _attempt in range(2):  # once, and once more elsewhere
            i = self._pick_upstream(tried)
            if i is None:
                break
            tried.add(i)
            started = False
            try:
                for item in self.upstreams[i].llm.stream(messages, max_tokens=max_tokens, temperature=temperature,
                                                         grammar=grammar, stop=stop, cancel=cancel):  # fmt: skip
                    started = started or isinstance(item, str)
                    yield item
            except (LLMUnavailable, LLMFailed) as exc:
                self._done(i, ok=False)
                if started or (cancel is not None and cancel.is_set()):
                    raise  # the reader has text from this upstream: no silent restart elsewhere
                last = exc
                continue
            except BaseException:  # the consumer stopped (a departure) or something unexpected
                self._done(i, ok=True)
                raise
            self._done(i, ok=True)
            return
        raise LLMUnavailable(f"no LLM upstream could answer: {last}")

    def states(self) -> list[dict[str, object]]:
        now = self._clock()
        with self._lock:
            return [u.state(now) for u in self.upstreams]

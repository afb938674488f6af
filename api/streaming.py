"""One answer for one HTTP request, as events: admitted by the answer queue, produced by the blocking
pipeline in a worker (rag's thread bridge), its final answer counted and logged. `POST /v1/ask` and the
OpenAI-compatible endpoint each translate these events into their own wire format; a whole answer is
the stream's last event."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import replace

import anyio
from fastapi import Request

from api.deps import caller
from api.errors import AnswerIncomplete, ReaderLeft
from api.services import Services
from rag.llm.base import Message
from rag.llm.bridge import Bridge
from rag.retrieval.filters import Filters
from rag.types import Answer, Done, Event


class AnswerRun:
    def __init__(self, svc: Services, question: str, history: list[Message], filters: Filters | None, who: str) -> None:
        self.svc, self.question, self.history, self.filters, self.who = svc, question, history, filters, who
        self.left = False  # the client went away: set by `leave()`, never by the end of the answer
        self._bridge: Bridge[Event] | None = None

    async def events(self, checked: bool = True) -> AsyncGenerator[Event, None]:
        """The answer's events, `Done` carrying the answer with the id feedback names. `checked`: the
        endpoint already called `queue.check()` when it accepted the request (a stream takes its place
        only once its body starts, so a client that leaves before that holds none)."""
        svc = self.svc
        with svc.queue.admit(self.who, checked=checked):
            svc.metrics.queue_depth.set(svc.queue.depth)
            answerer = svc.answerer()
            # the bridge's stop event reaches the pipeline, which stops the model at its next token or slice
            bridge: Bridge[Event] = Bridge(
                lambda stop: answerer.stream(self.question, self.history, self.filters, stop, self.who), "answer"
            )
            self._bridge = bridge
            if self.left:
                bridge.close()
            async with aclosing(bridge.aiter()) as events:  # leaving the loop early stops the producer
                async for event in events:
                    if isinstance(event, Done):
                        event = replace(event, answer=await self._record(event.answer))
                    yield event
        svc.metrics.queue_depth.set(svc.queue.depth)

    def leave(self) -> None:
        """The client went away: the pipeline stops at its next check."""
        self.left = True
        if self._bridge is not None:
            self._bridge.close()

    async def _record(self, answer: Answer) -> Answer:
        svc = self.svc
        svc.metrics.answers.labels(mode=answer.mode).inc()
        svc.metrics.tokens.labels(kind="prompt").inc(answer.usage.prompt_tokens)
        svc.metrics.tokens.labels(kind="completion").inc(answer.usage.completion_tokens)
        if "ttft_ms" in answer.timings:
            svc.metrics.ttft.observe(answer.timings["ttft_ms"] / 1000)
        return await anyio.to_thread.run_sync(svc.logged, self.question, answer)


async def answer_whole(
    svc: Services, request: Request, question: str, history: list[Message], filters: Filters | None
) -> Answer:
    """A non-streamed answer. A client that leaves stops it at the next check, as a streamed one does:
    otherwise it would go on holding its place in the queue and the model for nobody."""
    run = AnswerRun(svc, question, history, filters, caller(request))
    watch = asyncio.create_task(_leave_when_gone(request, run))
    try:
        async with aclosing(run.events(checked=False)) as events:
            async for event in events:
                if isinstance(event, Done):
                    return event.answer
    finally:
        watch.cancel()
    if run.left:
        raise ReaderLeft("the client closed the connection before the answer was ready")
    raise AnswerIncomplete("the answer ended without a result; try again")


async def _leave_when_gone(request: Request, run: AnswerRun) -> None:
    while not run.left:
        if await request.is_disconnected():
            run.leave()
            return
        await asyncio.sleep(0.25)

"""HTTP → rag calls and back. No logic beyond translating requests, responses and errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from pathlib import Path
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.schemas import AskIn, AskOut, ErrorOut, FeedbackIn, FeedbackOut, FiltersIn, SearchIn, SearchOut
from api.security import PUBLIC_PATHS, Unauthorized, address
from api.services import Services
from api.streaming import events_in_thread, sse
from index.errors import ArchiveQAError
from rag.llm.base import Message
from rag.llm.bridge import Bridge
from rag.render import answer_json, hit_json, quoted_json, related_json
from rag.retrieval.filters import Filters
from rag.types import Answer, Delta, Done, Event, Passages, Sources

STATIC = Path(__file__).with_name("static")
router = APIRouter()
_search_slots = anyio.CapacityLimiter(2)  # two cores: more parallel searches only queue inside torch

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": text}
    for code, text in {
        400: "the body is not valid JSON",
        401: "API key missing or unknown (when RAG_API_KEYS is set)",
        403: "the key may not call this endpoint (admin endpoints need an operator key of RAG_ADMIN_KEYS)",
        413: "request body too large",
        422: "invalid request: the detail says which field and why",
        429: "rate limit or answer queue full: see Retry-After",
        503: "no index loaded yet: run rag ingest",
    }.items()
}


class IndexUnavailable(ArchiveQAError):
    """No index is loaded yet."""


class ReaderLeft(ArchiveQAError):
    """The client went away before its answer was ready."""


class FeedbackUnavailable(ArchiveQAError):
    """The question log, where ratings go, is not running."""


class AnswerIncomplete(ArchiveQAError):
    """The answer pipeline ended without an answer (a failure the log holds)."""


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


def guard(request: Request) -> Services:
    svc = services(request)
    try:
        who = svc.keys.identify(request)
    except Unauthorized:
        svc.limiter.check(f"ip:{address(request)}")  # a guessed key costs the guesser's address a request
        raise
    if who.role == "public":
        if request.url.path not in PUBLIC_PATHS:
            svc.public_limiter.check(who.bucket)
            raise Unauthorized("this endpoint needs an API key: a page of the blog may only ask, search and rate")
        svc.public_limiter.check(who.bucket)
    else:
        svc.limiter.check(who.bucket)
    request.state.caller = who.bucket  # the queue and the model's gate share their places fairly by it
    return svc


def caller(request: Request) -> str:
    return str(getattr(request.state, "caller", ""))


def operator(request: Request) -> Services:
    svc = services(request)
    try:
        svc.keys.require_admin(request)
    except Unauthorized:
        svc.limiter.check(f"ip:{address(request)}")
        raise
    return svc


Operator = Annotated[Services, Depends(operator)]


Guarded = Annotated[Services, Depends(guard)]


def _engine(svc: Services) -> Any:
    if svc.engine is None:  # the reason, with its paths, is for the operator: the log and /readyz with a key
        raise IndexUnavailable("the index is not loaded yet: an operator must run rag ingest; try again later")
    return svc.engine


def filters_of(f: FiltersIn | None) -> Filters | None:
    return Filters(f.category, tuple(f.tags), f.since, f.until) if f else None


@router.post("/v1/search", response_model=SearchOut, responses=ERRORS, tags=["query"])
async def search(body: SearchIn, svc: Guarded) -> dict[str, Any]:
    """The posts that best match a query (Japanese BM25 + dense search, fused; one hit per post)."""
    engine = _engine(svc)
    found = await anyio.to_thread.run_sync(
        lambda: engine.search(body.query, body.k, filters_of(body.filters)), limiter=_search_slots
    )
    return {"hits": [hit_json(h) for h in found.result.hits], "took_ms": found.result.took_ms}


def _history(turns: list[Any]) -> list[Message]:
    return [Message(t.role, t.content) for t in turns]


async def answer_whole(
    svc: Services, request: Request, question: str, history: list[Message], filters: Filters | None
) -> Answer:
    """A non-streamed answer. A client that leaves stops it at the next check, as a streamed one does:
    otherwise it would go on holding its place in the queue and the model for nobody."""
    answerer, who = svc.answerer(), caller(request)
    with svc.queue.admit(who):
        svc.metrics.queue_depth.set(svc.queue.depth)
        bridge: Bridge[Event] = Bridge(lambda c: answerer.stream(question, history, filters, c, who), "answer")
        watch = asyncio.create_task(_stop_when_gone(request, bridge))
        try:
            async for event in bridge.aiter():
                if isinstance(event, Done):
                    return await record(svc, question, event.answer)
        finally:
            watch.cancel()
    if bridge.stop.is_set():
        raise ReaderLeft("the client closed the connection before the answer was ready")
    raise AnswerIncomplete("the answer ended without a result; try again")


async def _stop_when_gone(request: Request, bridge: Bridge[Event]) -> None:
    while not bridge.stop.is_set():
        if await request.is_disconnected():
            bridge.close()
            return
        await asyncio.sleep(0.25)


async def record(svc: Services, question: str, answer: Answer) -> Answer:
    """Counts the answer and logs the question; the answer comes back with the id feedback names."""
    svc.metrics.answers.labels(mode=answer.mode).inc()
    svc.metrics.tokens.labels(kind="prompt").inc(answer.usage.prompt_tokens)
    svc.metrics.tokens.labels(kind="completion").inc(answer.usage.completion_tokens)
    if "ttft_ms" in answer.timings:
        svc.metrics.ttft.observe(answer.timings["ttft_ms"] / 1000)
    return await anyio.to_thread.run_sync(svc.logged, question, answer)


@router.post(
    "/v1/ask",
    response_model=AskOut,
    responses={
        **ERRORS,
        200: {
            "description": (
                "the answer; with stream=true a text/event-stream of sources, passage, delta, done and error events"
            ),
            "content": {"text/event-stream": {"example": 'event: delta\ndata: {"text": "…"}\n\n'}},
        },
    },
    tags=["query"],
)
async def ask(body: AskIn, request: Request, svc: Guarded) -> Any:
    """A grounded answer with numbered citations, or a not-in-archive reply."""
    engine = _engine(svc)
    del engine  # checked only: a missing index is a 503 before any streaming starts
    history, filters = _history(body.history), filters_of(body.filters)
    if not body.stream:
        return answer_json(await answer_whole(svc, request, body.question, history, filters))
    who = caller(request)
    svc.queue.check(who)  # a full queue is a 429 now, not an error event later
    return StreamingResponse(_sse(svc, body.question, history, filters, who), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})  # fmt: skip


async def _sse(
    svc: Services, question: str, history: list[Message], filters: Filters | None, who: str
) -> AsyncIterator[str]:
    with svc.queue.admit(who, checked=True):  # taken when the body starts: a client gone before holds nothing
        svc.metrics.queue_depth.set(svc.queue.depth)
        async with aclosing(_sse_events(svc, question, history, filters, who)) as events:  # a departure stops it
            async for chunk in events:
                yield chunk
    svc.metrics.queue_depth.set(svc.queue.depth)


async def _sse_events(
    svc: Services, question: str, history: list[Message], filters: Filters | None, who: str
) -> AsyncGenerator[str, None]:
    answerer = svc.answerer()
    try:
        async for event in events_in_thread(lambda c: answerer.stream(question, history, filters, c, who)):
            if isinstance(event, Sources):
                yield sse("sources", {"posts": [related_json(p) for p in event.posts]})
            elif isinstance(event, Passages):
                yield sse("passage", {"passages": [quoted_json(q) for q in event.quotes], "passage_ms": event.ms})
            elif isinstance(event, Delta):
                yield sse("delta", {"text": event.text})
            elif isinstance(event, Done):
                yield sse("done", answer_json(await record(svc, question, event.answer)))
    except ArchiveQAError as exc:
        yield sse("error", {"error": type(exc).__name__, "detail": str(exc)})
    except Exception:  # the log has the trace; the client gets a sentence
        import logging

        logging.getLogger("api").exception("answer stream failed")
        yield sse("error", {"error": "internal", "detail": "the answer failed; try again"})


@router.post("/v1/feedback", response_model=FeedbackOut, responses={**ERRORS, 404: {"model": ErrorOut,
             "description": "no answer with this id (too old, or never given)"}}, tags=["query"])  # fmt: skip
async def rate(body: FeedbackIn, svc: Guarded) -> dict[str, str]:
    """A reader's thumbs up or down (and an optional comment) on an answer, by its `id`."""
    if svc.log is None:
        raise FeedbackUnavailable("ratings cannot be kept: the question log did not start (see the server log)")
    await anyio.to_thread.run_sync(svc.log.rate, body.answer_id, body.rating, body.comment)
    return {"answer_id": body.answer_id, "rating": body.rating}


@router.get("/healthz", tags=["operations"])
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz", tags=["operations"], responses={503: {"model": ErrorOut}})
async def readyz(request: Request) -> Response:
    """Index loaded and models ready (the LLM may be unavailable: answers are then extractive). Without an
    operator key: ready or not, and which parts; with one, also the models, servers and errors behind them."""
    svc = services(request)
    full = _is_operator(svc, request)
    parts = {"index": svc.engine is not None, "embedder": svc.embedder is not None, "llm": svc.llm is not None}
    if svc.engine is None:
        body: dict[str, object] = {"status": "not_ready", "parts": parts}
        if full:
            body["detail"] = svc.index_error or "loading"
        return JSONResponse(body, status_code=503)
    body = {"status": "ready", "index_version": svc.engine.version, "parts": parts}
    if svc.engine.retriever.lexical_only:
        body["retrieval"] = "lexical only (BM25): the index's vectors are still being computed"
    if not full:
        return JSONResponse(body)
    body["llm"] = svc.llm.name if svc.llm else f"unavailable: {svc.llm_error or 'disabled'} (extractive answers)"
    body["embedder"] = svc.engine.embedder.name
    if svc.server is not None and svc.server.proc is not None:
        body["llm_server"] = {"pid": svc.server.proc.pid, "restarts": svc.server.restarts,
                              "slots": svc.settings.slots, "url": svc.server.url}  # fmt: skip
    if upstreams := svc.upstreams():
        body["upstreams"] = upstreams
    return JSONResponse(body)


def _is_operator(svc: Services, request: Request) -> bool:
    if not svc.keys.admin_configured or not svc.keys.supplied(request):
        return False
    try:
        return svc.keys.identify(request).role == "admin"
    except Unauthorized:
        return False


@router.get("/metrics", tags=["operations"], response_class=Response, responses=ERRORS)
async def metrics(request: Request) -> Response:
    """Prometheus metrics (an operator key is needed once keys are set)."""
    svc = services(request)
    if svc.keys.required:
        operator(request)
    svc.metrics.queue_depth.set(svc.queue.depth)
    svc.metrics.set_upstreams(svc.upstreams())
    return Response(generate_latest(svc.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.post("/v1/admin/reload", tags=["operations"], responses=ERRORS)
async def reload(svc: Operator) -> dict[str, Any]:
    """Switch to the newest published index now (the server also watches the folder). Operator key."""
    switched = await anyio.to_thread.run_sync(svc.reload)
    return {"switched": switched, "index_version": svc.engine.version if svc.engine else None}


@router.get("/widget.js", include_in_schema=False)
async def widget() -> FileResponse:
    return FileResponse(STATIC / "widget.js", media_type="text/javascript; charset=utf-8",
                        headers={"Cache-Control": "public, max-age=300"})  # fmt: skip


@router.get("/", include_in_schema=False, response_class=HTMLResponse)
async def demo() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

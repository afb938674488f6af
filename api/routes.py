"""HTTP → rag calls and back. No logic beyond translating requests, responses and errors."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import STATIC, Guarded, Operator, caller, loaded_engine, operator, services
from api.errors import ERRORS, FeedbackUnavailable
from api.schemas import AskIn, AskOut, ErrorOut, FeedbackIn, FeedbackOut, FiltersIn, SearchIn, SearchOut
from api.security import Unauthorized
from api.services import Services
from api.streaming import AnswerRun, answer_whole
from rag.errors import ArchiveQAError
from rag.llm.base import Message
from rag.render import answer_json, hit_json, quoted_json, related_json
from rag.retrieval.filters import Filters
from rag.types import Delta, Done, Passages, Sources

log = logging.getLogger("api")
router = APIRouter()
_search_slots = anyio.CapacityLimiter(2)  # two cores: more parallel searches only queue inside torch


def filters_of(f: FiltersIn | None) -> Filters | None:
    return Filters(f.category, tuple(f.tags), f.since, f.until) if f else None


@router.post("/v1/search", response_model=SearchOut, responses=ERRORS, tags=["query"])
async def search(body: SearchIn, svc: Guarded) -> dict[str, Any]:
    """The posts that best match a query (Japanese BM25 + dense search, fused; one hit per post)."""
    engine = loaded_engine(svc)
    found = await anyio.to_thread.run_sync(
        lambda: engine.search(body.query, body.k, filters_of(body.filters)), limiter=_search_slots
    )
    return {"hits": [hit_json(h) for h in found.result.hits], "took_ms": found.result.took_ms}


def _history(turns: list[Any]) -> list[Message]:
    return [Message(t.role, t.content) for t in turns]


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
    loaded_engine(svc)  # a missing index is a 503 before any streaming starts
    history, filters = _history(body.history), filters_of(body.filters)
    if not body.stream:
        return answer_json(await answer_whole(svc, request, body.question, history, filters))
    who = caller(request)
    svc.queue.check(who)  # a full queue is a 429 now, not an error event later
    run = AnswerRun(svc, body.question, history, filters, who)
    return StreamingResponse(_sse(run), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})  # fmt: skip


async def _sse(run: AnswerRun) -> AsyncIterator[str]:
    """The answer's events as server-sent events; a failure is an `error` event, the stream having begun."""
    try:
        async with aclosing(run.events()) as events:  # a departure closes this body, and so the answer
            async for event in events:
                if isinstance(event, Sources):
                    yield _frame("sources", {"posts": [related_json(p) for p in event.posts]})
                elif isinstance(event, Passages):
                    passages = [quoted_json(q) for q in event.quotes]
                    yield _frame("passage", {"passages": passages, "passage_ms": event.ms})
                elif isinstance(event, Delta):
                    yield _frame("delta", {"text": event.text})
                elif isinstance(event, Done):
                    yield _frame("done", answer_json(event.answer))
    except ArchiveQAError as exc:
        yield _frame("error", {"error": type(exc).__name__, "detail": str(exc)})
    except Exception:  # the log has the trace; the client gets a sentence
        log.exception("answer stream failed")
        yield _frame("error", {"error": "internal", "detail": "the answer failed; try again"})


def _frame(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


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

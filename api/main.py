"""The app factory: `create_app(settings)` loads the index and models once and wires the routes.
Domain errors become HTTP statuses here and nowhere else; no stack trace reaches a client."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import admin, desk, openai_compat, routes
from api.errors import (
    AnswerIncomplete,
    FeedbackUnavailable,
    IndexUnavailable,
    NoArchive,
    NoQuestion,
    ReaderLeft,
    UnknownAnswerId,
)
from api.metrics import Metrics
from api.middleware import RequestContext
from api.queue import QueueFull
from api.security import Forbidden, RateLimited, Unauthorized
from api.services import Services
from rag.desk.questionlog import QuestionLogUnavailable, UnknownAnswer
from rag.errors import ArchiveQAError
from rag.settings import Settings

log = logging.getLogger("api")

# An error whose status says all: its status, its stable code, and the headers that go with it.
_STATUS: dict[type[Exception], tuple[int, str, dict[str, str] | None]] = {
    NoQuestion: (422, "invalid_request", None),
    Unauthorized: (401, "unauthorized", {"WWW-Authenticate": "Bearer"}),
    Forbidden: (403, "forbidden", None),
    NoArchive: (409, "no_archive", None),
    UnknownAnswerId: (404, "unknown_answer", None),
    UnknownAnswer: (404, "unknown_answer", None),
    ReaderLeft: (499, "client_closed", None),  # nginx's code for it; nobody reads it
    AnswerIncomplete: (503, "answer_incomplete", {"Retry-After": "5"}),
    FeedbackUnavailable: (503, "feedback_unavailable", {"Retry-After": "30"}),
    IndexUnavailable: (503, "index_unavailable", {"Retry-After": "30"}),
}


def _error(status: int, error: str, detail: object, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status_code=status, headers=headers)


_PATH = re.compile(r"(?<![\w:/])(?:/[^\s/'\"()]+){2,}/?")


def without_paths(message: str) -> str:
    """A message for a client: the server's file paths replaced (they say where things live on it)."""
    return _PATH.sub("(a path on the server)", message)


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    settings = settings or Settings()
    metrics = services.metrics if services else Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            svc = services or Services.start(settings, metrics)  # one registry for middleware and routes
        except QuestionLogUnavailable as exc:  # a sentence for the operator, not a trace
            log.critical("cannot start: %s", exc)
            raise SystemExit(2) from None
        app.state.services = svc
        yield
        svc.stop()

    app = FastAPI(
        title="archive-qa",
        version="0.1.0",
        summary="Questions answered from a Japanese blog archive, with citations a reader can check.",
        lifespan=lifespan,
    )
    app.include_router(routes.router)
    app.include_router(openai_compat.router)
    app.include_router(desk.router)
    app.include_router(admin.router)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "Authorization", "X-API-Key", "X-Request-ID"], max_age=600,
        )  # fmt: skip
    app.add_middleware(RequestContext, metrics=metrics, max_body=settings.max_body_bytes)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = [
            {"field": ".".join(str(p) for p in e["loc"][1:]) or "body", "problem": e["msg"]} for e in exc.errors()
        ]
        return _error(422, "invalid_request", detail)

    for error, (status, code, headers) in _STATUS.items():
        app.add_exception_handler(error, _answering(status, code, headers))

    @app.exception_handler(RateLimited)
    async def limited(request: Request, exc: RateLimited) -> JSONResponse:
        request.app.state.services.metrics.rejected.labels(reason="rate_limit").inc()
        return _error(429, "rate_limited", str(exc), {"Retry-After": str(exc.retry_after)})

    @app.exception_handler(QueueFull)
    async def queue_full(request: Request, exc: QueueFull) -> JSONResponse:
        request.app.state.services.metrics.rejected.labels(reason="queue_full").inc()
        return _error(429, "queue_full", str(exc), {"Retry-After": str(exc.retry_after)})

    @app.exception_handler(ArchiveQAError)
    async def domain(request: Request, exc: ArchiveQAError) -> JSONResponse:
        log.error("%s: %s", type(exc).__name__, exc)  # the full message, paths included, for the operator
        return _error(503, type(exc).__name__, without_paths(str(exc)))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        names = {404: "not_found", 405: "method_not_allowed"}
        return _error(
            exc.status_code, names.get(exc.status_code, "http_error"), str(exc.detail), dict(exc.headers or {})
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        request_id = request.scope.get("state", {}).get("request_id", "")
        log.exception("unhandled error", extra={"fields": {"request_id": request_id}})
        return _error(500, "internal", f"unexpected error; quote request id {request_id} when reporting it")

    return app


def _answering(status: int, code: str, headers: dict[str, str] | None) -> Callable[[Request, Exception], Any]:
    async def handler(request: Request, exc: Exception) -> JSONResponse:
        return _error(status, code, str(exc), headers)

    return handler


def serve_app(settings: Settings) -> FastAPI:
    """What `rag serve` runs (the "archive_qa.http" entry point): the app for the settings the CLI read,
    with JSON logs on stderr."""
    from api.middleware import configure_logging

    configure_logging()
    return create_app(settings)

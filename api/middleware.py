"""Pure ASGI middleware: a request id on every request and response, one JSON log line per request,
per-route metrics, and a body-size limit enforced while the body arrives (not after)."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.metrics import Metrics

log = logging.getLogger("api.access")
_SAFE_ID = re.compile(r"[A-Za-z0-9._:\-]{1,64}")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": round(record.created, 3), "level": record.levelname.lower(), "logger": record.name,
            "msg": record.getMessage(),
        }  # fmt: skip
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)  # logs only; never sent to clients
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = name != "uvicorn.access"  # we log requests ourselves


def _json_response(status: int, body: dict[str, str], request_id: str) -> tuple[Message, Message]:
    payload = json.dumps(body).encode()
    start: Message = {
        "type": "http.response.start", "status": status,
        "headers": [(b"content-type", b"application/json"), (b"x-request-id", request_id.encode()),
                    (b"content-length", str(len(payload)).encode())],
    }  # fmt: skip
    return start, {"type": "http.response.body", "body": payload}


class RequestContext:
    def __init__(self, app: ASGIApp, metrics: Metrics, max_body: int) -> None:
        self.app, self.metrics, self.max_body = app, metrics, max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        # A client's id is echoed in logs and headers: only a short run of safe characters is kept.
        supplied = headers.get(b"x-request-id", b"").decode("latin-1")[:64]
        request_id = supplied if _SAFE_ID.fullmatch(supplied) else uuid.uuid4().hex[:16]
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        length = headers.get(b"content-length", b"0") or b"0"
        declared = int(length) if length.isdigit() else self.max_body + 1  # unreadable: treat as too large
        if declared > self.max_body:
            status = 413
            for message in _json_response(413, _too_large(self.max_body), request_id):
                await send(message)
            self._record_request(scope, status, started, request_id)
            return
        received = 0
        too_large = False
        replied = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            if too_large:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    # Stop reading here; whatever the app answers to the cut body is replaced by a 413.
                    too_large = True
                    return {"type": "http.disconnect"}
            return message

        async def tagged_send(message: Message) -> None:
            nonlocal status, replied
            if too_large:
                if not replied:
                    replied = True
                    status = 413
                    for reply in _json_response(413, _too_large(self.max_body), request_id):
                        await send(reply)
                return
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, limited_receive, tagged_send)
        finally:
            if too_large and not replied:
                status = 413
                for reply in _json_response(413, _too_large(self.max_body), request_id):
                    await send(reply)
            self._record_request(scope, status, started, request_id)

    def _record_request(self, scope: Scope, status: int, started: float, request_id: str) -> None:
        route = scope.get("route")
        path = getattr(route, "path", None) or "unmatched"
        seconds = time.perf_counter() - started
        self.metrics.requests.labels(route=path, status=str(status)).inc()
        self.metrics.latency.labels(route=path).observe(seconds)
        fields = {"request_id": request_id, "method": scope.get("method"), "path": scope.get("path"),
                  "status": status, "ms": round(seconds * 1000, 1)}  # fmt: skip
        log.info("request", extra={"fields": fields})


def _too_large(limit: int) -> dict[str, str]:
    return {"error": "body_too_large", "detail": f"request bodies are limited to {limit} bytes"}

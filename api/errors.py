"""The errors the HTTP layer itself raises, each named for what happened, and the error responses every
endpoint documents. Which status each one becomes is decided in `api.main`, and only there."""

from __future__ import annotations

from typing import Any

from api.schemas import ErrorOut
from rag.errors import ArchiveQAError

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": text}
    for code, text in {
        400: "the body is not valid JSON",
        401: "API key missing or unknown (when RAG_API_KEYS is set)",
        403: "the key may not call this endpoint (admin endpoints need an operator key of RAG_ADMIN_KEYS)",
        413: "request body too large",
        422: "invalid request: the detail says which field and why",
        429: "rate limit or answer queue full: see Retry-After",
        503: "a part the request needs is not there: no index loaded yet (an operator runs rag ingest), the "
        "question log not running, or an answer that ended without a result; the error says which",
    }.items()
}


class IndexUnavailable(ArchiveQAError):
    """No index is loaded yet."""


class ReaderLeft(ArchiveQAError):
    """The client went away before its answer was ready."""


class AnswerIncomplete(ArchiveQAError):
    """The answer pipeline ended without an answer, and the client had not left (a failure the log holds)."""


class FeedbackUnavailable(ArchiveQAError):
    """The question log, where ratings go, is not running."""


class LogNotRunning(ArchiveQAError):
    """The question log did not start, so there is nothing to show of what readers asked."""


class UnknownAnswerId(ArchiveQAError):
    """The desk asked for an answer the log does not hold."""


class NoArchive(ArchiveQAError):
    """The service was not told which archive to ingest."""


class IngestFailed(ArchiveQAError):
    """An ingest the operator asked for failed; the version served before it still is."""


class NoQuestion(ValueError):
    """A chat completion whose last message is not a user's question."""

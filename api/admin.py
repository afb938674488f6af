"""Operator endpoints for the index: ingest the configured archive now, and see how the last run went."""

from __future__ import annotations

from typing import Any

import anyio
from fastapi import APIRouter

from api.deps import Operator
from api.errors import ERRORS, IngestFailed

router = APIRouter()


@router.post("/v1/admin/ingest", tags=["operations"], responses={**ERRORS, 409: {"description": "no RAG_ARCHIVE"}})
async def ingest_now(svc: Operator) -> dict[str, Any]:
    """Ingest the server's archive (`RAG_ARCHIVE`; nothing is taken from the request) through the loaded
    embedder, publish the new version and serve it; returns when this replica serves it. Operator key."""
    assert svc.ingester is not None
    run = await anyio.to_thread.run_sync(svc.ingester.run, "request")
    if run.error:
        raise IngestFailed(f"the ingest failed, the previous version is still served: {run.error}")
    return {**run.as_dict(), "index_version": svc.engine.version if svc.engine else None}


@router.get("/v1/admin/ingest", tags=["operations"], responses=ERRORS)
async def last_ingest(svc: Operator) -> dict[str, Any]:
    """The current or last in-service ingest (by request or by --watch), if any. Operator key."""
    assert svc.ingester is not None
    return {"last": svc.ingester.last.as_dict() if svc.ingester.last else None}

"""POST /v1/research: the research desk over HTTP (the same JSON as `rag research --json`)."""

from __future__ import annotations

from typing import Any

import anyio
from fastapi import APIRouter

from api.routes import ERRORS, Guarded, _engine
from api.schemas import ResearchIn, ResearchOut
from rag.filters import Filters
from rag.research import research
from rag.research_report import research_json

router = APIRouter()
_slots = anyio.CapacityLimiter(1)  # reading 50 posts takes the cores for a second or two: one at a time


@router.post("/v1/research", response_model=ResearchOut, responses=ERRORS, tags=["research"])
async def research_topic(body: ResearchIn, svc: Guarded) -> dict[str, Any]:
    """Posts on a topic in date order, posts per month, figures with their dates, how each measure
    changed and where posts published within 31 days of each other disagree. No LLM is involved."""
    engine = _engine(svc)
    filters = Filters(body.category, tuple(body.tags), body.since, body.until)
    result = await anyio.to_thread.run_sync(lambda: research(engine, body.topic, filters, body.limit), limiter=_slots)
    return research_json(result)

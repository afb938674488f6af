"""The research desk over HTTP: POST /v1/research (the same JSON as `rag research --json`), and the
desk's own page and data for the publisher's staff (`RAG_STAFF_KEYS`, or an operator key): topic
research with downloads, and what readers ask. The page holds nothing secret: it asks for the key."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from api.deps import STATIC, Guarded, Staff, loaded_engine
from api.errors import ERRORS, LogNotRunning, UnknownAnswerId
from api.schemas import DayText, ResearchIn, ResearchOut
from api.services import Services
from rag.desk.questionlog import QuestionLog
from rag.desk.readers_view import answer_as_shown, period_csv, readers_view, view_json
from rag.desk.report import html, markdown, research_json
from rag.desk.research import research
from rag.retrieval.filters import Filters

router = APIRouter()
_slots = anyio.CapacityLimiter(1)  # reading 50 posts takes the cores for a second or two: one at a time
PERIOD_DAYS = 7  # the readers view opens on the last week


@router.post("/v1/research", response_model=ResearchOut, responses=ERRORS, tags=["research"])
async def research_topic(body: ResearchIn, svc: Guarded) -> dict[str, Any]:
    """Posts on a topic in date order, posts per month, figures with whose they are and their scope, how
    each measure changed and where posts disagree (same subject, scope and period). No LLM is involved."""
    engine = loaded_engine(svc)
    filters = Filters(body.category, tuple(body.tags), body.since, body.until)
    result = await anyio.to_thread.run_sync(lambda: research(engine, body.topic, filters, body.limit), limiter=_slots)
    return research_json(result)


@router.get("/desk", include_in_schema=False, response_class=HTMLResponse)
async def desk_page() -> FileResponse:
    return FileResponse(STATIC / "desk.html", media_type="text/html; charset=utf-8",
                        headers={"Cache-Control": "no-cache"})  # fmt: skip


@router.get("/desk/desk.js", include_in_schema=False)
async def desk_script() -> FileResponse:
    return FileResponse(STATIC / "desk.js", media_type="text/javascript; charset=utf-8",
                        headers={"Cache-Control": "no-cache"})  # fmt: skip


@router.get("/v1/desk/facets", responses=ERRORS, tags=["desk"])
async def facets(svc: Staff) -> dict[str, Any]:
    """The archive's categories and most used tags, and its first and last post day: the desk's filters."""
    engine = loaded_engine(svc)
    posts, tz = engine.posts, engine.timezone
    categories = Counter(c for p in posts for c in p.categories)
    tags = Counter(t for p in posts for t in p.tags)
    days = sorted(p.date.astimezone(tz).date().isoformat() for p in posts)
    return {"categories": [c for c, _ in categories.most_common()], "tags": [t for t, _ in tags.most_common(200)],
            "first": days[0] if days else "", "last": days[-1] if days else ""}  # fmt: skip


@router.get("/v1/desk/research", responses=ERRORS, tags=["desk"])
async def research_download(
    svc: Staff,
    topic: Annotated[str, Query(min_length=1, max_length=200)],
    format: Literal["json", "md", "html"] = "json",
    since: DayText | None = None,
    until: DayText | None = None,
    category: Annotated[str | None, Query(max_length=100)] = None,
    tag: Annotated[list[str], Query(max_length=20)] = [],  # noqa: B006 - FastAPI copies query defaults
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Response:
    """The research view as a file to keep: JSON, Markdown or one self-contained HTML page."""
    engine = loaded_engine(svc)
    filters = Filters(category, tuple(tag), since, until)
    result = await anyio.to_thread.run_sync(lambda: research(engine, topic, filters, limit), limiter=_slots)
    name = f"research-{date.today().isoformat()}.{format}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if format == "md":
        return Response(markdown(result), media_type="text/markdown; charset=utf-8", headers=headers)
    if format == "html":
        return Response(html(result), media_type="text/html; charset=utf-8", headers=headers)
    return JSONResponse(research_json(result), headers=headers)


@dataclass(frozen=True)
class _Asked:
    """The question log and the days a readers' view covers."""

    log: QuestionLog
    first: date
    last: date


def _asked(svc: Services, since: date | None, until: date | None) -> _Asked:
    """The period asked for, the last week by default, its days in the site's timezone."""
    if svc.log is None:
        raise LogNotRunning("the question log is not running (see the server log): readers' questions are not kept")
    today = datetime.now(loaded_engine(svc).timezone).date()
    until = until or today
    return _Asked(svc.log, since or until - timedelta(days=PERIOD_DAYS - 1), until)


@router.get("/v1/desk/readers", responses=ERRORS, tags=["desk"])
async def readers(svc: Staff, since: DayText | None = None, until: DayText | None = None) -> dict[str, Any]:
    """What readers asked in a period (the last week by default): questions per day, how they were
    answered, first-text times, the gaps grouped by meaning, and the rated answers (thumbs down first)."""
    engine, asked = loaded_engine(svc), _asked(svc, since, until)
    view = await anyio.to_thread.run_sync(
        lambda: readers_view(asked.log, engine, asked.first, asked.last, engine.timezone, svc.settings.gap_similarity),
        limiter=_slots,
    )
    return view_json(view)


@router.get("/v1/desk/readers.csv", responses=ERRORS, tags=["desk"])
async def readers_csv(svc: Staff, since: DayText | None = None, until: DayText | None = None) -> Response:
    """Every question of the period, one row each (cells that look like formulas kept as text)."""
    engine, asked = loaded_engine(svc), _asked(svc, since, until)
    text = await anyio.to_thread.run_sync(lambda: period_csv(asked.log, asked.first, asked.last, engine.timezone))
    name = f"questions-{asked.first.isoformat()}-{asked.last.isoformat()}.csv"
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip


@router.get("/v1/desk/answers/{answer_id}", responses={**ERRORS, 404: {"description": "no such answer"}},
            tags=["desk"])  # fmt: skip
async def logged_answer(answer_id: str, svc: Staff) -> dict[str, Any]:
    """One answer as its reader saw it: the question, the answer, its key passages and citations."""
    if svc.log is None or len(answer_id) > 64:
        raise UnknownAnswerId(f"no answer with id {answer_id[:64]!r}")
    found = await anyio.to_thread.run_sync(answer_as_shown, svc.log, answer_id)
    if found is None:
        raise UnknownAnswerId(f"no answer with id {answer_id!r}: it is older than the log keeps, or never was")
    return found


@router.post("/v1/suggestions", responses=ERRORS, tags=["query"])
async def suggestions(svc: Guarded) -> dict[str, list[str]]:
    """Three questions readers asked often in the last 30 days and were answered well (none when the log
    holds none): what the widget offers when it opens empty. No model is asked. A POST, like the widget's
    other calls: browsers send the page's Origin with it (the keyless widget's admission) also from the
    service's own pages."""
    return {"questions": await anyio.to_thread.run_sync(svc.suggestions)}

"""What readers ask, for the desk: over a period, questions per day, how they were answered, first-text
times, the gaps (refused or rated-down questions grouped by meaning) and the rated answers with their
comments, thumbs down first; and any one answer as the reader saw it.

Aggregated from the log's plain columns (schema 2 keeps the first-text time and the question's vector
there), so a period of 100,000 questions is read in well under a second; only the latest gaps are
grouped (`MOST_GAPS`), and the closest posts are looked up for the largest groups only."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import sqlalchemy as sa

from index.text import nfkc
from rag.desk.escaping import csv_cell
from rag.desk.gaps import GapCluster, gap_clusters
from rag.desk.questionlog import LoggedQuestion, QuestionLog, feedback, questions
from rag.retrieval.engine import Engine

MOST_GAPS = 300  # latest refused or rated-down questions grouped (average-link is quadratic)
MOST_RATED = 200
CLOSEST_FOR = 8  # largest gap groups whose closest posts are looked up


@dataclass(frozen=True)
class RatedAnswer:
    id: str
    asked_at: str
    question: str
    rating: str
    comment: str
    mode: str


@dataclass(frozen=True)
class ReadersView:
    since: str
    until: str
    per_day: list[tuple[str, int]]  # every day of the period, empty days included
    total: int
    answered: int
    refused: int
    extractive: int
    cached: int
    ttft_p50_ms: float | None
    ttft_p95_ms: float | None
    gaps: list[GapCluster]
    rated: list[RatedAnswer]


def _bounds(since: date, until: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(since, time(), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(until + timedelta(days=1), time(), tzinfo=tz).astimezone(UTC)
    return start, end


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite hands back naive UTC


def readers_view(
    log: QuestionLog, engine: Engine | None, since: date, until: date, tz: ZoneInfo, similarity: float
) -> ReadersView:
    start, end = _bounds(since, until, tz)
    period = sa.and_(questions.c.asked_at >= start, questions.c.asked_at < end)
    counts: dict[str, int] = {}
    answered = refused = extractive = cached = 0
    ttfts: list[float] = []
    with log.engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                questions.c.asked_at, questions.c.mode, questions.c.refused, questions.c.cached, questions.c.ttft_ms
            ).where(period)
        )
        for asked, mode, was_refused, was_cached, ttft in rows:
            day = _aware(asked).astimezone(tz).date().isoformat()
            counts[day] = counts.get(day, 0) + 1
            refused += bool(was_refused)
            answered += not was_refused
            extractive += mode == "extractive"
            cached += bool(was_cached)
            if ttft is not None:
                ttfts.append(float(ttft))
        gap_rows = conn.execute(
            sa.select(
                questions.c.id,
                questions.c.asked_at,
                questions.c.question,
                questions.c.refused,
                questions.c.vector,
                feedback.c.rating,
            )
            .select_from(questions.join(feedback, feedback.c.answer_id == questions.c.id, isouter=True))
            .where(period, sa.or_(questions.c.refused.is_(True), feedback.c.rating == "down"))
            .order_by(questions.c.asked_at.desc())
            .limit(MOST_GAPS)
        ).all()
        rated_rows = conn.execute(
            sa.select(
                questions.c.id,
                questions.c.asked_at,
                questions.c.question,
                questions.c.mode,
                feedback.c.rating,
                feedback.c.comment,
            )
            .select_from(questions.join(feedback, feedback.c.answer_id == questions.c.id))
            .where(period)
            .order_by(sa.case((feedback.c.rating == "down", 0), else_=1), feedback.c.rated_at.desc())
            .limit(MOST_RATED)
        ).all()
    total = sum(counts.values())
    days = [(since + timedelta(days=i)).isoformat() for i in range((until - since).days + 1)]
    entries = [
        LoggedQuestion(r.id, _aware(r.asked_at), r.question, "", "", bool(r.refused), False, [], r.rating or "",
                       vector=np.frombuffer(r.vector, dtype=np.float16).astype(np.float32) if r.vector else None)
        for r in gap_rows
    ]  # fmt: skip
    gaps = gap_clusters(entries, engine, similarity, closest_for=CLOSEST_FOR) if entries else []
    rated = [RatedAnswer(r.id, _aware(r.asked_at).isoformat(), r.question, r.rating, r.comment or "", r.mode)
             for r in rated_rows]  # fmt: skip
    p50, p95 = (float(np.percentile(ttfts, q)) for q in (50, 95)) if ttfts else (None, None)
    return ReadersView(
        since.isoformat(), until.isoformat(), [(d, counts.get(d, 0)) for d in days], total, answered, refused,
        extractive, cached, round(p50, 1) if p50 is not None else None, round(p95, 1) if p95 is not None else None,
        gaps, rated,
    )  # fmt: skip


def view_json(view: ReadersView) -> dict[str, Any]:
    def share(n: int) -> float:
        return round(n / view.total, 4) if view.total else 0.0

    def gap(c: GapCluster) -> dict[str, Any]:
        closest = [{"source": r.source, "url": r.url, "title": r.title, "date": r.date} for r in c.closest]
        return {"count": c.count, "refused": c.refused, "rated_down": c.rated_down, "examples": c.examples,
                "last_asked": c.last_asked, "closest": closest}  # fmt: skip

    return {
        "since": view.since, "until": view.until, "total": view.total,
        "per_day": [{"day": d, "count": n} for d, n in view.per_day],
        "shares": {"answered": share(view.answered), "refused": share(view.refused),
                   "extractive": share(view.extractive), "cached": share(view.cached)},
        "ttft_ms": {"p50": view.ttft_p50_ms, "p95": view.ttft_p95_ms},
        "gaps": [gap(c) for c in view.gaps],
        "rated": [vars(r) for r in view.rated],
    }  # fmt: skip


def answer_as_shown(log: QuestionLog, answer_id: str) -> dict[str, Any] | None:
    """One logged answer as its reader saw it: question, answer text, key passages and citations."""
    with log.engine.connect() as conn:
        row = conn.execute(
            sa.select(questions, feedback.c.rating, feedback.c.comment)
            .select_from(questions.join(feedback, feedback.c.answer_id == questions.c.id, isouter=True))
            .where(questions.c.id == answer_id)
        ).mappings().first()  # fmt: skip
    if row is None:
        return None
    shown = row["shown"] or {"citations": row["cited"], "passages": []}
    return {
        "id": row["id"], "asked_at": _aware(row["asked_at"]).isoformat(), "question": row["question"],
        "answer": row["answer"], "mode": row["mode"], "refused": row["refused"], "cached": row["cached"],
        "citations": shown.get("citations", []), "passages": shown.get("passages", []),
        "rating": row["rating"] or "", "comment": row["comment"] or "",
    }  # fmt: skip


def period_csv(log: QuestionLog, since: date, until: date, tz: ZoneInfo) -> str:
    """Every question of the period, one row each, safe to open in a spreadsheet."""
    start, end = _bounds(since, until, tz)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["asked_at", "id", "question", "mode", "refused", "cached", "ttft_ms", "rating", "comment"])
    with log.engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                questions.c.asked_at,
                questions.c.id,
                questions.c.question,
                questions.c.mode,
                questions.c.refused,
                questions.c.cached,
                questions.c.ttft_ms,
                feedback.c.rating,
                feedback.c.comment,
            )
            .select_from(questions.join(feedback, feedback.c.answer_id == questions.c.id, isouter=True))
            .where(questions.c.asked_at >= start, questions.c.asked_at < end)
            .order_by(questions.c.asked_at)
        )
        for r in rows:
            cells = [_aware(r[0]).astimezone(tz).isoformat(), *r[1:]]
            writer.writerow([csv_cell("" if c is None else c) for c in cells])
    return out.getvalue()


def popular_questions(log: QuestionLog, now: datetime, days: int = 30, most: int = 3) -> list[str]:
    """The questions readers asked most in the last `days` that were answered and not rated down (asked
    the same way after NFKC, case and end marks aside); the most recent wording of each."""
    since = now - timedelta(days=days)
    with log.engine.connect() as conn:
        rows = conn.execute(
            sa.select(questions.c.question)
            .select_from(questions.join(feedback, feedback.c.answer_id == questions.c.id, isouter=True))
            .where(
                questions.c.asked_at >= since,
                questions.c.refused.is_(False),
                questions.c.mode.in_(("generative", "extractive")),
                sa.or_(feedback.c.rating.is_(None), feedback.c.rating != "down"),
            )
            .order_by(questions.c.asked_at.desc())
            .limit(20_000)
        ).scalars()
        counts: dict[str, int] = {}
        wording: dict[str, str] = {}
        for question in rows:
            key = nfkc(question).strip().rstrip("?？。.!！").casefold()
            counts[key] = counts.get(key, 0) + 1
            wording.setdefault(key, question.strip())
    ranked = sorted(counts, key=lambda k: (-counts[k], k))
    return [wording[k] for k in ranked[:most]]

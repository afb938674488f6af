"""The question log: every question answered over HTTP, and what readers thought of the answer.

One code path for SQLite (the embedded default, under the data folder) and PostgreSQL
(`RAG_DATABASE_URL`), through SQLAlchemy Core. No client address or key is ever stored."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from index.errors import ArchiveQAError
from rag.types import Answer

if TYPE_CHECKING:
    from rag.settings import Settings

Rating = Literal["up", "down"]
SCHEMA_VERSION = 2

_meta = sa.MetaData()
_schema = sa.Table("qa_schema", _meta, sa.Column("version", sa.Integer, nullable=False))
questions = sa.Table(
    "qa_questions",
    _meta,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("language", sa.String(8), nullable=False),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("refused", sa.Boolean, nullable=False),
    sa.Column("cached", sa.Boolean, nullable=False),
    sa.Column("fallback", sa.String(16), nullable=False, default=""),
    sa.Column("timings", sa.JSON, nullable=False),
    sa.Column("cited", sa.JSON, nullable=False),  # [{source, url, title, date}] of the cited posts
    sa.Column("index_version", sa.String(64), nullable=False),
    # since schema 2: the answer as the reader saw it, its first-text time (the desk's percentiles need no
    # JSON parsing over 100,000 rows) and the question's vector (gaps are grouped without embedding again)
    sa.Column("answer", sa.Text, nullable=False, default=""),
    sa.Column("shown", sa.JSON, nullable=True),  # {"citations": [{n, source, url, title, date}], "passages": [...]}
    sa.Column("ttft_ms", sa.Float, nullable=True),
    sa.Column("vector", sa.LargeBinary, nullable=True),  # float16, L2-normalized
)
feedback = sa.Table(
    "qa_feedback",
    _meta,
    sa.Column("answer_id", sa.String(32), sa.ForeignKey("qa_questions.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("rating", sa.String(4), nullable=False),
    sa.Column("comment", sa.Text, nullable=False, default=""),
    sa.Column("rated_at", sa.DateTime(timezone=True), nullable=False),
)


def _to_v2(conn: sa.Connection) -> None:
    blob = "BYTEA" if conn.dialect.name == "postgresql" else "BLOB"
    for column in ("answer TEXT NOT NULL DEFAULT ''", "shown JSON", "ttft_ms DOUBLE PRECISION", f"vector {blob}"):
        conn.execute(sa.text(f"ALTER TABLE qa_questions ADD COLUMN {column}"))
    for row in conn.execute(sa.select(questions.c.id, questions.c.timings)).mappings():
        ttft = (row["timings"] or {}).get("ttft_ms")
        if ttft is not None:
            conn.execute(questions.update().where(questions.c.id == row["id"]).values(ttft_ms=float(ttft)))


# Each step takes the schema from version i to i + 1; the log is migrated at start.
_MIGRATIONS: list[Callable[[sa.Connection], None]] = [_to_v2]


class QuestionLogUnavailable(ArchiveQAError):
    """The log's database cannot be reached or is not ours."""


class UnknownAnswer(ArchiveQAError):
    """Feedback for an answer id the log does not hold."""


@dataclass(frozen=True)
class LoggedQuestion:
    id: str
    asked_at: datetime
    question: str
    language: str
    mode: str
    refused: bool
    cached: bool
    cited: list[dict[str, str]]
    rating: str = ""
    comment: str = ""
    vector: np.ndarray | None = field(default=None, compare=False)  # the question's, when the log kept it


def database_url(url: str, data_dir: Path) -> str:
    """The configured URL, or SQLite in the data folder. A bare postgresql:// means psycopg 3, the
    driver we install (SQLAlchemy would otherwise look for psycopg2)."""
    if not url:
        (data_dir / "log").mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{data_dir / 'log' / 'questions.sqlite'}"
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


class QuestionLog:
    def __init__(self, url: str, keep_days: int) -> None:
        self.keep_days = keep_days
        self._pruned = 0.0
        try:
            self.engine: Engine = sa.create_engine(url, pool_pre_ping=True, future=True)
            self._migrate()
            self.prune()
        except sa.exc.SQLAlchemyError as exc:
            raise QuestionLogUnavailable(
                f"the question log at {sa.engine.make_url(url).render_as_string(hide_password=True)} "
                f"cannot be used: {exc.__class__.__name__}: {str(exc).splitlines()[0]}; "
                "check RAG_DATABASE_URL (or unset it for SQLite in the data folder)"
            ) from exc

    def _migrate(self) -> None:
        with self.engine.begin() as conn:
            _meta.create_all(conn)
            found = conn.execute(sa.select(_schema.c.version)).scalar()
            if found is None:
                conn.execute(_schema.insert().values(version=SCHEMA_VERSION))
                return
            if found > SCHEMA_VERSION:
                raise QuestionLogUnavailable(
                    f"the question log has schema version {found}, newer than this program's "
                    f"{SCHEMA_VERSION}: upgrade archive-qa"
                )
            for step in _MIGRATIONS[found - 1 :]:
                step(conn)
            conn.execute(_schema.update().values(version=SCHEMA_VERSION))

    def record(self, question: str, answer: Answer, index_version: str, vector: np.ndarray | None = None) -> str:
        """Stores one answered question, as the reader saw the answer; returns the answer id given to the
        caller. `vector`: the question's embedding, kept for grouping gaps by meaning."""
        if time.monotonic() - self._pruned > 3600:  # retention holds in a service that runs for months
            self.prune()
        answer_id = uuid.uuid4().hex
        cited = [{"source": c.source, "url": c.url, "title": c.title, "date": c.date} for c in answer.citations]
        cited += [
            {"source": q.source, "url": q.url, "title": q.title, "date": q.date}
            for q in answer.passages
            if q.source not in {c["source"] for c in cited}
        ]
        shown = {
            "citations": [{"n": c.n, "source": c.source, "url": c.url, "title": c.title, "date": c.date}
                          for c in answer.citations],
            "passages": [{"n": q.n, "source": q.source, "url": q.url, "title": q.title, "date": q.date, "text": q.text}
                         for q in answer.passages],
        }  # fmt: skip
        ttft = answer.timings.get("ttft_ms")
        row = dict(
            id=answer_id, asked_at=_now(), question=question, language=answer.language, mode=answer.mode,
            refused=answer.refused, cached=answer.cached, fallback=answer.fallback, timings=dict(answer.timings),
            cited=cited, index_version=index_version, answer=answer.answer, shown=shown,
            ttft_ms=float(ttft) if ttft is not None else None,
            vector=np.asarray(vector, dtype=np.float16).tobytes() if vector is not None else None,
        )  # fmt: skip
        with self.engine.begin() as conn:
            conn.execute(questions.insert().values(**row))
        return answer_id

    def rate(self, answer_id: str, rating: Rating, comment: str = "") -> None:
        """One rating per answer: a reader who changes their mind replaces the earlier one."""
        with self.engine.begin() as conn:
            if conn.execute(sa.select(questions.c.id).where(questions.c.id == answer_id)).first() is None:
                raise UnknownAnswer(
                    f"no answer with id {answer_id!r}: use the id of an answer from /v1/ask "
                    f"(answers are kept {self.keep_days} days)"
                )
            values = {"rating": rating, "comment": comment, "rated_at": _now()}
            done = conn.execute(feedback.update().where(feedback.c.answer_id == answer_id).values(**values))
            if done.rowcount == 0:
                conn.execute(feedback.insert().values(answer_id=answer_id, **values))

    def prune(self) -> int:
        """Drops questions (and their ratings) older than the retention period."""
        self._pruned = time.monotonic()
        cutoff = _now() - timedelta(days=self.keep_days)
        with self.engine.begin() as conn:
            old = sa.select(questions.c.id).where(questions.c.asked_at < cutoff)
            conn.execute(feedback.delete().where(feedback.c.answer_id.in_(old)))
            return int(conn.execute(questions.delete().where(questions.c.asked_at < cutoff)).rowcount or 0)

    def entries(self, since: datetime | None = None, rated_only: bool = False) -> list[LoggedQuestion]:
        """Logged questions, oldest first, with their rating when they have one."""
        join = questions.join(feedback, feedback.c.answer_id == questions.c.id, isouter=not rated_only)
        query = sa.select(questions, feedback.c.rating, feedback.c.comment).select_from(join)
        if since is not None:
            query = query.where(questions.c.asked_at >= since)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(questions.c.asked_at)).mappings().all()
        return [_logged_question(r) for r in rows]

    def close(self) -> None:
        self.engine.dispose()


def _logged_question(row: Any) -> LoggedQuestion:
    asked = row["asked_at"]
    if asked.tzinfo is None:  # SQLite hands back naive datetimes; we store UTC
        asked = asked.replace(tzinfo=UTC)
    return LoggedQuestion(
        id=row["id"], asked_at=asked, question=row["question"], language=row["language"], mode=row["mode"],
        refused=row["refused"], cached=row["cached"], cited=list(row["cited"] or []),
        rating=row["rating"] or "", comment=row["comment"] or "",
    )  # fmt: skip


def _now() -> datetime:
    return datetime.now(UTC)


def unanswered(entries: Sequence[LoggedQuestion]) -> list[LoggedQuestion]:
    """What readers asked that the archive could not answer: refusals and answers rated down."""
    return [e for e in entries if e.refused or e.rating == "down"]


def open_question_log(settings: Settings) -> QuestionLog:
    """The log the settings name (RAG_DATABASE_URL, else SQLite in the data folder), keeping RAG_LOG_DAYS."""
    return QuestionLog(database_url(settings.database_url, settings.data_dir), settings.log_days)

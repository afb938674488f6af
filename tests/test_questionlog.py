"""The question log and reader feedback, run against SQLite and a real PostgreSQL server alike."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from rag.desk.questionlog import (
    QuestionLog,
    QuestionLogUnavailable,
    UnknownAnswer,
    database_url,
    questions,
    unanswered,
)
from rag.types import Answer, Citation, Quoted

from .postgres import postgres_server
from .servers import free_port


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield database_url("", tmp_path)
        return
    url = database_url(request.getfixturevalue("postgres"), tmp_path)
    yield url
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # each test starts from an empty database
        conn.execute(sa.text("DROP TABLE IF EXISTS qa_feedback, qa_questions, qa_schema"))
    engine.dispose()


def _answer(mode: str = "generative", refused: bool = False) -> Answer:
    cite = Citation(1, "2025-09-10-a.md", "https://blog.example.jp/a/", "A", "2025-09-10", "本文。")
    quote = Quoted(2, "2025-09-11-b.md", "https://blog.example.jp/b/", "B", "2025-09-11", "引用。")
    return Answer(
        answer="答え[1]。", citations=[] if refused else [cite], refused=refused, mode=mode,  # type: ignore[arg-type]
        language="ja", timings={"ttft_ms": 5000.0}, passages=[] if refused else [quote],
    )  # fmt: skip


def test_an_answered_question_is_kept_with_its_mode_timings_and_cited_posts(url: str) -> None:
    log = QuestionLog(url, keep_days=90)
    answer_id = log.record("生成AIの市場規模は？", _answer(), "v1")
    [entry] = log.entries()
    assert entry.id == answer_id and len(answer_id) == 32
    assert (entry.question, entry.language, entry.mode, entry.refused, entry.cached) == (
        "生成AIの市場規模は？", "ja", "generative", False, False,
    )  # fmt: skip
    assert [c["source"] for c in entry.cited] == ["2025-09-10-a.md", "2025-09-11-b.md"]
    assert entry.asked_at.tzinfo is not None and abs(datetime.now(UTC) - entry.asked_at) < timedelta(minutes=1)
    log.close()


def test_a_second_rating_replaces_the_first(url: str) -> None:
    log = QuestionLog(url, keep_days=90)
    answer_id = log.record("質問", _answer(), "v1")
    log.rate(answer_id, "up")
    log.rate(answer_id, "down", "古い情報でした")
    [entry] = log.entries(rated_only=True)
    assert (entry.rating, entry.comment) == ("down", "古い情報でした")
    log.close()


def test_feedback_for_an_answer_the_log_never_gave_is_refused(url: str) -> None:
    log = QuestionLog(url, keep_days=90)
    with pytest.raises(UnknownAnswer, match="no answer with id"):
        log.rate("0" * 32, "up")
    log.close()


def test_refused_and_rated_down_questions_are_the_unanswered_ones(url: str) -> None:
    log = QuestionLog(url, keep_days=90)
    log.record("答えのある質問", _answer(), "v1")
    log.record("アーカイブにない質問", _answer("refusal", refused=True), "v1")
    disliked = log.record("不満の残った質問", _answer(), "v1")
    log.rate(disliked, "down")
    assert [e.question for e in unanswered(log.entries())] == ["アーカイブにない質問", "不満の残った質問"]
    log.close()


def test_questions_older_than_the_retention_period_are_dropped_with_their_ratings(url: str) -> None:
    log = QuestionLog(url, keep_days=30)
    old, new = log.record("古い質問", _answer(), "v1"), log.record("新しい質問", _answer(), "v1")
    log.rate(old, "down")
    with log.engine.begin() as conn:
        conn.execute(
            questions.update().where(questions.c.id == old).values(asked_at=datetime.now(UTC) - timedelta(days=31))
        )
    assert log.prune() == 1
    assert [e.id for e in log.entries()] == [new]
    log.close()


def test_the_log_survives_a_restart(url: str) -> None:
    first = QuestionLog(url, keep_days=90)
    answer_id = first.record("質問", _answer(), "v1")
    first.close()
    again = QuestionLog(url, keep_days=90)
    again.rate(answer_id, "up")
    assert [e.rating for e in again.entries()] == ["up"]
    again.close()


def test_a_log_written_by_a_newer_program_is_not_touched(url: str) -> None:
    QuestionLog(url, keep_days=90).close()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE qa_schema SET version = 99"))
    engine.dispose()
    with pytest.raises(QuestionLogUnavailable, match="upgrade archive-qa"):
        QuestionLog(url, keep_days=90)


def test_an_unreachable_database_is_named_without_its_password() -> None:
    url = database_url(f"postgresql://rag:hunter2@127.0.0.1:{free_port()}/questions", Path("."))
    with pytest.raises(QuestionLogUnavailable, match="RAG_DATABASE_URL") as caught:
        QuestionLog(url, keep_days=90)
    assert "hunter2" not in str(caught.value) and "127.0.0.1" in str(caught.value)


def test_a_log_of_the_first_schema_is_migrated_keeping_its_questions(url: str) -> None:
    engine = sa.create_engine(url)
    json_type = "JSON"  # SQLite takes any type name; PostgreSQL has JSON
    with engine.begin() as conn:  # the log as the first release wrote it
        conn.execute(sa.text("CREATE TABLE qa_schema (version INTEGER NOT NULL)"))
        conn.execute(sa.text("INSERT INTO qa_schema VALUES (1)"))
        conn.execute(sa.text(
            "CREATE TABLE qa_questions (id VARCHAR(32) PRIMARY KEY, asked_at TIMESTAMP WITH TIME ZONE NOT NULL, "
            "question TEXT NOT NULL, language VARCHAR(8) NOT NULL, mode VARCHAR(16) NOT NULL, refused BOOLEAN NOT NULL,"
            f" cached BOOLEAN NOT NULL, fallback VARCHAR(16) NOT NULL, timings {json_type} NOT NULL, cited {json_type} "
            "NOT NULL, index_version VARCHAR(64) NOT NULL)"
        ))  # fmt: skip
        conn.execute(sa.text(
            "INSERT INTO qa_questions VALUES ('a1', '2026-12-01 10:00:00+00:00', '古い質問', 'ja', 'generative', "
            "false, false, '', '{\"ttft_ms\": 4200.0}', '[]', 'v0')"
        ))  # fmt: skip
    engine.dispose()
    log = QuestionLog(url, keep_days=3650)
    [old] = log.entries()
    assert old.question == "古い質問"
    new_id = log.record("新しい質問", _answer(), "v1", vector=np.ones(4))
    with log.engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(sa.select(questions))}
    assert rows["a1"].ttft_ms == 4200.0 and rows["a1"].answer == ""  # filled from its timings
    assert rows[new_id].answer == "答え[1]。" and rows[new_id].shown["citations"][0]["n"] == 1
    assert np.frombuffer(rows[new_id].vector, dtype=np.float16).tolist() == [1.0, 1.0, 1.0, 1.0]
    log.close()

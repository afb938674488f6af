"""Editors' reports from the question log: `rag report gaps` and `rag report feedback`."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient

from api.main import create_app
from rag.desk.gaps import clusters_of
from rag.desk.questionlog import QuestionLog, database_url

from .conftest import settings
from .servers import ROOT

ABSENT = ["量子コンピュータの冷却方式を教えて", "量子コンピュータの冷却方式を教えてください", "社内規程の改定日は？"]


def report(tmp_path: Path, index: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RAG_EMBEDDING_MODEL": "fake:64", "RAG_DATA_DIR": str(tmp_path), "RAG_GAP_SIMILARITY": "0.8"}
    return subprocess.run([sys.executable, "-m", "tests.run_cli", "report", *args, "--index", str(index)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)  # fmt: skip


def test_a_refused_question_is_in_the_gaps_report_on_the_first_run_after_it_was_asked(
    index: Path, tmp_path: Path
) -> None:
    with TestClient(create_app(settings(index, data_dir=tmp_path, database_url="", llm_backend="fake:refuse"))) as c:
        answers = [c.post("/v1/ask", json={"question": q}).json() for q in ABSENT]
    assert all(a["refused"] for a in answers)
    proc = report(tmp_path, index, "gaps", "--json")
    assert proc.returncode == 0, proc.stderr
    clusters = json.loads(proc.stdout)["clusters"]
    assert sum(c["count"] for c in clusters) == 3
    biggest = clusters[0]  # the two wordings of one question are one theme, listed first
    assert biggest["count"] == 2 and set(biggest["examples"]) == set(ABSENT[:2]) and biggest["refused"] == 2
    assert biggest["closest"] and biggest["closest"][0]["url"].startswith("https://blog.example.jp/")


def test_answers_rated_down_are_gaps_and_answers_rated_up_are_not(index: Path, tmp_path: Path) -> None:
    with TestClient(create_app(settings(index, data_dir=tmp_path, database_url=""))) as c:
        good = c.post("/v1/ask", json={"question": "外観検査AIの導入効果は？"}).json()["id"]
        bad = c.post("/v1/ask", json={"question": "エッジAIチップの価格は？"}).json()["id"]
        c.post("/v1/feedback", json={"answer_id": good, "rating": "up"})
        c.post("/v1/feedback", json={"answer_id": bad, "rating": "down", "comment": "価格が載っていない"})
    clusters = json.loads(report(tmp_path, index, "gaps", "--json").stdout)["clusters"]
    assert [(c["examples"], c["rated_down"]) for c in clusters] == [(["エッジAIチップの価格は？"], 1)]


def test_the_feedback_report_lists_every_rated_answer_as_csv(index: Path, tmp_path: Path) -> None:
    log = QuestionLog(database_url("", tmp_path), keep_days=90)
    with TestClient(create_app(settings(index, data_dir=tmp_path, database_url=""))) as c:
        asked = [c.post("/v1/ask", json={"question": q}).json() for q in ("外観検査AIの導入効果は？", "未評価の質問")]
        c.post("/v1/feedback", json={"answer_id": asked[0]["id"], "rating": "down", "comment": '古い, "数字"'})
    proc = report(tmp_path, index, "feedback", "--csv", str(tmp_path / "fb.csv"))
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader((tmp_path / "fb.csv").open(encoding="utf-8")))
    assert [(r["question"], r["rating"], r["comment"]) for r in rows] == [
        ("外観検査AIの導入効果は？", "down", '古い, "数字"')
    ]
    assert rows[0]["cited"].split() == [cite["url"] for cite in asked[0]["citations"]] + [
        p["url"] for p in asked[0]["passages"] if p["url"] not in {c["url"] for c in asked[0]["citations"]}
    ]
    assert len(log.entries()) == 2


def test_questions_group_only_when_alike_on_average() -> None:
    a, b, c = np.array([1.0, 0.0]), np.array([0.95, 0.312]), np.array([0.0, 1.0])
    groups = clusters_of(np.stack([a, b, c]), similarity=0.9)
    assert sorted(map(sorted, groups)) == [[0, 1], [2]]
    assert len(clusters_of(np.stack([a, b, c]), similarity=0.999)) == 3

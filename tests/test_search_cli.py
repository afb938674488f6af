"""`rag search --json` and `rag eval --json` as a user runs them: a subprocess with the fake embedder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from rag.evaluation.evaluate import Question, evaluate
from rag.retrieval.engine import Engine
from rag.retrieval.relevance import RelevanceModel
from rag.settings import Settings

from .conftest import DATA

ROOT = Path(__file__).parents[1]
POSTS = sorted(p.name for p in (DATA / "archive" / "_posts").glob("*.md"))
HIT_KEYS = ["rank", "score", "source", "url", "title", "date", "categories", "tags", "heading", "text"]
COST = "2025-09-03-1-llm推論コスト.md"
FACTORY = "2025-09-10-3-製造業のai活用事例.md"


def rag(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RAG_EMBEDDING_MODEL": "fake:64"}
    return subprocess.run(
        [sys.executable, "-m", "tests.run_cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def search(index: Path, query: str, *flags: str) -> dict[str, Any]:
    proc = rag("search", query, "--index", str(index), "--json", *flags)
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)  # stdout holds the JSON object and nothing else
    return result


def test_search_json_has_exactly_hits_and_took_ms_and_each_hit_its_fields(index: Path) -> None:
    out = search(index, "量子化でコストを下げる", "-k", "3")
    assert list(out) == ["hits", "took_ms"]
    assert isinstance(out["took_ms"], float) and 0 < out["took_ms"] < 60_000  # measured, in milliseconds
    hits = out["hits"]
    assert [h["rank"] for h in hits] == [1, 2, 3]
    for h in hits:
        assert list(h) == HIT_KEYS
        assert h["source"] in POSTS  # the post's file name, exactly as on disk
        assert h["url"].startswith("https://blog.example.jp/") and h["title"] and h["text"]
        assert datetime.fromisoformat(h["date"]).tzinfo is not None
        assert isinstance(h["categories"], list) and isinstance(h["tags"], list) and isinstance(h["heading"], str)
    top = hits[0]
    assert top["source"] == COST and "量子化" in top["text"]
    assert top["url"] == "https://blog.example.jp/2025/09/03/1-llm推論コスト/"
    assert (top["categories"], top["tags"]) == (["技術解説"], ["LLM", "コスト削減", "量子化"])
    assert hits[0]["score"] >= hits[1]["score"] >= hits[2]["score"]


def test_search_headings_are_joined_with_an_angle_bracket(index: Path) -> None:
    hits = search(index, "予知保全の成功のポイント", "-k", "1")["hits"]
    assert hits[0]["source"] == FACTORY
    assert hits[0]["heading"] == "事例2：予知保全 > 成功のポイント"


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--category", "技術解説", "--tag", "量子化"], [COST]),
        (["--tag", "EU", "--tag", "汎用AI"], ["2025-09-05-1-ai規制の動向.md"]),
        (["--since", "2025-08-30", "--until", "2025-08-30"], ["2025-08-29-1-生成ai市場の拡大と企業導入.md"]),
        (["--since", "2026-01-16"], ["2026-01-15-2-研究論文紹介.md"]),
        (["--category", "存在しない"], []),
    ],
)
def test_search_filter_flags_narrow_the_posts(index: Path, flags: list[str], expected: list[str]) -> None:
    assert [h["source"] for h in search(index, "AI", *flags)["hits"]] == expected


def test_search_without_an_index_says_how_to_build_one(tmp_path: Path) -> None:
    proc = rag("search", "量子化", "--index", str(tmp_path / "nope"), "--json")
    assert proc.returncode == 1 and proc.stdout == ""
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        f'error: no index at {tmp_path / "nope"}; run "rag ingest ARCHIVE_DIR --index {tmp_path / "nope"}"'
    )


def test_search_rejects_a_malformed_date(index: Path) -> None:
    proc = rag("search", "AI", "--index", str(index), "--since", "2025-13-01")
    assert proc.returncode == 2 and "expected YYYY-MM-DD, got '2025-13-01'" in proc.stderr


# --- rag eval ---------------------------------------------------------------------------------------

EDGE_NFC = unicodedata.normalize("NFC", next(p for p in POSTS if p.startswith("2025-09-01-2-")))
Row = tuple[str, str, str, list[str], str, str]  # id, question, lang, gold posts, answer, kind
QUESTIONS: list[Row] = [
    ("e1", "外観検査AIの導入で検査工数は何%削減されましたか？", "ja", [FACTORY], "42%", "numeric"),
    ("e2", "量子化で推論コストはどれくらい削減できましたか？", "ja", [COST], "約60%", "numeric"),
    ("e3", "Sample NPU-B2の電力効率は1ワットあたり何TOPSですか？", "ja", [EDGE_NFC], "5 TOPS", "factoid"),
    ("e4", "How much did the math benchmark accuracy improve with reinforcement learning?", "en",
     ["2026-01-15-2-研究論文紹介.md"], "41% to 63%", "factoid"),
    ("e5", "欧州AI法と汎用目的AIの行動規範について", "ja",
     ["2025-09-04-1-ai規制の動向.md", "2025-09-05-1-ai規制の動向.md"], "", "multi-post"),
]  # fmt: skip
UNANSWERABLE: Row = ("e6", "GPT-6の一般提供開始日と料金はいつ・いくらですか？", "ja", [], "", "unanswerable")


def write_questions(path: Path) -> dict[str, list[str]]:
    lines, gold = [], {}
    for qid, question, lang, posts, answer, kind in [*QUESTIONS, UNANSWERABLE]:
        record = {"id": qid, "question": question, "lang": lang, "answerable": bool(posts),
                  "gold_posts": [f"_posts/{p}" for p in posts], "answer": answer, "evidence": "", "kind": kind}  # fmt: skip
        lines.append(json.dumps(record, ensure_ascii=False))
        gold[qid] = posts
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return gold


def block(records: list[dict[str, Any]], gold: dict[str, list[str]]) -> dict[str, float | int]:
    """hit@k and MRR@10 recomputed from nothing but each question's `top` list."""
    ranks = [next((i + 1 for i, s in enumerate(r["top"]) if s in gold[r["id"]]), None) for r in records]
    out: dict[str, float | int] = {"n": len(records)}
    for k in (1, 3, 5, 10):
        out[f"hit@{k}"] = round(sum(1 for x in ranks if x and x <= k) / len(records), 4)
    out["mrr@10"] = round(sum(1 / x for x in ranks if x) / len(records), 4)
    return out


def test_eval_reports_metrics_that_recompute_from_each_questions_top_list(index: Path, tmp_path: Path) -> None:
    gold = write_questions(tmp_path / "questions.jsonl")
    proc = rag("eval", str(tmp_path / "questions.jsonl"), "--index", str(index), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    metrics, records = report["metrics"], report["questions"]
    assert [r["id"] for r in records] == ["e1", "e2", "e3", "e4", "e5", "e6"]
    names = {unicodedata.normalize("NFC", p) for p in POSTS}
    for r in records:
        assert 1 <= len(r["top"]) <= 10 and set(r["top"]) <= names and len(set(r["top"])) == len(r["top"])
        assert r["gold_rank"] == next((i + 1 for i, s in enumerate(r["top"]) if s in gold[r["id"]]), None)
    by_id = {r["id"]: r for r in records}
    assert by_id["e1"]["gold_rank"] == 1 and by_id["e2"]["gold_rank"] == 1
    assert by_id["e3"]["gold_rank"] == 1  # an NFC gold name meets the NFD file name
    answerable = [r for r in records if r["answerable"]]
    assert metrics["answerable"] == block(answerable, gold)
    assert metrics["by_lang"] == {
        lang: block([r for r in answerable if r["lang"] == lang], gold) for lang in ("en", "ja")
    }
    assert metrics["by_kind"] == {
        kind: block([r for r in answerable if r["kind"] == kind], gold) for kind in ("factoid", "multi-post", "numeric")
    }
    assert metrics["unanswerable"] == {"n": 1, "flagged_not_in_archive": float(by_id["e6"]["flagged_not_in_archive"])}
    share = sum(r["flagged_not_in_archive"] for r in answerable) / len(answerable)
    assert metrics["answerable_flagged_not_in_archive"] == round(share, 4)
    assert set(metrics["search_ms"]) == {"p50", "p95"}


def test_eval_without_its_questions_file_fails_with_a_message(index: Path, tmp_path: Path) -> None:
    proc = rag("eval", str(tmp_path / "missing.jsonl"), "--index", str(index), "--json")
    assert proc.returncode == 1 and proc.stdout == "" and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == f"error: no questions file at {tmp_path / 'missing.jsonl'}"


def test_eval_counts_the_questions_the_relevance_model_flags(index: Path, tmp_path: Path) -> None:
    stored = tmp_path / "relevance.json"  # probability rises with the best BM25 score alone
    stored.write_text(json.dumps({"fake:64": {"weights": [0, 0, 2, 0], "bias": -2, "threshold": 0.5}}))
    engine = Engine(Settings(embedding_model="fake:64"), index=index)
    engine.relevance = RelevanceModel.load("fake:64", path=stored)
    questions = [
        Question("a1", "量子化の効果", "ja", True, (COST,)),
        Question("a2", "外観検査AIの導入で検査工数は何%削減されましたか？", "ja", True, (FACTORY,)),
        Question("u1", "火星の天気は？", "ja", False, ()),  # no word of it in the archive: flagged
        Question("u2", UNANSWERABLE[1], "ja", False, ()),  # 料金 is in a post: missed
    ]
    report = evaluate(engine, questions)
    assert [r["flagged_not_in_archive"] for r in report["questions"]] == [False, False, True, False]
    assert report["metrics"]["unanswerable"] == {"n": 2, "flagged_not_in_archive": 0.5}
    assert report["metrics"]["answerable_flagged_not_in_archive"] == 0.0
    assert report["metrics"]["answerable"]["hit@1"] == 1.0


def test_eval_with_answers_keeps_each_questions_id(index: Path, tmp_path: Path) -> None:
    gold = write_questions(tmp_path / "questions.jsonl")
    env = {
        **os.environ,
        "RAG_EMBEDDING_MODEL": "fake:64",
        "RAG_LLM_BACKEND": "fake:quote",
        "RAG_CACHE_ENABLED": "false",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "tests.run_cli", "eval", str(tmp_path / "questions.jsonl"), "--index", str(index),
         "--answers", "--json"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    records = json.loads(proc.stdout)["questions"]
    assert [r["id"] for r in records] == list(gold) and all("answer" in r for r in records)

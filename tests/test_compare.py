"""Comparing stored answer runs (bench.compare): accuracy paired over the shared questions, and the English
questions answered in Japanese counted, so a route that fixes the language shows as a difference."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.compare import compare


def _record(qid: str, lang: str, correct: bool, answer: str) -> dict[str, Any]:
    return {"id": qid, "lang": lang, "answerable": True, "correct": correct, "refused": False,
            "mode": "generative", "answer": answer, "cited_gold": [True], "timings": {}}  # fmt: skip


def _run(tmp: Path, name: str, records: list[dict[str, Any]]) -> Path:
    path = tmp / f"{name}.json"
    path.write_text(json.dumps({"questions": records}), encoding="utf-8")
    return path


def test_english_answers_written_in_japanese_are_counted_and_paired(tmp_path: Path) -> None:
    before = _run(tmp_path, "a", [
        _record("e1", "en", True, "600,000[1]。メリーランド州は60万人に給付しました[1]。"),
        _record("e2", "en", False, "It rose 40% (4割)[1]."),
        _record("j1", "ja", True, "4割です[1]。"),
    ])  # fmt: skip
    after = _run(tmp_path, "b", [
        _record("e1", "en", True, "600,000[1]. Maryland paid 600,000 residents[1]."),
        _record("e2", "en", True, "It rose 40% (4割)[1]."),
        _record("j1", "ja", True, "4割です[1]。"),
    ])  # fmt: skip
    first, second = compare([before, after])["runs"]
    assert first["japanese_in_english"] == 1 and second["japanese_in_english"] == 0
    assert second["vs_first"]["gained"] == 1 and second["vs_first"]["difference"] == round(1 / 3, 4)
    assert second["vs_first"]["japanese_in_english"]["questions"] == 2
    assert second["vs_first"]["japanese_in_english"]["difference"] == -0.5

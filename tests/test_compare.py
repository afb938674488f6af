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


def test_citation_precision_is_compared_as_a_ratio_of_sums_over_the_same_questions(tmp_path: Path) -> None:
    def run(name: str, cited: list[list[bool]]) -> Path:
        records = [_record(f"q{i}", "ja", True, "4割です[1]。") | {"cited_gold": c} for i, c in enumerate(cited)]
        return _run(tmp_path, name, records)

    # 2 of 4 citations to a gold post, then 3 of 3: a question that cited one wrong post of two cites one
    before = run("a", [[True, False], [True], [False]] * 4)
    after = run("b", [[True], [True], [True]] * 4)
    change = compare([before, after])["runs"][1]["vs_first"]["citation_precision"]
    assert change["difference"] == round(1 - 8 / 16, 4)
    assert 0 < change["interval_95"][0] <= change["difference"] <= change["interval_95"][1]

"""Two or more stored answer runs of the same questions, side by side, with the uncertainty that decides
whether a difference is one: each run's accuracy with a 95% Wilson interval, and each run's difference
from the first with a 95% paired-bootstrap interval (the same questions resampled for both runs).

    python -m bench.compare BASE.json OTHER.json [...] [--lang en] [--out FILE]

A default changes only when the whole interval of the difference lies on one side of zero. English
answers are also counted for the language they went out in: the share of English questions answered
in Japanese or Chinese (`japanese_in_english`), paired the same way."""

from __future__ import annotations

import argparse
import json
import math
import random
from pathlib import Path
from typing import Any

from bench.common import write
from rag.answering.translate import in_japanese

BOOTSTRAP = 4000


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return 0.0, 0.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return round(centre - half, 4), round(centre + half, 4)


def paired_interval(a: list[int], b: list[int], seed: int = 0) -> tuple[float, float, float]:
    """Mean of b - a and its 95% bootstrap interval over questions."""
    n = len(a)
    rng = random.Random(seed)
    diffs = [bi - ai for ai, bi in zip(a, b, strict=True)]
    means = sorted(sum(diffs[rng.randrange(n)] for _ in range(n)) / n for _ in range(BOOTSTRAP))
    return round(sum(diffs) / n, 4), round(means[int(0.025 * BOOTSTRAP)], 4), round(means[int(0.975 * BOOTSTRAP)], 4)


def ratio_interval(a: list[tuple[int, int]], b: list[tuple[int, int]], seed: int = 0) -> tuple[float, float, float]:
    """Difference of two ratios of sums (citation precision: gold citations over citations), per question
    (part, whole) in each run, and its 95% bootstrap interval over the same resampled questions."""
    rng = random.Random(seed)

    def ratio(pairs: list[tuple[int, int]], picks: list[int]) -> float:
        whole = sum(pairs[i][1] for i in picks)
        return sum(pairs[i][0] for i in picks) / whole if whole else 0.0

    n, everything = len(a), list(range(len(a)))
    diffs = []
    for _ in range(BOOTSTRAP):
        picks = [rng.randrange(n) for _ in range(n)]
        diffs.append(ratio(b, picks) - ratio(a, picks))
    diffs.sort()
    point = ratio(b, everything) - ratio(a, everything)
    return round(point, 4), round(diffs[int(0.025 * BOOTSTRAP)], 4), round(diffs[int(0.975 * BOOTSTRAP)], 4)


def _citations(r: dict[str, Any]) -> tuple[int, int]:
    return sum(r.get("cited_gold", [])), len(r.get("cited_gold", []))


def outcomes(run: dict[str, Any], lang: str | None) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in run["questions"] if lang is None or r["lang"] == lang}


def japanese(r: dict[str, Any]) -> int:
    """1 when an English question was answered, by the model, in Japanese or Chinese."""
    return int(r["lang"] == "en" and r["mode"] == "generative" and in_japanese(r["answer"]))


def measures(records: list[dict[str, Any]]) -> dict[str, Any]:
    answerable = [r for r in records if r["answerable"]]
    unanswerable = [r for r in records if not r["answerable"]]
    right = sum(1 for r in answerable if r.get("correct"))
    cited = [ok for r in answerable for ok in r.get("cited_gold", [])]
    ttft = sorted(r["timings"]["ttft_ms"] for r in records if "ttft_ms" in r.get("timings", {}))
    return {
        "n": len(answerable),
        "accuracy": round(right / len(answerable), 4) if answerable else 0.0,
        "accuracy_95": wilson(right, len(answerable)),
        "answerable_refused": round(sum(1 for r in answerable if r["refused"]) / len(answerable), 4)
        if answerable
        else 0.0,
        "unanswerable_refused": round(sum(1 for r in unanswerable if r["refused"]) / len(unanswerable), 4)
        if unanswerable
        else 0.0,
        "citation_precision": round(sum(cited) / len(cited), 4) if cited else 0.0,
        "ttft_p50_ms": ttft[len(ttft) // 2] if ttft else None,
        "japanese_in_english": sum(japanese(r) for r in records),
    }


def compare(paths: list[Path], lang: str | None = None) -> dict[str, Any]:
    runs = [json.loads(p.read_text(encoding="utf-8")) for p in paths]
    base = outcomes(runs[0], lang)
    out: dict[str, Any] = {"runs": []}
    for path, run in zip(paths, runs, strict=True):
        mine = outcomes(run, lang)
        shared = [i for i in base if i in mine and base[i]["answerable"]]
        row: dict[str, Any] = {"run": str(path), **measures(list(mine.values()))}
        if path != paths[0]:
            a = [int(bool(base[i].get("correct"))) for i in shared]
            b = [int(bool(mine[i].get("correct"))) for i in shared]
            diff, lo, hi = paired_interval(a, b)
            pairs = list(zip(a, b, strict=True))
            row["vs_first"] = {"questions": len(shared), "difference": diff, "interval_95": [lo, hi],
                               "decided": lo > 0 or hi < 0, "gained": sum(1 for x, y in pairs if y > x),
                               "lost": sum(1 for x, y in pairs if x > y)}  # fmt: skip
            diff, lo, hi = ratio_interval([_citations(base[i]) for i in shared], [_citations(mine[i]) for i in shared])
            row["vs_first"]["citation_precision"] = {"difference": diff, "interval_95": [lo, hi]}
            english = [i for i in base if i in mine and base[i]["lang"] == "en"]
            if english:
                was, now = [japanese(base[i]) for i in english], [japanese(mine[i]) for i in english]
                diff, lo, hi = paired_interval(was, now)
                row["vs_first"]["japanese_in_english"] = {"questions": len(english), "difference": diff,
                                                          "interval_95": [lo, hi]}  # fmt: skip
        out["runs"].append(row)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--lang", choices=("ja", "en"))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = compare(args.runs, args.lang)
    if args.out:
        write(args.out, result, "python -m bench.compare " + " ".join(map(str, args.runs)))
    else:
        print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()

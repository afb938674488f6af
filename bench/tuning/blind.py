"""The drafts as a blind reviewer sees them: question, language, kind and gold posts, never the answer
or the evidence; unanswerable questions without their absent terms.

    python -m bench.tuning.blind data/tuning/drafts/sheet-*.jsonl --out data/tuning/blind"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.tuning.check import read_jsonl

SHOWN = ("id", "question", "lang", "kind", "gold_posts")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("drafts", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("data/tuning/blind"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for path in args.drafts:
        rows = [{k: q.get(k) for k in SHOWN} for q in read_jsonl([path]) if "_broken" not in q]
        for row in rows:
            if row["kind"] == "unanswerable":
                row["kind"], row["gold_posts"] = "", []  # the reviewer searches the archive for it
        lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        (args.out / path.name).write_text(lines, encoding="utf-8")
        print(f"{path.name}: {len(rows)} questions")


if __name__ == "__main__":
    main()

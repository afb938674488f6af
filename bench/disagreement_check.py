"""How many of the disagreements the research desk reports are disagreements: ten topics drawn afresh,
every disagreement they report written out for a hand check, and the precision of the verdicts.

    python -m bench.disagreement_check draw --index data/bench/ingest-index --seed 2041 --limit 200
        → bench/results/disagreement-check.json (topics, and per disagreement its figures and sentences)
    python -m bench.disagreement_check score bench/results/disagreement-verdicts.json
        → the precision, written into disagreement-check.json

Topics are drawn with the seed from the Latin-script names that at least 8 post titles carry, leaving out
the names the rule was developed on. Each topic is researched over up to `--limit` posts (200, the most
POST /v1/research allows a researcher; the draws of seeds 2027 and 2028 used research()'s default, 50).
A disagreement is correct when its posts give different values for the same thing (the same company or
market, measure, scope and period), beyond rounding."""

from __future__ import annotations

import argparse
import json
import random
import re
from collections import Counter
from pathlib import Path
from typing import Any

from bench.common import ROOT, write
from rag.desk.report import shown
from rag.desk.research import research
from rag.retrieval.engine import Engine
from rag.settings import Settings

OUT = ROOT / "bench/results/disagreement-check.json"
# what the rule was written and tried on: never drawn
DEVELOPED_ON = {"nvidia", "openai", "google", "microsoft", "anthropic", "meta", "tsmc", "amd", "amazon", "aws"}
_NAME = re.compile(r"[A-Z][A-Za-z0-9\-]{2,}")
GENERIC = {"AI", "LLM", "API", "GPU", "DX", "SaaS", "The", "RAG", "IoT", "CEO", "AGI", "ROI", "CPO"}


def draw_topics(engine: Engine, seed: int, topics: int = 10, least: int = 8) -> list[str]:
    counts = Counter(n for p in engine.posts for n in set(_NAME.findall(p.title)))
    names = sorted(
        n
        for n, c in counts.items()
        if c >= least and n not in GENERIC and n.lower() not in DEVELOPED_ON and (len(n) >= 4 or n.isupper())
    )  # fmt: skip  (「Act」 of "EU AI Act", 「Pro」 of a model's name: words, not topics)
    return random.Random(seed).sample(names, topics)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="step", required=True)
    d = sub.add_parser("draw")
    d.add_argument("--index", type=Path, default=ROOT / "data/bench/ingest-index")
    d.add_argument("--seed", type=int, default=2027)
    d.add_argument("--limit", type=int, default=200, help="posts researched per topic (the API allows up to 200)")
    s = sub.add_parser("score")
    s.add_argument("verdicts", type=Path)
    args = parser.parse_args()
    if args.step == "draw":
        engine = Engine(Settings(), index=args.index)
        chosen = draw_topics(engine, args.seed)
        found: list[dict[str, Any]] = []
        per_topic = {}
        for topic in chosen:
            result = research(engine, topic, limit=args.limit)
            per_topic[topic] = {"posts": len(result.posts), "figures": len(result.figures),
                                "disagreements": len(result.disagreements)}  # fmt: skip
            for m in result.disagreements:
                found.append({
                    "id": f"d{len(found) + 1:03d}", "topic": topic, "measure": m.measure,
                    "subject": m.figures[0].subject, "scope": m.figures[0].scope, "period": m.figures[0].period,
                    "figures": [{"value": shown(f), "as_written": f.text, "date": f.date, "post": f.title,
                                 "source": f.source, "sentence": f.sentence} for f in m.figures],
                })  # fmt: skip
        write(OUT, {"seed": args.seed, "limit": args.limit, "topics": chosen, "per_topic": per_topic,
                    "reported": len(found), "disagreements": found},
              f"python -m bench.disagreement_check draw --seed {args.seed} --limit {args.limit}")  # fmt: skip
        return
    report = json.loads(OUT.read_text(encoding="utf-8"))
    verdicts = {v["id"]: v for v in json.loads(args.verdicts.read_text(encoding="utf-8"))}
    judged = [verdicts[d["id"]] for d in report["disagreements"] if d["id"] in verdicts]
    right = sum(1 for v in judged if v["correct"])
    report["hand_check"] = {"judged": len(judged), "correct": right,
                            "precision": round(right / len(judged), 3) if judged else None,
                            "verdicts": str(args.verdicts.resolve().relative_to(ROOT))}  # fmt: skip
    command = report.pop("command")
    for key in ("commit", "machine"):
        report.pop(key, None)
    write(OUT, report, command + f"; python -m bench.disagreement_check score {args.verdicts}")


if __name__ == "__main__":
    main()

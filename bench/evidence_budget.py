"""How often the evidence the model reads holds the gold answer, over the evidence budget (sources 1-3 ×
characters per source 80-300), on dev and on the JaQuAD questions; no model is asked, so the whole grid
takes minutes where one answered point takes 5-30. It bounds what any model can answer from that prompt;
`rag eval --answers` at chosen points measures what ours does (docs/answers.md).

    python -m bench.evidence_budget [--index data/bench/ingest-index]
        [--jaquad data/bench/jaquad/questions-200.jsonl --jaquad-index data/bench/jaquad/index]
    python -m bench.evidence_budget --questions bench/data/tuning.jsonl --name tuning --points 2x200,3x200 \
        --no-jaquad --out bench/results/evidence-budget-tuning.json   # the ids held at each point, for pairing
        [--base bench/results/evidence-budget-tuning.json:tuning:2x200]   # each point's paired difference
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.common import ROOT, add_questions_arg, write
from bench.compare import paired_interval
from index.text import language_of
from rag.answering.evidence import evidence_depth
from rag.answering.pipeline import Answerer
from rag.answering.prompts import build_messages
from rag.evaluation.evaluate import Question, load_questions
from rag.evaluation.grading import grade
from rag.retrieval.engine import Engine
from rag.settings import Settings

SOURCES = (1, 2, 3)
CHARS = (80, 120, 160, 200, 300)


def grid(
    engine: Engine, questions: list[Question], settings: Settings, points: list[tuple[int, int]] | None = None
) -> dict[str, dict[str, Any]]:
    answerer = Answerer(engine, None, settings.answer_config())
    cfg = answerer.config
    hits = {q.id: engine.search(q.question, evidence_depth(cfg)).result.hits for q in questions}
    out: dict[str, dict[str, Any]] = {}
    for n, chars in points or [(n, chars) for n in SOURCES for chars in CHARS]:
        budget = replace(cfg, max_sources=n, chars_per_source=chars)
        held: list[str] = []
        prompt = []
        for q in questions:
            lang = language_of(q.question)
            sources = answerer.evidence(q.question, hits[q.id], lang, config=budget)
            if grade(" ".join(s.text for s in sources), q.answer).correct:
                held.append(q.id)
            prompt.append(len(build_messages(q.question, sources, lang, compact=True)[1].content))
        prompt.sort()
        out[f"{n}x{chars}"] = {
            "evidence_holds_answer": round(len(held) / len(questions), 4),
            "user_prompt_chars_p50": prompt[len(prompt) // 2],
        }
        print(f"{n} × {chars}: {out[f'{n}x{chars}']}", flush=True)
        if points:
            out[f"{n}x{chars}"]["held"] = held
    return out


def against(base: str, points: dict[str, dict[str, Any]], ids: list[str]) -> dict[str, Any]:
    """Each point's difference in questions held from the base point, with its 95% paired interval."""
    path, name, point = base.rsplit(":", 2)
    held = set(json.loads(Path(path).read_text(encoding="utf-8"))[name][point]["held"])
    out: dict[str, Any] = {"base": base}
    for key, figures in points.items():
        now = set(figures.get("held", []))
        diff, lo, hi = paired_interval([int(i in held) for i in ids], [int(i in now) for i in ids])
        out[key] = {"difference": diff, "ci95": [lo, hi], "gained": len(now - held), "lost": len(held - now)}
        print(f"{key} against {base}: {out[key]}", flush=True)
    return out


def answerable(path: Path) -> list[Question]:
    return [q for q in load_questions(path) if q.answerable]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, default=None)
    add_questions_arg(parser)
    parser.add_argument("--jaquad", type=Path, default=ROOT / "data/bench/jaquad/questions-200.jsonl")
    parser.add_argument("--jaquad-index", type=Path, default=ROOT / "data/bench/jaquad/index")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/evidence-budget.json")
    parser.add_argument("--name", default="dev", help="the key the question set's figures go under")
    parser.add_argument("--points", default="", help="sources x chars, comma-separated (default: the grid)")
    parser.add_argument("--no-jaquad", action="store_true")
    parser.add_argument("--base", default="", help="FILE:SET:POINT of an earlier run with held ids")
    args = parser.parse_args()
    points = [(int(a), int(b)) for a, b in (p.split("x") for p in args.points.split(",") if p)] or None
    settings = Settings()
    blog = Engine(settings, index=args.index)
    questions = answerable(args.questions)
    figures: dict[str, Any] = {args.name: grid(blog, questions, settings, points)}
    if args.base:
        figures["against"] = against(args.base, figures[args.name], [q.id for q in questions])
    if args.jaquad.is_file() and not args.no_jaquad:  # python -m bench.jaquad_questions writes it
        jaquad = Engine(settings, index=args.jaquad_index, embedder=blog.embedder)
        figures["jaquad"] = grid(jaquad, answerable(args.jaquad), settings)
    write(args.out, figures, "python -m bench.evidence_budget " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()

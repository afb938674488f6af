"""JaQuAD as an answer benchmark: builds (or updates) the JaQuAD archive and index of bench_jaquad, and
writes a seeded sample of its questions in dev.jsonl's format (gold post, short answer) so that
`rag eval FILE --answers` grades answers on it exactly as on dev.

    python -m bench.jaquad_questions [--n 200] [--work data/bench/jaquad]
    rag eval data/bench/jaquad/questions-200.jsonl --index data/bench/jaquad/index --answers --json
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from bench.bench_jaquad import build_archive
from bench.common import ROOT, env_path
from index.embedding import load_embedder
from index.ingest import ingest
from rag.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--work", type=Path, default=ROOT / "data/bench/jaquad")
    args = parser.parse_args()
    jaquad = env_path("JAQUAD_DIR", str(ROOT.parent / "shared/external/jaquad"))
    questions = {q.id: q for q in build_archive(jaquad, args.work / "archive")}
    answers = {
        qa["id"]: qa["answers"][0]["text"]
        for path in sorted(jaquad.glob("*.json"))
        for article in json.loads(path.read_text(encoding="utf-8"))["data"]
        for para in article["paragraphs"]
        for qa in para["qas"]
        if qa.get("answers")
    }
    settings = Settings()
    embedder = load_embedder(settings.embedding_model, settings.embedder_options())
    ingest(args.work / "archive", args.work / "index", embedder.name, lambda: embedder, settings.ingest_options(),
           progress=True)  # fmt: skip
    chosen = random.Random(11).sample(sorted(i for i in questions if i in answers), args.n)
    out = args.work / f"questions-{args.n}.jsonl"
    with out.open("w", encoding="utf-8") as f:
        for i in chosen:
            q = questions[i]
            row = {"id": i, "question": q.question, "lang": "ja", "answerable": True,
                   "gold_posts": [f"_posts/{q.source}"], "answer": answers[i], "kind": "jaquad"}  # fmt: skip
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {out} ({args.n} questions)")


if __name__ == "__main__":
    main()

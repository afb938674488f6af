"""Calibrates two question-similarity thresholds on the dev questions, with the default embedder:

- the answer cache's near-duplicate threshold (RAG_CACHE_SIMILARITY): another wording of a question
  should hit, a different question never. Positives: each dev question and a paraphrase the local LLM
  writes for it (plus a polite/plain rewording made by rule); negatives: every pair of distinct dev
  questions. The threshold is the smallest with no negative above it.
- the gaps report's grouping threshold (RAG_GAP_SIMILARITY): questions on the same missing theme should
  group. Positives: the paraphrase pairs and dev questions that share a gold post; negatives: the
  other pairs. The threshold is the one with the best pairwise F1.

    python -m bench.calibrate_similarity [--questions dev.jsonl] [--out bench/results/similarity.json]
"""

from __future__ import annotations

import argparse
import re
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import ROOT, add_questions_arg, write
from index.embedding import load_embedder
from rag.evaluation.evaluate import Question, load_questions
from rag.llm.base import LLM, Message, Usage
from rag.llm.registry import load_llm
from rag.settings import Settings

GRID = [round(x, 3) for x in np.arange(0.80, 1.0001, 0.005)]
_ASK = {
    "ja": "次の質問を、意味を変えずに別の言い方で書き換えてください。"
    "書き換えた質問だけを1行で答えてください。\n質問: {q}",
    "en": "Rewrite the following question in other words without changing its meaning. "
    "Reply with the rewritten question only, on one line.\nQuestion: {q}",
}


def paraphrase(llm: LLM, q: Question) -> str:
    text = ""
    for piece in llm.stream([Message("user", _ASK["en" if q.lang == "en" else "ja"].format(q=q.question))],
                            max_tokens=80):  # fmt: skip
        if not isinstance(piece, Usage):
            text += piece
    line = text.strip().splitlines()[0] if text.strip() else ""
    return re.sub(r"^(言い換え|書き換え|質問|Question|Rewritten question)\s*[:：]\s*", "", line).strip()


def is_paraphrase(original: str, candidate: str) -> bool:
    """The small model sometimes answers instead of rewording (「Soraは2021年10月に発表され…」): only a
    question that adds no figure of its own counts."""
    if not candidate or candidate == original or not re.search(r"[？?]$|か。?$", candidate):
        return False
    return set(re.findall(r"\d+", candidate)) <= set(re.findall(r"\d+", original))


_PLAIN = [("ていますか？", "ている？"), ("ましたか？", "たか？"), ("ですか？", "？")]


def reworded(q: Question) -> str:
    """A plain-for-polite rewording, the commonest near-duplicate in a chat widget."""
    if q.lang == "en":
        return "Could you tell me: " + q.question[0].lower() + q.question[1:]
    for polite, plain in _PLAIN:
        if q.question.endswith(polite):
            return q.question[: -len(polite)] + plain
    return "教えてください：" + q.question


def cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    add_questions_arg(parser)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/similarity.json")
    args = parser.parse_args()
    settings = Settings()
    questions = load_questions(args.questions)
    llm = load_llm("llama.cpp", settings.llm_options())
    assert llm is not None
    embedder = load_embedder(settings.embedding_model, settings.embedder_options())
    written = [(q, paraphrase(llm, q)) for q in questions]
    pairs = [(q, p if is_paraphrase(q.question, p) else "", reworded(q)) for q, p in written]
    vec = {text: np.asarray(embedder.embed_query(text), dtype=np.float32)
           for q, p, r in pairs for text in (q.question, p, r) if text}  # fmt: skip
    positives = [cos(vec[q.question], vec[t]) for q, p, r in pairs for t in (p, r) if t and t != q.question]
    negatives: list[float] = []
    same_theme: list[float] = []
    other: list[float] = []
    for a, b in combinations(questions, 2):
        c = cos(vec[a.question], vec[b.question])
        negatives.append(c)
        (same_theme if set(a.gold) & set(b.gold) else other).append(c)
    cache = next(t for t in GRID if t > max(negatives))
    theme_pos = positives + same_theme
    rows = []
    for t in GRID:
        tp = sum(c >= t for c in theme_pos)
        fp = sum(c >= t for c in other)
        fn = len(theme_pos) - tp
        f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        hit_rate = round(float(np.mean([c >= t for c in positives])), 3)
        wrong = int(sum(c >= t for c in negatives))
        rows.append({"threshold": t, "paraphrase_hit_rate": hit_rate, "distinct_question_hits": wrong,
                     "theme_f1": round(f1, 3)})  # fmt: skip
    gap = max(rows, key=lambda r: (r["theme_f1"], -r["threshold"]))["threshold"]
    figures: dict[str, Any] = {
        "questions": len(questions),
        "positives": len(positives),
        "negatives": len(negatives),
        "same_theme_pairs": len(same_theme),
        "max_distinct_question_cosine": round(max(negatives), 4),
        "cache_similarity": cache,
        "cache_paraphrase_hit_rate": next(r["paraphrase_hit_rate"] for r in rows if r["threshold"] == cache),
        "gap_similarity": gap,
        "gap_theme_f1": next(r["theme_f1"] for r in rows if r["threshold"] == gap),
        "table": rows,
        "paraphrases_rejected": sum(1 for (_, p), (_, kept, _) in zip(written, pairs, strict=True) if p and not kept),
        "pairs": [
            {"question": q.question, "model_wrote": w, "paraphrase": p, "reworded": r}
            for (q, w), (_, p, r) in zip(written, pairs, strict=True)
        ],
    }
    write(args.out, figures, "python -m bench.calibrate_similarity")


if __name__ == "__main__":
    main()

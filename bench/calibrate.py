"""Fits the not-in-archive signal (rag/retrieval/relevance.py) for the configured embedder and stores it in
rag/retrieval/relevance.json. Positives: answerable dev questions on the blog index, JaQuAD questions on the
JaQuAD index. Negatives: unanswerable dev questions, and JaQuAD questions (Wikipedia topics) asked of
the blog index. The threshold keeps at most 5% of each archive's positives flagged (not 5% of all of them,
where JaQuAD's 400 would outvote dev's 45); figures are cross-validated.

    python -m bench.calibrate [--index data/index] [--jaquad-index data/bench/jaquad/index]
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np

from bench.bench_jaquad import build_archive
from bench.common import ROOT, add_questions_arg, env_path
from index.ingest import ingest
from index.store import IndexFolder
from rag.evaluation.evaluate import load_questions
from rag.retrieval.engine import Engine
from rag.retrieval.relevance import FEATURES, MODELS, SCALE_FREE, features
from rag.settings import Settings

MAX_FLAGGED_POSITIVES = 0.05


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0, steps: int = 50) -> tuple[np.ndarray, float]:
    """Newton's method on the L2-regularised log-likelihood (the bias is not regularised)."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(xb.shape[1])
    reg = np.eye(xb.shape[1]) * l2
    reg[-1, -1] = 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(xb @ w)))
        grad = xb.T @ (p - y) + reg @ w
        hess = xb.T @ (xb * (p * (1 - p))[:, None]) + reg
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w[:-1], float(w[-1])


def probabilities(x: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
    return 1 / (1 + np.exp(-(x @ w + b)))


def threshold_for(p_pos: np.ndarray, archive: np.ndarray) -> float:
    """The highest threshold that flags at most MAX_FLAGGED_POSITIVES of the positives on every archive:
    a reader meets the false refusals of the archive they ask, not an average over archives."""
    return min(_cut(p_pos[archive == a]) for a in set(archive))


def _cut(p: np.ndarray) -> float:
    """Halfway between the last positive flagged and the first one kept: a cut at a positive's own
    probability flags it as soon as the stored (rounded) weights move it down by 1e-6."""
    s = np.sort(p)
    i = int(np.floor(MAX_FLAGGED_POSITIVES * (len(s) - 1)))  # numpy's "lower" quantile
    return float((s[i - 1] + s[i]) / 2) if i > 0 else float(s[0]) / 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, default=None)
    parser.add_argument("--jaquad-index", type=Path, default=ROOT / "data/bench/jaquad/index")
    add_questions_arg(parser)
    parser.add_argument("--sample", type=int, default=400, help="JaQuAD questions per side")
    parser.add_argument(
        "--out", type=Path, help="write the report here instead of updating rag/retrieval/relevance.json"
    )
    parser.add_argument("--features", default=",".join(SCALE_FREE), help=f"comma-separated, of {FEATURES + SCALE_FREE}")
    args = parser.parse_args()
    names = tuple(args.features.split(","))
    unknown = set(names) - set(FEATURES + SCALE_FREE)
    if unknown:
        parser.error(f"unknown features {sorted(unknown)}")
    settings = Settings(relevance_threshold=0.0)
    blog = Engine(settings, index=args.index)
    jaquad = build_archive(env_path("JAQUAD_DIR", str(ROOT.parent / "shared/external/jaquad")),
                           ROOT / "data/bench/jaquad/archive")  # fmt: skip
    if IndexFolder(args.jaquad_index).current() is None:  # the JaQuAD archive's own index, built once
        ingest(ROOT / "data/bench/jaquad/archive", args.jaquad_index, blog.embedder.name, lambda: blog.embedder,
               settings.ingest_options())  # fmt: skip
    wiki = Engine(settings, index=args.jaquad_index, embedder=blog.embedder)
    rng = random.Random(7)
    sample = rng.sample(jaquad, min(args.sample, len(jaquad)))
    rows: list[tuple[list[float], int, str]] = []
    for q in load_questions(args.questions):
        rows.append((features(blog.search(q.question, 10).result, names), int(q.answerable), "dev"))
    for jq in sample:
        rows.append((features(wiki.search(jq.question, 10).result, names), 1, "jaquad-wiki"))
        rows.append((features(blog.search(jq.question, 10).result, names), 0, "jaquad-blog"))
    x = np.array([r[0] for r in rows])
    y = np.array([r[1] for r in rows], dtype=float)
    group = np.array([r[2] for r in rows])

    # 5-fold cross-validation: every question scored by a model that did not see it
    folds = np.arange(len(rows)) % 5
    rng_np = np.random.default_rng(7)
    rng_np.shuffle(folds)
    held = np.zeros(len(rows))
    for k in range(5):
        train = folds != k
        w, b = fit_logistic(x[train], y[train])
        t = threshold_for(probabilities(x[train & (y == 1)], w, b), group[train & (y == 1)])
        held[~train] = probabilities(x[~train], w, b) < t  # flagged
    # Transfer: fitted on the blog alone (dev questions, and JaQuAD questions asked of the blog as
    # negatives), then used on JaQuAD as an archive it never saw: does the signal hold on another archive?
    blog_only = group != "jaquad-wiki"
    w_t, b_t = fit_logistic(x[blog_only], y[blog_only])
    t_t = threshold_for(probabilities(x[blog_only & (y == 1)], w_t, b_t), group[blog_only & (y == 1)])
    transfer = float((probabilities(x[group == "jaquad-wiki"], w_t, b_t) < t_t).mean())
    w, b = fit_logistic(x, y)
    threshold = threshold_for(probabilities(x[y == 1], w, b), group[y == 1])
    dev = group == "dev"
    report = {
        "features": list(names), "weights": [round(float(v), 5) for v in w], "bias": round(b, 5),
        "threshold": round(threshold, 5), "trained_on": {g: int((group == g).sum()) for g in sorted(set(group))},
        "cross_validated": {
            "dev_answerable_flagged": round(float(held[dev & (y == 1)].mean()), 4),
            "dev_unanswerable_flagged": round(float(held[dev & (y == 0)].mean()), 4),
            "jaquad_on_jaquad_flagged": round(float(held[group == "jaquad-wiki"].mean()), 4),
            "jaquad_on_blog_flagged": round(float(held[group == "jaquad-blog"].mean()), 4),
        },
        "fitted_on_blog_only_jaquad_archive_flagged": round(transfer, 4),
        "command": "python -m bench.calibrate",
    }  # fmt: skip
    table = json.loads(MODELS.read_text(encoding="utf-8")) if MODELS.is_file() else {}
    if args.out:  # a comparison run: keep the model that is in use
        args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return
    table[blog.embedder.name] = report
    MODELS.write_text(json.dumps(table, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()

"""The not-in-archive threshold rule (bench/calibrate.py): a reader meets the false refusals of the archive
they ask, so the threshold must hold on each archive, not on the pooled positives."""

from __future__ import annotations

import numpy as np

from bench.calibrate import MAX_FLAGGED_POSITIVES, threshold_for


def test_the_threshold_flags_at_most_five_percent_of_each_archives_positives() -> None:
    # 400 positives of a large archive, all confident; 40 of a small one, spread low
    big = np.linspace(0.6, 1.0, 400)
    small = np.linspace(0.05, 0.95, 40)
    p = np.concatenate([big, small])
    archive = np.array(["big"] * 400 + ["small"] * 40)
    t = threshold_for(p, archive)
    for name in ("big", "small"):
        flagged = float((p[archive == name] < t).mean())
        assert flagged <= MAX_FLAGGED_POSITIVES, name
    # pooled, the big archive would have let the small one's weakest 8 of 40 (20%) be flagged
    pooled = float(np.quantile(p, MAX_FLAGGED_POSITIVES, method="lower"))
    assert float((small < pooled).mean()) > 0.15

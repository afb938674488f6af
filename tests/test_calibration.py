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


def test_the_threshold_keeps_a_margin_from_the_positives_on_both_sides() -> None:
    p = np.linspace(0.1, 0.9, 41)  # 5% of 41: two flagged
    t = threshold_for(p, np.array(["a"] * 41))
    assert int((p < t).sum()) == 2
    # the stored weights are rounded: probabilities moving by 1e-4 flag neither more nor fewer
    assert int((p - 1e-4 < t).sum()) == int((p + 1e-4 < t).sum()) == 2

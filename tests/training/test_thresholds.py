from __future__ import annotations

import numpy as np

from training.thresholds import relevance_threshold, review_margin, review_threshold


def test_relevance_threshold_is_lowest_meeting_both_targets() -> None:
    p = np.array([0.1, 0.3, 0.55, 0.6, 0.7, 0.8, 0.9, 0.95])
    y = np.array([0, 0, 1, 0, 1, 1, 1, 1], dtype=bool)
    # at 0.61..0.70 no false positive remains and recall is 5/6
    assert relevance_threshold(p, y, min_precision=0.95, max_fpr=0.0) == 0.61
    # a looser false-positive target lets the threshold drop below the 0.6 negative
    assert relevance_threshold(p, y, min_precision=0.8, max_fpr=0.34) == 0.31


def test_review_threshold_reaches_target_accuracy() -> None:
    conf = np.array([0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95])
    correct = np.array([0, 0, 1, 0, 1, 1, 1, 1], dtype=bool)
    assert review_threshold(conf, correct, 1.0) == 0.61
    assert review_threshold(conf, correct, 0.5) == 0.2


def test_review_margin_covers_the_unreliable_band() -> None:
    rng = np.random.default_rng(0)
    distance = rng.uniform(0, 0.5, 2000)
    # wrong half of the time within 0.1 of the threshold, almost never beyond it
    correct = np.where(distance < 0.1, rng.uniform(size=2000) < 0.5, rng.uniform(size=2000) < 0.99)
    margin = review_margin(distance, correct, 0.92)
    assert 0.1 <= margin <= 0.2
    assert review_margin(distance, np.ones(2000, dtype=bool), 0.92) == 0.0

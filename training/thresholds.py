"""Decision and review thresholds, chosen on out-of-fold predictions of the training rows."""

from __future__ import annotations

import numpy as np

GRID = np.round(np.arange(0.20, 0.995, 0.01), 2)


def relevance_threshold(p: np.ndarray, y: np.ndarray, min_precision: float, max_fpr: float) -> float:
    """The lowest threshold whose precision and false-positive rate meet both targets.

    The lowest such threshold keeps the most recall. When no threshold meets both, the one with
    the best F1 among those meeting the false-positive target (the one that costs administrators'
    time on real traffic) is used.
    """
    y = y.astype(bool)
    best_f1, fallback = -1.0, 0.5
    for t in GRID:
        pred = p >= t
        tp = int((pred & y).sum())
        fp = int((pred & ~y).sum())
        precision = tp / (tp + fp) if tp + fp else 1.0
        fpr = fp / max(int((~y).sum()), 1)
        if precision >= min_precision and fpr <= max_fpr:
            return float(t)
        recall = tp / max(int(y.sum()), 1)
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        if fpr <= max_fpr and f1 > best_f1:
            best_f1, fallback = f1, float(t)
    return fallback


def review_margin(distance: np.ndarray, correct: np.ndarray, target_accuracy: float, width: float = 0.05) -> float:
    """How close to the decision threshold a score may be before a person must look.

    Walking outward from the threshold, the margin is where decisions in a ring of `width` first
    become right at least `target_accuracy` of the time.
    """
    for m in np.round(np.arange(0.0, 0.5, 0.01), 2):
        ring = (distance >= m) & (distance < m + width)
        if ring.sum() >= 5 and correct[ring].mean() >= target_accuracy:
            return float(m)
    return 0.5


def review_threshold(confidence: np.ndarray, correct: np.ndarray, target_accuracy: float) -> float:
    """The lowest confidence above which suggestions are right at least `target_accuracy` of the time."""
    for t in GRID:
        auto = confidence >= t
        if not auto.any():
            break
        if correct[auto].mean() >= target_accuracy:
            return float(t)
    return float(GRID[-1])

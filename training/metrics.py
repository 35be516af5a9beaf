"""Metrics of one head on held-out rows, as plain JSON-ready dicts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support


def expected_calibration_error(confidence: Any, correct: Any, bins: int = 10) -> float:
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by bin size."""
    conf = np.asarray(confidence, dtype=float)
    ok = np.asarray(correct, dtype=float)
    if len(conf) == 0:
        return 0.0
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            ece += mask.mean() * abs(ok[mask].mean() - conf[mask].mean())
    return round(float(ece), 4)


def binary_metrics(gold: Sequence[bool], pred: Sequence[bool], score: Sequence[float]) -> dict[str, Any]:
    g = np.asarray(gold, dtype=bool)
    p = np.asarray(pred, dtype=bool)
    tp = int((g & p).sum())
    fp = int((~g & p).sum())
    fn = int((g & ~p).sum())
    tn = int((~g & ~p).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    s = np.asarray(score, dtype=float)
    conf = np.where(p, s, 1 - s)
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "false_positive_rate": round(fp / (fp + tn), 4) if fp + tn else 0.0,
        "support": {"relevant": int(g.sum()), "not_relevant": int((~g).sum())},
        "confusion": {"tp": tp, "fp": fp, "fn": fn, "tn": tn},
        "calibration_error": expected_calibration_error(conf, g == p),
    }


def multiclass_metrics(
    gold: Sequence[str],
    pred: Sequence[str],
    score: Sequence[float],
    review_threshold: float | None = None,
    worst: int = 10,
) -> dict[str, Any]:
    if not gold:
        return {"support": 0}
    labels = sorted(set(gold) | set(pred))
    p, r, f, s = precision_recall_fscore_support(gold, pred, labels=labels, zero_division=0)
    correct = np.asarray(gold) == np.asarray(pred)
    out: dict[str, Any] = {
        "accuracy": round(float(accuracy_score(gold, pred)), 4),
        "macro_f1": round(float(f1_score(gold, pred, labels=sorted(set(gold)), average="macro", zero_division=0)), 4),
        "support": len(gold),
        "per_class": {
            label: {"precision": round(float(pi), 4), "recall": round(float(ri), 4), "f1": round(float(fi), 4),
                    "support": int(si)}
            for label, pi, ri, fi, si in zip(labels, p, r, f, s, strict=True)
        },
        "confusions": [
            {"gold": g, "predicted": q, "count": n}
            for (g, q), n in Counter((g, q) for g, q in zip(gold, pred, strict=True) if g != q).most_common(worst)
        ],
        "calibration_error": expected_calibration_error(score, correct),
    }
    if review_threshold is not None:
        auto = np.asarray(score) >= review_threshold
        out["review"] = {
            "threshold": round(review_threshold, 4),
            "coverage": round(float(auto.mean()), 4),
            "accuracy_auto": round(float(correct[auto].mean()), 4) if auto.any() else None,
            "accuracy_review": round(float(correct[~auto].mean()), 4) if (~auto).any() else None,
        }
    return out

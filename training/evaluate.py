"""Evaluation of a predictor on labelled posts: one JSON-ready dict of metrics per head."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from model.predictor import Predictor
from model.records import Post, Prediction
from training.corpus import Example
from training.metrics import binary_metrics, multiclass_metrics

BATCH = 512


def _known(predictor: Predictor, region: str | None) -> str | None:
    """A row's region when the bundle has its directory; else the default region routes it."""
    return region if region in predictor.bundle.regions else None


def predict_all(predictor: Predictor, examples: Sequence[Example]) -> list[Prediction]:
    out: list[Prediction] = []
    for start in range(0, len(examples), BATCH):
        chunk = examples[start : start + BATCH]
        out += predictor.predict(
            [Post(id=ex.id, text=ex.text, network=ex.network, region=_known(predictor, ex.region)) for ex in chunk],
            explain=False,
        )
    return out


def evaluate(
    predictor: Predictor, examples: Sequence[Example], score_municipality: bool = True,
    predictions: Sequence[Prediction] | None = None,
) -> dict[str, Any]:
    """`predictions`: the predictor's predictions of `examples` when the caller has them already."""
    preds = predict_all(predictor, examples) if predictions is None else predictions
    review = predictor.review
    report: dict[str, Any] = {"model": predictor.bundle.id, "rows": len(examples)}
    labelled = [(ex, p) for ex, p in zip(examples, preds, strict=True) if ex.relevant is not None]
    if labelled:
        report["relevance"] = binary_metrics(
            [bool(ex.relevant) for ex, _ in labelled],
            [bool(p.relevant.label) for _, p in labelled],
            [p.relevant.score for _, p in labelled],
        )
    for head in ("topic", "agency"):
        pairs = [(getattr(ex, head), getattr(p, head)) for ex, p in zip(examples, preds, strict=True)
                 if getattr(ex, head) is not None]
        if pairs:
            report[head] = multiclass_metrics(
                [g for g, _ in pairs], [q.label for _, q in pairs], [q.score for _, q in pairs], review[head]
            )
    if score_municipality:
        rel = [(ex, p) for ex, p in zip(examples, preds, strict=True) if ex.relevant]
        if rel:
            gold = [ex.municipality for ex, _ in rel]
            got = [p.municipality.oktmo if p.municipality else None for _, p in rel]
            named = [(g, q) for g, q in zip(gold, got, strict=True) if g is not None]
            unnamed = [q for g, q in zip(gold, got, strict=True) if g is None]
            report["municipality"] = {
                "accuracy": round(sum(g == q for g, q in zip(gold, got, strict=True)) / len(rel), 4),
                "recall_named": round(sum(g == q for g, q in named) / len(named), 4) if named else None,
                "false_place_rate": round(sum(q is not None for q in unnamed) / len(unnamed), 4) if unnamed else None,
                "support": {"named": len(named), "unnamed": len(unnamed)},
            }
    report["needs_review_share"] = round(sum(p.needs_review for p in preds) / len(preds), 4) if preds else 0.0
    return report

"""Evaluation that measures generalization: each source held out in turn, and the eval-only real sets.

A model is judged by how it does on a source it did not train on. For every held-out source group
(the project's corpus, the Kursk appeals, the Troitsk messages, each group of news channels, ...) a
model is trained on everything else and scored on that group alone; the synthetic test split and the
eval-only sets (`rusentiment_test`, `sensitive_topics_eval`) are scored by the model trained on all
sources. Features, model and thresholds are chosen on these figures, never on the synthetic split.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from model.bundle import Bundle
from model.lemma import Lemmatizer
from model.predictor import Predictor
from model.region import Region, load_regions
from model.rules import load_rules
from model.taxonomy import load_taxonomy
from training import reference
from training.config import TrainConfig
from training.corpus import Example
from training.evaluate import evaluate, predict_all
from training.train import fit, load_reference, load_training_data

HOLDOUTS = ("corpus", "kursk", "troitsk", "news_city", "news_national", "news_tech", "uk_feedback", "rusentiment",
            "sensitive_topics")


@dataclass(frozen=True)
class Sources:
    corpus_train: list[Example]
    corpus_test: list[Example]
    real: list[Example]  # the reference sets marked train
    eval_only: dict[str, list[Example]]


def load_sources(cfg: TrainConfig, progress: Callable[[str], None] = lambda _: None) -> Sources:
    corpus_train, corpus_test = load_training_data(cfg)
    loaded = load_reference(cfg, progress)
    evals = reference.load(reference.data_dir(configured=cfg.reference_data), use="eval") if loaded else None
    return Sources(
        corpus_train=corpus_train,
        corpus_test=corpus_test,
        real=loaded.examples("train") if loaded else [],
        eval_only=dict(evals.rows) if evals else {},
    )


CURVE = tuple(round(t, 2) for t in np.arange(0.1, 0.96, 0.05))


def figures(predictor: Predictor, rows: Sequence[Example]) -> dict[str, Any]:
    """Relevance recall / false-positive rate / F1 as fits the rows, topic and agency on the complaints;
    `curve`: the share of complaints and of non-complaints predicted relevant at each threshold of CURVE
    (the points of a precision-recall curve)."""
    if not rows:
        return {"rows": 0}
    preds = predict_all(predictor, rows)
    report = evaluate(predictor, rows, score_municipality=False, predictions=preds)
    out: dict[str, Any] = {"rows": len(rows)}
    gold = np.asarray([bool(ex.relevant) for ex in rows])
    scores = np.asarray([p.relevant.score for p in preds])
    got = scores >= predictor.relevance_threshold
    if gold.any():
        out["relevance_recall"] = round(float(got[gold].mean()), 4)
    if not gold.all():
        out["false_positive_rate"] = round(float(got[~gold].mean()), 4)
    if gold.any() and not gold.all():
        out.update(relevance_precision=report["relevance"]["precision"], relevance_f1=report["relevance"]["f1"])
    for head in ("topic", "agency"):
        if head in report:
            out[f"{head}_accuracy"] = report[head]["accuracy"]
            out[f"{head}_macro_f1"] = report[head]["macro_f1"]
    out["curve"] = {
        "threshold": list(CURVE),
        "complaints": [round(float((scores[gold] >= t).mean()), 4) for t in CURVE] if gold.any() else None,
        "others": [round(float((scores[~gold] >= t).mean()), 4) for t in CURVE] if not gold.all() else None,
    }
    return out


def predictor_for(cfg: TrainConfig, rows: Sequence[Example], regions: dict[str, Region], lemmatizer: Lemmatizer,
                  progress: Callable[[str], None]) -> Predictor:
    """A predictor of heads and thresholds fitted on `rows`, in memory (no bundle written)."""
    taxonomy = load_taxonomy(cfg.taxonomy)
    rules = tuple(load_rules(cfg.rules))
    fitted = fit(cfg, rows, taxonomy, regions, rules, lemmatizer, progress)
    meta = {"id": "cross-source", "default_region": cfg.default_region, "thresholds": fitted.thresholds}
    bundle = Bundle(path=cfg.corpus, meta=meta, classifier=fitted.classifier, taxonomy=taxonomy, regions=regions,
                    rules=rules)
    return Predictor(bundle, lemmatizer)


def cross_source(cfg: TrainConfig, holdouts: Sequence[str] = HOLDOUTS,
                 progress: Callable[[str], None] = lambda _: None, sources: Sources | None = None) -> dict[str, Any]:
    """One JSON-ready report: the all-sources model on the synthetic split and the eval-only sets, then
    each held-out source scored by a model trained without it."""
    src = sources or load_sources(cfg, progress)
    regions = load_regions(cfg.regions)
    lemmatizer = Lemmatizer()
    all_rows = src.corpus_train + src.real
    report: dict[str, Any] = {"train_rows": len(all_rows), "held_out": {}}
    progress("all sources")
    full = predictor_for(cfg, all_rows, regions, lemmatizer, progress)
    report["thresholds"] = full.bundle.meta["thresholds"]
    report["synthetic_test"] = figures(full, src.corpus_test)
    report["eval_only"] = {name: figures(full, rows) for name, rows in src.eval_only.items()}
    present = {ex.origin for ex in all_rows}
    for group in holdouts:
        if group not in present:
            continue
        progress(f"held out: {group}")
        kept = [ex for ex in all_rows if ex.origin != group]
        tested = src.corpus_test if group == "corpus" else [ex for ex in src.real if ex.origin == group]
        report["held_out"][group] = found = figures(predictor_for(cfg, kept, regions, lemmatizer, progress), tested)
        progress(f"{group}: " + ", ".join(f"{k} {v}" for k, v in found.items() if k != "curve"))
    return report

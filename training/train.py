"""Training: corpus (+ feedback) -> three heads -> evaluated, tracked, written bundle."""

from __future__ import annotations

import platform
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from model.bundle import Bundle, load_bundle, set_current, write_bundle
from model.classifier import Classifier
from model.doc import analyze
from model.features import Featurizer
from model.heads import CalibratedLinear
from model.jurisdiction import Jurisdiction
from model.lemma import Lemmatizer
from model.matcher import Matcher, Rule
from model.predictor import Predictor, scored_text
from model.records import Post
from model.region import Region, load_regions
from model.rules import load_rules
from model.taxonomy import Taxonomy, load_taxonomy
from training import reference
from training.config import TrainConfig
from training.corpus import CorpusError, Example, data_hash, label_problems, read_corpus, splits
from training.evaluate import evaluate
from training.thresholds import relevance_threshold, review_margin, review_threshold

LIBRARIES = ("scikit-learn", "numpy", "scipy", "joblib", "natasha", "pymorphy3", "pymorphy3-dicts-ru", "otklik")
SMOKE_TEXT = "Третий день нет горячей воды в Березниках, управляющая компания не отвечает"


@dataclass(frozen=True)
class TrainResult:
    bundle: Path
    meta: dict[str, Any]


def build_classifier(cfg: TrainConfig) -> Classifier:
    def head(C: float) -> CalibratedLinear:
        return CalibratedLinear(C=C, cv=cfg.cv_folds, random_state=cfg.seed, n_jobs=cfg.n_jobs)

    return Classifier(
        featurizer=Featurizer(min_df=cfg.min_df, max_features=cfg.max_features, char_weight=cfg.char_weight,
                              embedding_weight=cfg.embedding_weight),
        relevance=head(cfg.relevance_C),
        topic=head(cfg.topic_C),
        agency=head(cfg.agency_C),
        rule_weight=cfg.rule_weight,
        relevance_rule_weight=cfg.relevance_rule_weight,
        prior_weight=cfg.prior_weight,
    )


def choose_thresholds(clf: Classifier, relevant: np.ndarray, topics: np.ndarray, agencies: np.ndarray,
                      cfg: TrainConfig) -> dict[str, Any]:
    p_rel = clf.relevance.oof_proba_[:, list(clf.relevance.classes_).index(True)]
    t_rel = relevance_threshold(p_rel, relevant, cfg.relevance_precision, cfg.relevance_max_fpr)
    review = {"relevance": review_margin(np.abs(p_rel - t_rel), (p_rel >= t_rel) == relevant, cfg.review_accuracy)}
    for name, head, gold in (("topic", clf.topic, topics), ("agency", clf.agency, agencies)):
        oof = head.oof_proba_
        review[name] = review_threshold(oof.max(axis=1), head.classes_[oof.argmax(axis=1)] == gold,
                                        cfg.review_accuracy)
    return {"relevance": t_rel, "review": review}


def load_training_data(cfg: TrainConfig) -> tuple[list[Example], list[Example]]:
    """The project's corpus, checked, as its train and test splits."""
    taxonomy = load_taxonomy(cfg.taxonomy)
    regions = load_regions(cfg.regions)
    if cfg.default_region not in regions:
        raise CorpusError(f"default_region {cfg.default_region!r} is not in {cfg.regions}: {sorted(regions)}")
    corpus = read_corpus(cfg.corpus)
    problems = label_problems(corpus, taxonomy, regions[cfg.default_region])
    if problems:
        shown = "\n  ".join(problems[:20])
        raise CorpusError(f"{len(problems)} problem(s) in the corpus:\n  {shown}")
    parts = splits(corpus)
    return parts["train"], parts["test"]


def load_reference(cfg: TrainConfig, progress: Callable[[str], None] = lambda _: None) -> reference.Loaded | None:
    """The real reference sets marked *train*, or None when switched off or absent (said through `progress`)."""
    if not cfg.reference_data:
        progress("reference data switched off (reference_data = \"\"): training on the corpus alone")
        return None
    loaded = reference.load(reference.data_dir(configured=cfg.reference_data), use="train")
    if not loaded.rows:
        progress(f"no reference data in {loaded.folder}: training on the corpus alone")
        return None
    for name, why in loaded.missing.items():
        progress(f"reference set {name} absent ({why})")
    counts = Counter(ex.origin for ex in loaded.examples("train"))
    progress(f"reference data from {loaded.folder}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return loaded


@dataclass(frozen=True)
class Fitted:
    classifier: Classifier
    thresholds: dict[str, Any]


def fit(cfg: TrainConfig, rows: Sequence[Example], taxonomy: Taxonomy, regions: Mapping[str, Region],
        rules: Sequence[Rule], lemmatizer: Lemmatizer, progress: Callable[[str], None] = lambda _: None) -> Fitted:
    """Heads and thresholds fitted on `rows` (each routed by the directory of its own region)."""
    progress(f"analyzing {len(rows)} training posts")
    docs = analyze([scored_text(ex.text) for ex in rows], lemmatizer)
    topic_of = {rule.id: rule.topic for rule in rules if rule.topic}
    rule_topics = [
        frozenset(topic_of[m.rule_id] for m in found if m.rule_id in topic_of)
        for found in Matcher(rules, lemmatizer).match(docs)
    ]
    jurisdictions = {code: Jurisdiction(region, lemmatizer) for code, region in regions.items()}
    default = jurisdictions[cfg.default_region]
    relevant = np.asarray([bool(ex.relevant) for ex in rows])
    progress("fitting relevance, topic and agency heads")
    clf = build_classifier(cfg).fit(
        docs,
        relevant,
        [ex.topic for ex in rows],
        [ex.agency for ex in rows],
        rule_topics,
        [jurisdictions.get(ex.region or cfg.default_region, default) for ex in rows],
        list(taxonomy.topics),
        list(taxonomy.agencies),
    )
    gold_topics = np.asarray([ex.topic for ex in rows if ex.topic is not None])
    gold_agencies = np.asarray([ex.agency for ex in rows if ex.topic is not None])
    return Fitted(clf, choose_thresholds(clf, relevant, gold_topics, gold_agencies, cfg))


def train(
    cfg: TrainConfig,
    models_dir: Path,
    feedback: Sequence[Example] = (),
    tracker: Any = None,
    progress: Callable[[str], None] = lambda _: None,
    make_current: bool = True,
) -> TrainResult:
    """Train all heads, evaluate on the fixed test split, write (and track) a bundle."""
    progress("loading corpus")
    corpus_rows, test_rows = load_training_data(cfg)
    loaded = load_reference(cfg, progress)
    real_rows = loaded.examples("train") if loaded else []
    test_ids = {ex.id for ex in test_rows}
    train_rows = corpus_rows + real_rows + [ex for ex in feedback if ex.id not in test_ids]
    taxonomy = load_taxonomy(cfg.taxonomy)
    regions = load_regions(cfg.regions)
    rules = tuple(load_rules(cfg.rules))
    lemmatizer = Lemmatizer()
    fitted = fit(cfg, train_rows, taxonomy, regions, rules, lemmatizer, progress)
    clf = fitted.classifier

    created = datetime.now(UTC)
    dhash = data_hash(train_rows)
    bundle_id = f"{created:%Y%m%d-%H%M%S}-{dhash[:8]}"
    meta: dict[str, Any] = {
        "id": bundle_id,
        "created_at": created.isoformat(timespec="seconds"),
        "default_region": cfg.default_region,
        "labels": {
            "topics": [str(c) for c in clf.topic.classes_],
            "agencies": [str(c) for c in clf.agency.classes_],
        },
        "thresholds": fitted.thresholds,
        "versions": {"python": platform.python_version(), **{lib: version(lib) for lib in LIBRARIES}},
        "data": {
            "hash": dhash,
            "train_rows": len(train_rows),
            "corpus_rows": len(corpus_rows),
            "feedback_rows": len(feedback),
            "test_rows": len(test_rows),
            "test_hash": data_hash(test_rows),
            # which real sets trained it (rows per source group), or why none did
            "reference": loaded.summary() if loaded else "absent: trained on the corpus alone",
        },
        "config": cfg.params(),
    }

    progress(f"evaluating on {len(test_rows)} test posts")
    in_memory = Bundle(path=models_dir / bundle_id, meta=meta, classifier=clf, taxonomy=taxonomy,
                       regions=regions, rules=rules)
    metrics = evaluate(Predictor(in_memory, lemmatizer), test_rows)
    meta["metrics"] = {"test": metrics}

    run_id = None
    if tracker is not None:
        run_id = tracker.start(bundle_id, cfg.params())
    meta["mlflow_run_id"] = run_id
    progress("writing bundle")
    path = write_bundle(models_dir / bundle_id, clf, meta, cfg.taxonomy, cfg.regions, cfg.rules)
    # A bundle is only good if it loads back and predicts.
    reloaded = load_bundle(path)
    Predictor(reloaded).predict([Post(id="smoke", text=SMOKE_TEXT)])
    if tracker is not None:
        tracker.finish(metrics, path, cfg.registered_model)
    if make_current:
        set_current(models_dir, path)
    return TrainResult(bundle=path, meta=dict(reloaded.meta))

"""The retraining job: corpus + feedback -> challenger -> compared with the champion -> promoted or kept.

Feedback labels come from triage decisions (`serving.store.export_feedback` rows). The same post
decided twice keeps its latest label; a post the corpus already has keeps the corpus label (the
corpus is reviewed; such labels are counted in the report, not trained on); a post that is, or nearly is, a
test-split post is dropped, so the fixed test split stays unseen. The most recent share of the
feedback is held out by time: the challenger never trains on it, and both models are scored on it
next to the test split, so a challenger is judged on the traffic it will meet.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from model.bundle import Bundle, load_bundle, read_meta
from model.predictor import Predictor
from training.comparison import changed_predictions, comparison, write_report
from training.config import TrainConfig
from training.corpus import Example, near_duplicates, parse_row, shingles
from training.evaluate import evaluate, predict_all
from training.gate import Verdict, judge
from training.promotion import Reload, current_id, switch
from training.registry import Registry
from training.train import load_training_data, train


@dataclass(frozen=True)
class Feedback:
    """Feedback labels ready for one retraining: `train` goes into the challenger, `holdout` only into
    the comparison; `dropped` counts what was left out and why."""

    train: tuple[Example, ...]
    holdout: tuple[Example, ...]
    dropped: Mapping[str, int]

    def summary(self) -> dict[str, Any]:
        return {"feedback_train": len(self.train), "feedback_holdout": len(self.holdout),
                "feedback_dropped": dict(self.dropped)}


@dataclass(frozen=True)
class RetrainResult:
    status: str  # skipped | dry-run | promoted | refused
    reason: str
    feedback: Feedback | None = None
    champion: str | None = None
    challenger: Path | None = None
    report: Mapping[str, Any] | None = None
    report_files: tuple[Path, ...] = ()
    warnings: tuple[str, ...] = field(default=())


def feedback_since(cfg: TrainConfig) -> datetime | None:
    """The corpus version as a moment: labels decided before it are taken to be in the corpus already."""
    if not cfg.feedback_since:
        return None
    try:
        since = datetime.fromisoformat(cfg.feedback_since)
    except ValueError as exc:
        raise ValueError(f"feedback_since {cfg.feedback_since!r} is not an ISO 8601 moment") from exc
    if since.tzinfo is None:
        raise ValueError(f"feedback_since {cfg.feedback_since!r} has no time zone; add one, e.g. +05:00")
    return since


def decided_at(row: Mapping[str, Any]) -> datetime:
    return datetime.fromisoformat(str(row["at"]))


def _key(text: str) -> Any:
    """Posts equal up to case, ё/е and punctuation share a key."""
    return shingles(text) or text


def split_feedback(
    rows: Sequence[Mapping[str, Any]],
    corpus_train: Sequence[Example],
    corpus_test: Sequence[Example],
    holdout_share: float,
    holdout_region: str,
) -> Feedback:
    """Deduplicate, keep the test split unseen, and hold out the most recent labels (see the module doc).

    The holdout comes from `holdout_region` only: evaluation reads places with the bundle's default
    region, so another region's municipality labels could not be scored fairly."""
    if not 0 <= holdout_share < 1:
        raise ValueError(f"holdout_share must be at least 0 and below 1, got {holdout_share}")
    dropped: Counter[str] = Counter()
    parsed = sorted(
        (((decided_at(row), int(row.get("decision", n))), parse_row(row, f"feedback row {row.get('id', n)}"),
          str(row.get("region") or holdout_region)) for n, row in enumerate(rows)),
        key=lambda item: item[0],
    )
    latest: dict[Any, tuple[Example, str]] = {}  # filled oldest first: a later decision replaces an earlier one
    key_of_id: dict[str, Any] = {}
    for _, ex, region in parsed:
        if ex.id in key_of_id:
            latest.pop(key_of_id[ex.id], None)
        key = _key(ex.text)
        if key in latest:
            key_of_id.pop(latest.pop(key)[0].id, None)
        latest[key] = (ex, region)  # re-inserted: the dict stays in order of each post's latest decision
        key_of_id[ex.id] = key
    dropped["superseded"] = len(parsed) - len(latest)
    corpus_keys = {_key(ex.text) for ex in corpus_train}
    test_keys = {_key(ex.text) for ex in corpus_test}
    kept = []
    for key, (ex, region) in latest.items():
        if key in test_keys:
            dropped["test_split"] += 1
        elif key in corpus_keys:
            dropped["in_corpus"] += 1
        else:
            kept.append((ex, region))
    near_test = {id(ex) for ex, _, _ in near_duplicates([ex for ex, _ in kept], list(corpus_test))}
    dropped["near_test_split"] += len(near_test)
    kept = [(ex, region) for ex, region in kept if id(ex) not in near_test]

    local = [ex for ex, region in kept if region == holdout_region]
    size = math.floor(len(local) * holdout_share) if len(local) >= 2 else 0
    holdout = local[len(local) - size:] if size else []
    held = {id(ex) for ex in holdout}
    rest = [ex for ex, _ in kept if id(ex) not in held]
    near_holdout = {id(ex) for ex, _, _ in near_duplicates(rest, holdout)} if holdout else set()
    dropped["near_holdout"] += len(near_holdout)
    train_rows = [ex for ex in rest if id(ex) not in near_holdout]
    return Feedback(tuple(train_rows), tuple(holdout), {k: v for k, v in sorted(dropped.items()) if v})


def new_labels(rows: Sequence[Mapping[str, Any]], champion: Mapping[str, Any] | None) -> int:
    """Labels decided after the champion (its metadata) was trained: what it has not learned from."""
    if champion is None:
        return len(rows)
    trained_at = datetime.fromisoformat(str(champion["created_at"]))
    return sum(1 for row in rows if decided_at(row) > trained_at)


def skip_reason(models_dir: Path, rows: Sequence[Mapping[str, Any]], needed: int) -> str | None:
    """Why there is nothing to retrain yet (too few new labels), or None. Reads metadata only: cheap
    enough for a scheduled job to ask before it loads anything heavy."""
    current = models_dir / "current"
    champion = read_meta(current) if current.exists() else None
    fresh = new_labels(rows, champion)
    if fresh >= needed:
        return None
    since = f"since champion {champion['id']}" if champion else "(no champion yet)"
    return f"{fresh} new feedback label(s) {since}; at least {needed} needed"


def retrain(
    cfg: TrainConfig,
    models_dir: Path,
    feedback_rows: Sequence[Mapping[str, Any]],
    reports_dir: Path,
    min_feedback: int | None = None,
    dry_run: bool = False,
    tracker: Any = None,
    registry: Registry | None = None,
    reload: Reload | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> RetrainResult:
    """Train a challenger on corpus + feedback, compare it with the bundle `current` points to, and
    promote it when the gate allows (`current`, the `champion` alias, a reload). Every run that
    trains writes a comparison report to `reports_dir/<challenger id>/`."""
    needed = cfg.min_feedback if min_feedback is None else min_feedback
    skip = skip_reason(models_dir, feedback_rows, needed)
    if skip is not None:
        return RetrainResult("skipped", skip, champion=current_id(models_dir))
    current = models_dir / "current"
    champion = load_bundle(current) if current.exists() else None
    fresh = new_labels(feedback_rows, champion.meta if champion else None)
    since = f"since champion {champion.id}" if champion else "(no champion yet)"
    train_rows, test_rows = load_training_data(cfg)
    feedback = split_feedback(feedback_rows, train_rows, test_rows, cfg.holdout_share, cfg.default_region)
    plan = (f"{fresh} new feedback label(s) {since}; training on {len(train_rows)} corpus + "
            f"{len(feedback.train)} feedback rows, {len(feedback.holdout)} most recent held out, "
            f"dropped {dict(feedback.dropped) or 'none'}")
    if dry_run:
        return RetrainResult("dry-run", plan, feedback, champion.id if champion else None)
    progress(plan)
    trained = train(cfg, models_dir, feedback=feedback.train, tracker=tracker, progress=progress, make_current=False)
    challenger = load_bundle(trained.bundle)

    progress("scoring champion and challenger on the test split and the held-out feedback")
    metrics, changed = score(champion, challenger, {"test": test_rows, "holdout": list(feedback.holdout)})
    verdict = _verdict(cfg, metrics, champion)
    data = {"corpus_train": len(train_rows), "test": len(test_rows), "new_feedback": fresh, **feedback.summary()}
    report = comparison(champion.id if champion else None, challenger.id, metrics, verdict, changed, data)
    files = write_report(report, reports_dir / challenger.id)
    warnings: list[str] = []
    if registry is not None:
        try:
            registry.record_verdict(challenger.id, verdict.promote, verdict.reason,
                                    trained.meta.get("mlflow_run_id"), files)
        except Exception as exc:  # bookkeeping: the bundle and the report are already written
            warnings.append(f"registry: {exc}")
    if verdict.promote:
        done = switch(models_dir, challenger.path, "promote", verdict.reason, registry, reload)
        warnings += done.warnings
    return RetrainResult("promoted" if verdict.promote else "refused", verdict.reason, feedback,
                         champion.id if champion else None, challenger.path, report, files, tuple(warnings))


def score(
    champion: Bundle | None, challenger: Bundle, datasets: Mapping[str, Sequence[Example]]
) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """Both models' `evaluate` reports per data set, and the posts on which their labels differ."""
    models = {"challenger": Predictor(challenger)}
    if champion is not None:
        models["champion"] = Predictor(champion, models["challenger"].lemmatizer)
    metrics: dict[str, dict[str, Any]] = {}
    changed: list[dict[str, Any]] = []
    for name, rows in datasets.items():
        if not rows:
            continue
        metrics[name] = {role: evaluate(p, rows) for role, p in models.items()}
        if champion is not None:
            changed += changed_predictions(name, rows, predict_all(models["champion"], rows),
                                           predict_all(models["challenger"], rows))
    return metrics, changed


def _verdict(cfg: TrainConfig, metrics: Mapping[str, Mapping[str, Any]], champion: Bundle | None) -> Verdict:
    if champion is None:
        return Verdict(True, "there is no champion yet", (), (), ())
    tolerances = {"test": cfg.gate_tolerance, "holdout": cfg.gate_holdout_tolerance}
    return judge({k: m["champion"] for k, m in metrics.items()}, {k: m["challenger"] for k, m in metrics.items()},
                 tolerances, cfg.gate_min_gain)

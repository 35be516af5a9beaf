"""What retraining costs: one `retrain` end to end, the active-learning sample, the drift report.

    .venv/bin/python -m bench.retrain [--bundle var/models/current] [--folds 5] [--no-train] [--write]

- retrain: the simulated month of honest triage of tests/training/simulation.py (hogweed corrected,
  ordinary complaints accepted) ingested with the real model into a temporary SQLite store, then
  `training.retrain.retrain` against a copy of `--bundle` in a temporary models dir (var/ is not
  touched; no MLflow): wall and CPU seconds of each stage, the verdict;
- sample: 200 posts chosen from every corpus text plus the month's posts (pool 5 x 200);
- drift: the report over 10,000 recent labels and 20,000 decisions.

CPU seconds are this process's (all threads); the machine is shared, so they are the figure to
compare, wall seconds are given beside them. `--write` replaces the section "Retraining (issue 9)"
of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.results import write_results
from model.bundle import load_bundle, set_current
from model.predictor import Predictor
from model.records import Post
from model.region import load_regions
from tests.training.simulation import honest, month_posts, simulate_month
from training.config import load_config
from training.corpus import read_corpus
from training.drift import drift_report
from training.retrain import retrain
from training.sampling import sample

ROOT = Path(__file__).resolve().parent.parent
HEADING = "## Retraining (issue 9)"


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(fn: Callable[[], Any]) -> tuple[Any, dict[str, float]]:
    wall, used = time.perf_counter(), cpu()
    out = fn()
    return out, {"wall_s": round(time.perf_counter() - wall, 2), "cpu_s": round(cpu() - used, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bundle", type=Path, default=ROOT / "var" / "models" / "current")
    ap.add_argument("--folds", type=int, default=5, help="cross-validation folds of the challenger")
    ap.add_argument("--no-train", action="store_true", help="skip the retraining (sample and drift only)")
    ap.add_argument("--write", action="store_true", help="write the figures into bench/RESULTS.md")
    args = ap.parse_args()

    bundle = load_bundle(args.bundle)
    predictor = Predictor(bundle)
    cfg = replace(load_config(root=ROOT), cv_folds=args.folds)
    month = month_posts()
    result: dict[str, Any] = {"bundle": bundle.id, "folds": args.folds}

    posts = [Post(id=ex.id, text=ex.text) for ex in read_corpus(cfg.corpus)]
    posts += [Post(id=f"m{i}", text=text) for i, (text, _) in enumerate(month)]
    chosen, result["sample"] = timed(lambda: sample(predictor, posts, 200))
    result["sample"].update(posts=len(posts), chosen=len(chosen))

    rng = random.Random(0)
    now = datetime(2026, 11, 28, tzinfo=UTC)
    topics = list(bundle.meta["labels"]["topics"])
    recent = {"topic": [rng.choice(topics) for _ in range(10_000)]}
    reference = {"topic": [rng.choice(topics) for _ in range(3_000)]}
    decisions = [(now - timedelta(minutes=rng.randint(0, 8 * 7 * 24 * 60)), rng.sample(["topic", "agency"], 1))
                 for _ in range(20_000)]
    _, result["drift"] = timed(lambda: drift_report(recent, reference, decisions, 8, now))

    if not args.no_train:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            models = root / "models"
            shutil.copytree(bundle.path, models / bundle.id)
            set_current(models, models / bundle.id)
            regions = load_regions(cfg.regions)
            got, result["ingest_and_triage"] = timed(
                lambda: simulate_month(f"sqlite:///{root / 'otklik.db'}", predictor, regions, honest, month))
            result["ingest_and_triage"]["feedback"] = len(got.feedback)
            run, result["retrain"] = timed(lambda: retrain(cfg, models, got.feedback, root / "reports", min_feedback=1))
            result["retrain"].update(status=run.status, reason=run.reason,
                                     **(run.feedback.summary() if run.feedback else {}))
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(result, ensure_ascii=False, indent=2))
    if args.write:
        write_results(section(result), HEADING)


def section(r: dict[str, Any]) -> str:
    lines = [HEADING, "", f"`.venv/bin/python -m bench.retrain --folds {r['folds']} --write` on bundle {r['bundle']} "
             "(shared machine: CPU seconds are the figure to compare).", ""]
    s = r["sample"]
    lines.append(f"- `sample`: {s['chosen']} of {s['posts']} posts in {s['cpu_s']} s CPU ({s['wall_s']} s wall).")
    lines.append(f"- drift report over 10,000 labels and 20,000 decisions: {r['drift']['cpu_s']} s CPU.")
    if "retrain" in r:
        t, m = r["retrain"], r["ingest_and_triage"]
        lines.append(f"- the simulated month (ingest with the real model, triage): {m['feedback']} labels in "
                     f"{m['cpu_s']} s CPU ({m['wall_s']} s wall).")
        lines.append(f"- `retrain` with {r['folds']}-fold heads, end to end (feedback split, training on corpus + "
                     f"{t['feedback_train']} labels, both models scored on the test split and "
                     f"{t['feedback_holdout']} held-out labels, report): {t['cpu_s']} s CPU ({t['wall_s']} s wall); "
                     f"{t['status']}.")
    lines.append(f"- peak RSS of the process: {r['peak_rss_mb']} MB.")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

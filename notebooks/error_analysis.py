# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Error analysis of the current model
#
# Loads a model bundle, evaluates it on the fixed test split of `annotations/corpus` (never trained
# on), and looks at where it goes wrong: per-class metrics, the worst confusions with the posts behind
# them, calibration, and what the review thresholds cost in coverage. When the shared reference data
# (`../shared/data`) is on this machine, it also measures the false-positive rate of relevance on
# real VKontakte posts (RuSentiment's eval-only test split), which are almost never complaints, and it
# shows precision and recall by threshold next to the held-out sources of the cross-source report.
#
# The bundle is `$OTKLIK_NOTEBOOK_BUNDLE` when set (the test suite passes the bundle it trained),
# otherwise `var/models/current`. Nothing is trained here. `$OTKLIK_NOTEBOOK_REAL_LIMIT` caps the
# number of real posts (all by default). The test suite executes this file
# (`tests/test_notebooks.py`), so it cannot rot.

# %%
import json
import os
from collections import Counter
from pathlib import Path

import numpy as np

from model.bundle import load_bundle
from model.predictor import Predictor
from training.config import DEFAULT_CONFIG, load_config
from training.corpus import Example, data_hash
from training.evaluate import evaluate, predict_all
from training.train import load_training_data
from training import reference


def find_root() -> Path:
    """The project root: the folder holding `annotations/` and `model/`, from here or the cwd."""
    start = Path(globals()["__file__"]).resolve().parent if "__file__" in globals() else Path.cwd().resolve()
    for folder in (start, *start.parents):
        if (folder / "annotations").is_dir() and (folder / "model").is_dir():
            return folder
    raise RuntimeError(f"no Otklik project root above {start}; run this notebook from the repository")


ROOT = find_root()
BUNDLE = Path(os.environ.get("OTKLIK_NOTEBOOK_BUNDLE") or ROOT / "var" / "models" / "current")
if not (BUNDLE / "meta.json").exists():
    raise RuntimeError(
        f"no model bundle at {BUNDLE}: train one with `.venv/bin/otklik train` or set OTKLIK_NOTEBOOK_BUNDLE"
    )
REAL_LIMIT = int(os.environ.get("OTKLIK_NOTEBOOK_REAL_LIMIT") or 0)


def short(text: str, limit: int = 110) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


predictor = Predictor(load_bundle(BUNDLE))
test = load_training_data(load_config(DEFAULT_CONFIG, ROOT))[1]
print(f"bundle {predictor.bundle.id} from {BUNDLE.resolve()}")
print(f"test split: {len(test)} posts, {sum(bool(ex.relevant) for ex in test)} relevant")
if data_hash(test) != predictor.bundle.meta["data"]["test_hash"]:
    # the corpus changed since this bundle was trained: its rows may now be in the test split
    print("warning: the test split changed since this bundle was trained; retrain before trusting these figures")

# %% [markdown]
# ## Headline metrics on the test split
#
# Issue 4's targets: relevance F1 ≥ 0.92, topic macro-F1 ≥ 0.85, agency accuracy ≥ 0.85.

# %%
report = evaluate(predictor, test)
preds = predict_all(predictor, test)
rel, top, ag, mun = report["relevance"], report["topic"], report["agency"], report["municipality"]
print(
    f"headline: relevance F1 {rel['f1']:.4f} · topic macro-F1 {top['macro_f1']:.4f} · "
    f"agency accuracy {ag['accuracy']:.4f} · municipality accuracy {mun['accuracy']:.4f}"
)
for name, value, target in (
    ("relevance F1", rel["f1"], 0.92),
    ("topic macro-F1", top["macro_f1"], 0.85),
    ("agency accuracy", ag["accuracy"], 0.85),
):
    print(f"  {name:<16} {value:.4f}  target {target:.2f}  {'ok' if value >= target else 'BELOW TARGET'}")
print(
    f"relevance: precision {rel['precision']:.4f}, recall {rel['recall']:.4f}, "
    f"false-positive rate {rel['false_positive_rate']:.4f}, confusion {rel['confusion']}"
)
print(
    f"municipality: recall on posts that name one {mun['recall_named']}, "
    f"a place found where none is named {mun['false_place_rate']}, support {mun['support']}"
)
print(f"needs review: {report['needs_review_share']:.1%} of the test posts")

# %% [markdown]
# ## Per-class metrics, worst classes first

# %%
for head in ("topic", "agency"):
    rows = sorted(report[head]["per_class"].items(), key=lambda kv: (kv[1]["f1"], kv[0]))
    print(f"\n{head}: accuracy {report[head]['accuracy']:.4f}, macro-F1 {report[head]['macro_f1']:.4f}")
    print(f"  {'class':<22} {'precision':>9} {'recall':>7} {'F1':>7} {'support':>8}")
    for label, m in rows:
        print(f"  {label:<22} {m['precision']:>9.3f} {m['recall']:>7.3f} {m['f1']:>7.3f} {m['support']:>8}")

# %% [markdown]
# ## The worst confusions, with the test posts behind them
#
# For topic and agency, the gold → predicted pairs that happen most, with up to two posts each;
# for relevance, the most confident mistakes in both directions.

# %%
for head in ("topic", "agency"):
    print(f"\n{head}:")
    for pair in report[head]["confusions"][:6]:
        print(f"  {pair['gold']} → {pair['predicted']}: {pair['count']}")
        shown = [
            (ex, p) for ex, p in zip(test, preds, strict=True)
            if getattr(ex, head) == pair["gold"] and getattr(p, head).label == pair["predicted"]
        ]
        for ex, p in shown[:2]:
            print(f"      [{getattr(p, head).score:.2f}] {short(ex.text)}")

mistakes = [(ex, p) for ex, p in zip(test, preds, strict=True) if bool(p.relevant.label) != bool(ex.relevant)]
for title, wanted in (("false positives (not relevant, predicted relevant)", False),
                      ("false negatives (relevant, predicted not relevant)", True)):
    worst = sorted((m for m in mistakes if bool(m[0].relevant) is wanted),
                   key=lambda m: abs(m[1].relevant.score - predictor.relevance_threshold), reverse=True)
    print(f"\nrelevance {title}: {len(worst)}")
    for ex, p in worst[:6]:
        print(f"  [{p.relevant.score:.2f}] {short(ex.text)}")

# %% [markdown]
# ## Calibration: reliability tables
#
# Confidence is the score of the suggested label (for relevance, the probability of the decision
# taken). A calibrated head is right about as often as it is confident in each bin.

# %%
gold_rel = np.asarray([bool(ex.relevant) for ex in test])
p_rel = np.asarray([p.relevant.score for p in preds])
said_rel = np.asarray([bool(p.relevant.label) for p in preds])
labelled = [(ex, p) for ex, p in zip(test, preds, strict=True) if ex.topic is not None]
confidence = {
    "relevance": (np.where(said_rel, p_rel, 1 - p_rel), said_rel == gold_rel),
    "topic": (np.asarray([p.topic.score for _, p in labelled]),
              np.asarray([ex.topic == p.topic.label for ex, p in labelled])),
    "agency": (np.asarray([p.agency.score for _, p in labelled]),
               np.asarray([ex.agency == p.agency.label for ex, p in labelled])),
}
edges = np.linspace(0.0, 1.0, 11)
for head, (conf, correct) in confidence.items():
    print(f"\n{head}: expected calibration error {report[head]['calibration_error']:.4f}")
    print(f"  {'confidence':<11} {'posts':>6} {'mean conf':>10} {'accuracy':>9}")
    which = np.clip(np.digitize(conf, edges[1:-1]), 0, 9)
    for b in range(10):
        mask = which == b
        if mask.any():
            print(f"  {edges[b]:.1f}–{edges[b + 1]:.1f}    {int(mask.sum()):>6} {conf[mask].mean():>10.3f} "
                  f"{correct[mask].mean():>9.3f}")

# %% [markdown]
# ## Coverage vs accuracy at the review thresholds
#
# Suggestions below a head's review threshold are flagged `needs_review`. Coverage is the share of
# posts whose suggestion is confident enough to be taken as is; the bundle's threshold is marked.

# %%
for head, (conf, correct) in confidence.items():
    chosen = predictor.review[head]
    print(f"\n{head}: review threshold {chosen:.2f}")
    print(f"  {'threshold':>9} {'coverage':>9} {'acc. auto':>10} {'acc. review':>12}")
    for t in sorted({0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, round(chosen, 2)}):
        auto = conf >= t
        acc_auto = f"{correct[auto].mean():.3f}" if auto.any() else "–"
        acc_review = f"{correct[~auto].mean():.3f}" if (~auto).any() else "–"
        mark = "  ← bundle" if abs(t - chosen) < 1e-9 else ""
        print(f"  {t:>9.2f} {auto.mean():>9.1%} {acc_auto:>10} {acc_review:>12}{mark}")

# %% [markdown]
# ## Real posts: false positives of relevance on ordinary VKontakte posts
#
# RuSentiment's test split is real VK traffic that is almost never a complaint to a public body, and it
# is *eval only*: it never trains the model nor tunes a threshold. Every post predicted relevant counts as
# a false positive (target: at most 1%). The rows are read through `training/reference.py` from
# `../shared/data` and never stored in the repository; skipped when the folder is absent.

# %%
real_sets = reference.load(names=["rusentiment_test"]).rows
if "rusentiment_test" not in real_sets:
    print(f"real data: skipped, no reference data at {reference.data_dir()}")
    real, real_preds = [], []
else:
    real = real_sets["rusentiment_test"][: REAL_LIMIT or None]
    real_preds = predict_all(predictor, real)
    fp = [(p, ex.text) for p, ex in zip(real_preds, real, strict=True) if p.relevant.label]
    matched = sum(bool(p.rules) for p in real_preds)
    print(f"real data: rusentiment_test: FP rate {len(fp) / len(real):.2%} ({len(fp)} of {len(real)})"
          f"{' (first ' + str(REAL_LIMIT) + ' posts)' if REAL_LIMIT else ''}")
    print(f"  a monitoring rule matched {matched / len(real):.1%} of the posts; "
          f"FP rate among those {len(fp) / max(matched, 1):.2%}")
    print("  topics of the false positives: " + ", ".join(
        f"{t} {n}" for t, n in Counter(p.topic.label for p, _ in fp).most_common()))
    print("\n  the highest-scoring false positives:")
    for p, text in sorted(fp, key=lambda f: -f[0].relevant.score)[:15]:
        print(f"  [{p.relevant.score:.3f}] {p.topic.label:<13} {','.join(p.rules):<40} {short(text, 100)}")

# %% [markdown]
# ## Precision and recall by threshold: the synthetic split against real sources
#
# The relevance threshold is chosen on out-of-fold scores when training. How the choice plays out is
# shown here on the synthetic test split (precision and recall) and on the real ordinary posts above
# (false-positive rate), and, when `otklik evaluate --suite real` has written
# `var/reports/cross_source.json`, on each real source scored by a model that never trained on it:
# the share of its complaints (recall) and of its other posts (false positives) predicted relevant at
# each threshold. Read the curves of the held-out sources, not the synthetic one, to judge a threshold.

# %%
scores = np.asarray([p.relevant.score for p in preds])
gold = np.asarray([bool(ex.relevant) for ex in test])
real_scores = np.asarray([p.relevant.score for p in real_preds])
print(f"{'threshold':>9} {'precision':>9} {'recall':>7} {'real FP':>8}")
for t in np.round(np.arange(0.1, 0.96, 0.05), 2):
    hit = scores >= t
    precision = (hit & gold).sum() / max(hit.sum(), 1)
    recall = (hit & gold).sum() / max(gold.sum(), 1)
    real_fp = f"{(real_scores >= t).mean():8.2%}" if len(real_scores) else "       –"
    mark = "  ← relevance threshold" if abs(t - predictor.relevance_threshold) < 0.025 else ""
    print(f"{t:>9.2f} {precision:>9.3f} {recall:>7.3f} {real_fp}{mark}")

CROSS = ROOT / "var" / "reports" / "cross_source.json"
if CROSS.exists():
    cross = json.loads(CROSS.read_text(encoding="utf-8"))
    print(f"\nheld-out sources ({CROSS.relative_to(ROOT)}): share predicted relevant by threshold")
    for group, fig in cross["held_out"].items():
        curve = fig.get("curve") or {}
        for kind in ("complaints", "others"):
            if curve.get(kind):
                points = " ".join(f"{t:.2f}:{v:.2f}" for t, v in zip(curve["threshold"], curve[kind], strict=True)
                                  if round(t * 100) % 10 == 0)
                print(f"  {group:<16} {kind:<10} {points}")
else:
    print(f"\nno cross-source report at {CROSS}: run `otklik evaluate --suite real` to add the held-out curves")

"""Memory of a predictor after scoring real posts: VmRSS after loading the bundle and after N posts.

    .venv/bin/python -m bench.memory [--bundle var/models/current] [--posts 10000] [--batch 50]

The posts are real non-complaint posts of the reference sets (RuSentiment, news channels, forum posts,
thanks), read through training/reference.py and held in memory only; the figure includes them. Run it
with the interpreter of the install to measure: a development venv also holds packages (pandas,
pyarrow) that scikit-learn imports when they are present.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from model.bundle import load_bundle
from model.predictor import Predictor
from model.records import Post
from training import reference

ROOT = Path(__file__).resolve().parent.parent
SETS = ["rusentiment", "tg_news", "sensitive_topics", "uk_feedback", "rusentiment_test"]


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", type=Path, default=ROOT / "var" / "models" / "current")
    ap.add_argument("--posts", type=int, default=10_000)
    ap.add_argument("--batch", type=int, default=50)
    args = ap.parse_args()
    out = {"imported_mb": round(rss_mb())}
    predictor = Predictor(load_bundle(args.bundle))
    predictor.predict([Post(id="warm", text="Третий день нет горячей воды")])
    out["loaded_mb"] = round(rss_mb())
    loaded = reference.load(names=SETS)
    texts = [ex.text for name in SETS for ex in loaded.rows.get(name, [])][: args.posts]
    del loaded
    gc.collect()
    if not texts:
        sys.exit(f"no reference data at {reference.data_dir()}: nothing to score")
    out["posts"] = len(texts)
    out["with_posts_held_mb"] = round(rss_mb())
    start = time.perf_counter()
    for i in range(0, len(texts), args.batch):
        predictor.predict([Post(id=str(j), text=t) for j, t in enumerate(texts[i : i + args.batch])])
    out["seconds"] = round(time.perf_counter() - start, 1)
    out["after_posts_mb"] = round(rss_mb())
    print(json.dumps(out))


if __name__ == "__main__":
    main()

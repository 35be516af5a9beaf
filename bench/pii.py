"""Masking personal data in exports: `otklik feedback export`'s rows per second, masked and not.

    .venv/bin/python -m bench.pii [--bundle var/models/current] [--copies 3] [--write]

A fresh SQLite store gets the corpus (annotations/corpus) and the personal-data set
(annotations/pii/posts.jsonl, names in half its posts) `--copies` times, three days apart (so that no
copy joins another's incident), through `serving.ingest.ingest` with the real bundle; every incident
is then accepted, so each is a feedback label. Timed in this process, one after another: the export
without masking (`serving.store.export_feedback`), the masked export (`serving.privacy.masked_feedback`)
with a new Masker (its first call loads pymorphy3 and natasha's NER: what one `otklik feedback export`
pays), and again with the same Masker (warm caches); then the masker alone on the corpus and on the
set, new and warm, with the share of posts whose sentences went to the NER.

Prints one JSON object; `--write` replaces the section "Personal data masking (issue 17)" of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select

from bench.results import write_results
from model.bundle import load_bundle
from model.pii import Masker
from model.predictor import Predictor
from serving.database import make_engine, make_sessions
from serving.ingest import IncomingPost, ingest
from serving.privacy import masked_feedback
from serving.store import ManualClock, decide, export_feedback, upgrade
from serving.store.tables import IncidentRow
from training.corpus import read_corpus

ROOT = Path(__file__).resolve().parent.parent
HEADING = "## Personal data masking (issue 17)"
SET = ROOT / "annotations" / "pii" / "posts.jsonl"
T0 = datetime(2026, 6, 1, 5, 0, tzinfo=UTC)


def texts() -> tuple[list[str], list[str]]:
    corpus = [e.text for e in read_corpus(ROOT / "annotations" / "corpus")]
    personal = [json.loads(line)["text"] for line in SET.read_text(encoding="utf-8").splitlines()]
    return corpus, personal


def build_store(predictor: Predictor, path: Path, posts: list[str], copies: int) -> int:
    """A store whose every incident is accepted; how many feedback labels it has."""
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    sessions = make_sessions(engine)
    for copy in range(copies):
        at = T0 + timedelta(days=3 * copy)
        clock = ManualClock(at + timedelta(hours=1))
        batch = [IncomingPost(network="vk", external_id=f"-{copy}_{i}", text=t, published_at=at,
                              region="perm-krai") for i, t in enumerate(posts)]
        for start in range(0, len(batch), 500):
            ingest(sessions, predictor, clock, batch[start:start + 500])
        with sessions() as session:
            for incident_id in session.scalars(select(IncidentRow.id).where(IncidentRow.status == "new")):
                decide(session, incident_id, "accept", 1, "bench", clock)
    with sessions() as session:
        labels = len(export_feedback(session))
    engine.dispose()
    return labels


def timed(fn: Any) -> tuple[Any, float, float]:
    """What `fn()` returns, its wall-clock and its CPU seconds (this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def rates(n: int, wall: float, cpu: float) -> list[int]:
    return [round(n / wall), round(n / cpu)]


def masker_alone(posts: list[str]) -> dict[str, Any]:
    masker = Masker()
    _, *cold = timed(lambda: masker.spans(posts))
    found, *warm = timed(lambda: masker.spans(posts))
    to_ner = sum(any(not w.sure and not w.place and w.kind != "place" for w in masker._capitalised(t, []))
                 for t in posts)
    return {"posts": len(posts), "new_masker_posts_per_s": rates(len(posts), *cold),
            "warm_posts_per_s": rates(len(posts), *warm), "share_sent_to_ner": round(to_ner / len(posts), 3),
            "posts_masked": sum(bool(f) for f in found)}


def run(bundle: Path, copies: int) -> dict[str, Any]:
    predictor = Predictor(load_bundle(bundle))
    corpus, personal = texts()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "otklik.db"
        labels = build_store(predictor, path, corpus + personal, copies)
        engine = make_engine(f"sqlite:///{path}")
        sessions = make_sessions(engine)
        with sessions() as session:
            raw, *raw_s = timed(lambda: export_feedback(session))
            masker = Masker()
            masked, *cold_s = timed(lambda: masked_feedback(session, masker))
            _, *warm_s = timed(lambda: masked_feedback(session, masker))
        engine.dispose()
    changed = sum(a["text"] != b["text"] for a, b in zip(raw, masked, strict=True))
    return {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "load": [round(x, 1) for x in os.getloadavg()],
        "bundle": predictor.bundle.id,
        "labels": labels,
        "rows_changed_by_masking": changed,
        "export_raw_rows_per_s": rates(len(raw), *raw_s),  # [wall clock, per CPU second]
        "export_masked_new_masker_rows_per_s": rates(len(masked), *cold_s),
        "export_masked_warm_rows_per_s": rates(len(masked), *warm_s),
        "masker_on_corpus": masker_alone(corpus),
        "masker_on_personal_set": masker_alone(personal),
    }


def section(r: dict[str, Any], command: str) -> str:
    c, p = r["masker_on_corpus"], r["masker_on_personal_set"]
    cold = r["export_masked_new_masker_rows_per_s"]

    def pair(v: list[int]) -> str:
        return f"{v[0]:,} | {v[1]:,}"

    def both(v: list[int]) -> str:
        return f"{v[0]:,} / {v[1]:,}"

    return f"""{HEADING}

Command: `{command}`.
Machine: {r["machine"]}; load average during the run {" / ".join(map(str, r["load"]))} (a shared machine:
the CPU-second rates are the fairer ones under load).
Store: SQLite, the corpus and the personal-data set ingested with bundle `{r["bundle"]}`, every incident
accepted: {r["labels"]:,} feedback labels, {r["rows_changed_by_masking"]:,} of them changed by masking.

| `otklik feedback export` (read + mask, no file) | rows/s, wall clock | rows per CPU second |
|---|---|---|
| without masking | {pair(r["export_raw_rows_per_s"])} |
| masked, a new Masker (loads pymorphy3 and the NER: one CLI run) | {pair(cold)} |
| masked, the same Masker again (warm word cache) | {pair(r["export_masked_warm_rows_per_s"])} |

| the masker alone, posts/s (wall / CPU) | corpus ({c["posts"]:,} posts) | personal-data set ({p["posts"]} posts) |
|---|---|---|
| new Masker (NER load included) | {both(c["new_masker_posts_per_s"])} | {both(p["new_masker_posts_per_s"])} |
| warm | {both(c["warm_posts_per_s"])} | {both(p["warm_posts_per_s"])} |
| posts with a piece sent to the NER | {c["share_sent_to_ner"]:.1%} | {p["share_sent_to_ner"]:.1%} |
| posts with something masked | {c["posts_masked"]:,} | {p["posts_masked"]} |

Target: >= 1,000 posts/s for exports: {cold[0]:,} rows/s wall clock ({cold[1]:,} per CPU second) with a
new masker, {"met" if min(cold) >= 1000 else "met per CPU second only" if cold[1] >= 1000 else "NOT met"}.

Notes. The NER reads only up to six words either side of a capitalised word that pymorphy3 can read as
a name and that is not surely a first name or patronymic, not after a place word (`улица`, `имени`)
and not a town first; the pieces go in batches sorted by length (less padding). Its matrices are
small, and BLAS's threads made it ~20x slower per CPU second on this busy 2-core machine, so the NER
runs with one BLAS thread (`threadpoolctl`). Everything else (the patterns, the cached word checks)
costs microseconds per post. Quality on the personal-data set: `tests/model/test_pii.py` (names
121/126, phones 31/31, e-mails 17/17, other words masked 3/3,222 at this commit).
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, default=ROOT / "var" / "models" / "current")
    parser.add_argument("--copies", type=int, default=3)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    result = run(args.bundle, args.copies)
    print(json.dumps(result, ensure_ascii=False, indent=2))
    if args.write:
        copies = f" --copies {args.copies}" if args.copies != 3 else ""
        command = f".venv/bin/python -m bench.pii{copies} --write"
        write_results(section(result, command), HEADING)


if __name__ == "__main__":
    main()

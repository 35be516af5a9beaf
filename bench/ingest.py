"""Ingest and the administrator's queue (issue 6), on SQLite and on PostgreSQL.

    .venv/bin/python -m bench.ingest [--bundle var/models/current] [--posts 10000] [--matched 0.3]
                                    [--batch 500] [--incidents 100000] [--pages 200] [--runs 3] [--no-postgres]
                                    [--write]

Ingest: `--posts` posts (a `--matched` share of them matching the monitoring rules: corpus complaints;
the rest real VK posts of RuSentiment when the shared data folder is there, else the corpus's
non-complaints), each text made unique by a number, sent through `serving.ingest.ingest` (the edge of
`POST /v1/posts`, `otklik ingest` and the monitoring loop) in batches of `--batch` with the real
bundle, into a fresh SQLite file and a fresh PostgreSQL schema (database `test` at 127.0.0.1:5432,
skipped when it does not answer), `--runs` times (the median run is reported); on SQLite also the
earlier way, every matched post explained, alternating with it. Reported: posts/s (wall), CPU seconds
of this process (the PostgreSQL server's own CPU is not in it), how many posts were predicted and
registered.

Queue: `--incidents` incidents stored (rows built from real predictions, bulk-inserted; statuses,
regions, deadlines spread as a month of work would leave them), then `serving.store.queue` pages of
50 as `GET /v1/queue` asks for them, `--pages` times each, plus the incident JSON of each page:
p50/p99 wall and CPU per page.

Prints one JSON object; `--write` replaces the section "Ingest and queue (issue 6)" of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine, insert, text

from bench.predict import DATA, DEFAULT_BUNDLE, code_version, corpus_texts, real_texts, uptime
from bench.results import write_results
from model.bundle import load_bundle
from model.predictor import Predictor
from model.records import Post
from serving.database import make_engine, make_sessions, scratch_schema
from serving.ingest import IncomingPost, ingest
from serving.store import ManualClock, NetworkPost, QueueFilter, ingest_posts, queue, text_hash, upgrade
from serving.store.monitoring import rules_fn
from serving.store.posts import _incident_row
from serving.store.tables import IncidentRow, PostRow

HEADING = "## Ingest and queue (issue 6)"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
T0 = datetime(2026, 11, 28, 5, 0, tzinfo=UTC)
STATUSES = ("new", "routed", "answered", "dismissed")
STATUS_WEIGHTS = (0.35, 0.25, 0.3, 0.1)


# --- databases ---------------------------------------------------------------------------------

@contextmanager
def fresh_database(kind: str, folder: Path) -> Iterator[Engine]:
    """A migrated, empty store: a new SQLite file, or a new schema in PostgreSQL's database `test`."""
    if kind == "sqlite":
        path = folder / f"bench-{uuid.uuid4().hex[:8]}.db"
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        try:
            yield engine
        finally:
            engine.dispose()
        return
    with scratch_schema(PG_URL, "otklik_bench") as url:
        engine = make_engine(url)
        try:
            upgrade(engine)
            yield engine
        finally:
            engine.dispose()


def postgres_answers() -> str | None:
    """None when the PostgreSQL server answers, else why not."""
    engine = make_engine(PG_URL)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return None
    except Exception as exc:  # any driver error: report and skip the PostgreSQL runs
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    finally:
        engine.dispose()


# --- posts -------------------------------------------------------------------------------------

def make_posts(predictor: Predictor, n: int, matched_share: float, seed: int = 6) -> list[IncomingPost]:
    """`n` posts, `matched_share` of them complaints the monitoring rules match, all texts unique."""
    rng = random.Random(seed)
    corpus = corpus_texts()
    rules = rules_fn(predictor)
    found = rules([Post(id=str(i), text=t, region="perm-krai") for i, t in enumerate(corpus)])
    matching = [t for t, hit in zip(corpus, found, strict=True) if hit]
    chatter = real_texts(DATA) or [t for t, hit in zip(corpus, found, strict=True) if not hit]
    chatter_found = rules([Post(id=str(i), text=t, region="perm-krai") for i, t in enumerate(chatter)])
    chatter = [t for t, hit in zip(chatter, chatter_found, strict=True) if not hit]
    n_matched = round(n * matched_share)
    texts = [f"{rng.choice(matching)} {i}" for i in range(n_matched)]
    texts += [f"{rng.choice(chatter)} {i}" for i in range(n - n_matched)]
    rng.shuffle(texts)
    return [
        IncomingPost(network="vk", external_id=f"-1_{i}", text=t, published_at=T0 + timedelta(seconds=i),
                     url=f"https://vk.com/wall-1_{i}", author="bench", region="perm-krai")
        for i, t in enumerate(texts)
    ]


def run_ingest(predictor: Predictor, engine: Engine, posts: Sequence[IncomingPost], size: int,
               explain_all: bool = False) -> dict[str, Any]:
    """`explain_all`: the earlier way, every matched post explained (the store called with `predictor.predict`)."""
    sessions = make_sessions(engine)
    clock = ManualClock(T0 + timedelta(days=1))
    created = registered = 0
    rules = rules_fn(predictor)
    cpu, wall = time.process_time(), time.perf_counter()
    for start in range(0, len(posts), size):
        chunk = posts[start : start + size]
        if explain_all:
            with sessions() as session:
                result = ingest_posts(session, [NetworkPost(p.network, p.external_id, p.text, p.published_at,
                                                            p.region or "perm-krai", p.url, p.author) for p in chunk],
                                      predictor.predict, rules, clock, predictor.bundle.regions)
        else:
            result = ingest(sessions, predictor, clock, chunk)
        created += len(result.created)
        registered += len(result.incidents)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    with engine.connect() as conn:
        predicted = int(conn.execute(text("SELECT count(*) FROM predictions")).scalar_one())
    return {"posts": len(posts), "created": created, "predicted": predicted, "registered": registered,
            "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "posts_per_s": round(len(posts) / wall),
            "posts_per_cpu_s": round(len(posts) / cpu)}


# --- the queue ---------------------------------------------------------------------------------

def fill(predictor: Predictor, engine: Engine, n: int, seed: int = 6) -> float:
    """Bulk-insert `n` posts and incidents (real predictions, spread statuses, deadlines, regions)."""
    rng = random.Random(seed)
    sample = [Post(id=str(i), text=t, region=None) for i, t in enumerate(rng.sample(corpus_texts(), 400))]
    by_region = {code: predictor.predict([replace(p, region=code) for p in sample]) for code in predictor.regions}
    started = time.perf_counter()
    chunk = 5000
    with engine.begin() as conn:
        for start in range(0, n, chunk):
            posts, plans = [], []
            for i in range(start, min(n, start + chunk)):
                region = "perm-krai" if rng.random() < 0.75 else "sverdlovsk-oblast"
                k = rng.randrange(len(sample))
                registered = T0 - timedelta(days=30) + timedelta(seconds=rng.randrange(30 * 86400))
                body = f"{sample[k].text} {i}"
                posts.append({"network": "vk", "external_id": f"-2_{i}", "author": None, "url": None, "text": body,
                              "published_at": registered, "raw": None, "region": region,
                              "text_hash": text_hash(body), "created_at": registered})
                plans.append((region, k, registered, rng.choices(STATUSES, STATUS_WEIGHTS)[0], rng.uniform(1, 30)))
            ids = conn.execute(insert(PostRow).returning(PostRow.id, sort_by_parameter_order=True), posts).scalars()
            incidents = []
            for post_id, (region, k, registered, status, hours) in zip(ids, plans, strict=True):
                row = _incident_row(post_id, region, by_region[region][k], registered, predictor.bundle.regions[region])
                row.update(status=status, final_topic=None, final_agency=None, final_municipality=None,
                           answered_at=None, sla_met=None)
                if status in ("routed", "answered"):
                    row.update(final_topic=row["topic"], final_agency=row["agency"],
                               final_municipality=row["municipality"], version=2)
                if status == "answered":
                    answered = registered + timedelta(hours=hours)
                    row.update(answered_at=answered, sla_met=answered <= row["deadline"], version=3)
                incidents.append(row)
            conn.execute(insert(IncidentRow), incidents)
    with engine.begin() as conn:  # planner statistics, as a database that grew over a month has
        conn.execute(text("ANALYZE posts"))
        conn.execute(text("ANALYZE incidents"))
    return time.perf_counter() - started


def cases() -> dict[str, tuple[QueueFilter, str, int]]:
    """Name -> (filter, order, pages to skip with the cursor first), as the queue page asks for them."""
    return {
        "all, by deadline": (QueueFilter(), "deadline", 0),
        "region + status new (an administrator's view)": (
            QueueFilter(region="perm-krai", status=("new",)), "deadline", 0),
        "region + status new, page 21 (cursor)": (QueueFilter(region="perm-krai", status=("new",)), "deadline", 20),
        "by uncertainty, status new": (QueueFilter(status=("new",)), "uncertainty", 0),
        "overdue": (QueueFilter(region="perm-krai", overdue=True), "deadline", 0),
        "agency scope (routed/answered, region, agency)": (
            QueueFilter(region="perm-krai", agency="municipality", status=("routed", "answered")), "deadline", 0),
        "needs review, topic roads": (QueueFilter(topic="roads", needs_review=True), "deadline", 0),
    }


def time_pages(engine: Engine, predictor: Predictor, pages: int) -> dict[str, dict[str, float]]:
    # As the server does after loading a bundle (serving.models.ModelHolder.load): what is loaded is
    # kept out of the collector's scans, else a full collection of it lands in some page's time.
    gc.collect()
    gc.freeze()
    sessions = make_sessions(engine)
    clock = ManualClock(T0)
    tz = {code: ZoneInfo(r.timezone) for code, r in predictor.bundle.regions.items()}
    out = {}
    for name, (filters, order, skip) in cases().items():
        cursor = None
        with sessions() as s:
            for _ in range(skip):
                cursor = queue(s, clock, filters, order=order, limit=50, cursor=cursor).next_cursor
        walls, cpus, sizes = [], [], []
        for _ in range(pages + 5):
            cpu, wall = time.process_time(), time.perf_counter()
            with sessions() as s:
                page = queue(s, clock, filters, order=order, limit=50, cursor=cursor)
            json.dumps([i.to_json(tz[i.region]) for i in page.items], ensure_ascii=False)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
            sizes.append(len(page.items))
        walls, cpus = walls[5:], cpus[5:]  # the first few warm the connection pool and caches
        out[name] = {"items": sizes[-1], "p50_ms": ms(statistics.median(walls)), "p99_ms": ms(pct(walls, 99)),
                     "max_ms": ms(max(walls)), "cpu_p50_ms": ms(statistics.median(cpus)),
                     "cpu_p99_ms": ms(pct(cpus, 99))}
    return out


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


# --- report ------------------------------------------------------------------------------------

def section(r: dict[str, Any], command: str) -> str:
    lines = [
        HEADING,
        "",
        f"Command: `{command}`.",
        f"Machine: {r['machine']}; load average {r['load_before']} before, {r['load_after']} after "
        "(shared machine: wall clock includes waiting for the CPU).",
        f"Code: {r['code']}. Bundle: `{r['bundle']}`.",
        "",
        f"Ingest: {r['posts']:,} posts, {r['matched_share']:.0%} of them complaints the monitoring rules match "
        f"(corpus), the rest {r['chatter']}; every text unique; batches of {r['batch']} through "
        f"`serving.ingest.ingest` (rules, model, one transaction per batch); the median of {r['runs']} runs, each "
        "into a fresh database, the variants alternating. CPU is this process's only (not the PostgreSQL "
        "server's). \"Before\": the store called with `predictor.predict`, every matched post explained; now only "
        "the registered ones are (`serving.store.monitoring.predict_fn`).",
        "",
        "| database | posts/s (wall) | wall s | CPU s | posts/s (CPU) | predicted | registered |",
        "|---|---|---|---|---|---|---|",
    ]
    for db, x in r["ingest"].items():
        if "skipped" in x:
            lines.append(f"| {db} | skipped: {x['skipped']} | | | | | |")
            continue
        lines.append(f"| {db} | **{x['posts_per_s']:,}** | {x['wall_s']} | {x['cpu_s']} | {x['posts_per_cpu_s']:,} "
                     f"| {x['predicted']:,} | {x['registered']:,} |")
    lines += [
        "",
        f"Queue: {r['incidents']:,} incidents stored (bulk-inserted in {r['fill_s']}); one page of 50 "
        f"(`serving.store.queue` + the incident JSON in the region's time zone), {r['pages']} times each after 5 "
        "warm-up pages, in a process whose loaded objects are frozen out of the collector's scans as the server "
        "freezes its bundle (without it a full collection, ~135 ms, lands in about one page in 70); ms:",
        "",
        "| database | page | items | p50 | p99 | max | CPU p50 | CPU p99 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for db, pages in r["queue"].items():
        if "skipped" in pages:
            lines.append(f"| {db} | skipped: {pages['skipped']} | | | | | | |")
            continue
        for name, x in pages.items():
            lines.append(f"| {db} | {name} | {x['items']} | {x['p50_ms']} | **{x['p99_ms']}** | {x['max_ms']} | "
                         f"{x['cpu_p50_ms']} | {x['cpu_p99_ms']} |")
    lines += ["", "Against the targets of issue 6:", ""]
    for db, x in r["ingest"].items():
        if "posts_per_s" in x and "before" not in db:
            verdict = "meets" if x["posts_per_s"] >= 1000 else "misses"
            lines.append(f"- ingest >= 1,000 posts/s on {db}: {x['posts_per_s']:,}: {verdict};")
    for db, pages in r["queue"].items():
        if "skipped" not in pages:
            worst = max(x["p99_ms"] for x in pages.values())
            lines.append(f"- queue page p99 <= 50 ms with {r['incidents']:,} incidents on {db}: worst p99 {worst} ms: "
                         f"{'meets' if worst <= 50 else 'misses'};")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", type=Path, default=DEFAULT_BUNDLE)
    ap.add_argument("--posts", type=int, default=10_000)
    ap.add_argument("--matched", type=float, default=0.3)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--incidents", type=int, default=100_000)
    ap.add_argument("--pages", type=int, default=200)
    ap.add_argument("--runs", type=int, default=3, help="ingest runs per variant; the median is reported")
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()

    load_before = uptime()
    predictor = Predictor(load_bundle(args.bundle))
    posts = make_posts(predictor, args.posts, args.matched)
    predictor.predict([Post(id="warm", text=posts[0].text)])
    kinds = ["sqlite", "postgresql"]
    problem = "--no-postgres" if args.no_postgres else postgres_answers()
    result: dict[str, Any] = {
        "machine": f"{platform.machine()}, Python {platform.python_version()}",
        "bundle": predictor.bundle.id, "code": code_version(), "posts": args.posts, "matched_share": args.matched,
        "chatter": "real VK posts (RuSentiment)" if real_texts(DATA) else "corpus non-complaints",
        "batch": args.batch, "incidents": args.incidents, "pages": args.pages, "runs": args.runs,
        "load_before": load_before, "ingest": {}, "queue": {},
    }
    with tempfile.TemporaryDirectory(prefix="otklik-bench-") as tmp:
        for kind in kinds:
            if kind == "postgresql" and problem:
                result["ingest"][kind] = result["queue"][kind] = {"skipped": problem}
                continue
            variants = {kind: False, f"{kind}, every matched post explained (before)": True}
            if kind == "postgresql":
                variants = {kind: False}
            runs: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
            for _ in range(args.runs):  # alternating, each into a fresh database, so caches favour none
                for name, explain_all in variants.items():
                    with fresh_database(kind, Path(tmp)) as engine:
                        runs[name].append(run_ingest(predictor, engine, posts, args.batch, explain_all))
            for name, measured in runs.items():
                result["ingest"][name] = sorted(measured, key=lambda x: x["wall_s"])[len(measured) // 2]
            with fresh_database(kind, Path(tmp)) as engine:
                result[f"fill_{kind}"] = fill(predictor, engine, args.incidents)
                result["queue"][kind] = time_pages(engine, predictor, args.pages)
                gc.unfreeze()
    result["fill_s"] = ", ".join(f"{result.pop(f'fill_{k}'):.0f} s on {k}" for k in kinds if f"fill_{k}" in result)
    result["load_after"] = uptime()
    print(json.dumps(result, ensure_ascii=False, indent=1))
    if args.write:
        write_results(section(result, "python -m bench.ingest " + " ".join(sys.argv[1:])), HEADING)


if __name__ == "__main__":
    main()

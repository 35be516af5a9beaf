"""Speed of the statistics (issue 7): `compute_stats` with 100,000 incidents, SQLite and PostgreSQL.

    .venv/bin/python -m bench.stats [--incidents 100000] [--runs 50] [--sqlite-only] [--write]

Fills a fresh store (a temporary SQLite file; a temporary schema in PostgreSQL's database `test` at
127.0.0.1:5432, dropped afterwards; OTKLIK_BENCH_POSTGRES_URL overrides) with synthetic incidents:
two regions, 90 days, every status, answer times of 1-60 hours, 80% of decisions kept as suggested.
Then times `compute_stats` exactly as `GET /v1/stats` calls it, for
every `group_by` and four callers: federal (everything), a regional administrator (one region, last
30 days), an agency (its routed incidents) and a municipality. Reports p50/p99 wall time and the
median CPU time of this process (for PostgreSQL the server's CPU is not in it). Prints the figures;
`--write` replaces the section "Statistics (issue 7)" of bench/RESULTS.md (read right before
writing; other sections untouched). Target: p99 <= 200 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert, text

from bench.results import write_results
from serving.database import make_engine, make_sessions, scratch_schema
from serving.store import ManualClock, upgrade
from serving.store.stats import GROUPS, compute_stats
from serving.store.tables import IncidentRow, PostRow

ROOT = Path(__file__).resolve().parent.parent
HEADING = "## Statistics (issue 7)"
PG_URL = os.environ.get("OTKLIK_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
ZONES = {"perm-krai": ZoneInfo("Asia/Yekaterinburg"), "sverdlovsk-oblast": ZoneInfo("Asia/Yekaterinburg")}
TOPICS = ("housing", "improvement", "roads", "transport", "health", "education", "social", "waste", "ecology", "gas",
          "power", "construction", "safety", "telecom", "culture_sport", "trade", "other")
AGENCIES = ("municipality", "health_ministry", "education_ministry", "social_ministry", "transport_ministry",
            "housing_ministry", "ecology_ministry", "construction_ministry", "housing_inspection", "waste_operator",
            "culture_ministry", "sport_ministry", "digital_ministry", "safety_ministry")
MUNICIPALITIES = {"perm-krai": [f"577{i:02d}000" for i in range(1, 31)],
                  "sverdlovsk-oblast": [f"657{i:02d}000" for i in range(1, 21)]}
# caller -> the filters its scope gives (serving.auth.Scope.narrow_stats) and the window it asks for
CALLERS: dict[str, tuple[dict[str, Any], int]] = {
    "federal": ({}, 90),
    "regional_admin": ({"region": "perm-krai"}, 30),
    "agency": ({"region": "perm-krai", "agency": "municipality", "statuses": ("routed", "answered")}, 30),
    "municipal": ({"region": "perm-krai", "municipality": "57701000"}, 30),
}


def rows(n: int, seed: int = 7) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(post, incident) rows: registered over 90 days before NOW."""
    rnd = random.Random(seed)
    for i in range(1, n + 1):
        region = "perm-krai" if rnd.random() < 0.8 else "sverdlovsk-oblast"
        registered = NOW - timedelta(seconds=rnd.uniform(0, 90 * 86400))
        deadline = registered + timedelta(hours=24)
        topic, agency = rnd.choice(TOPICS), rnd.choice(AGENCIES[:6] if rnd.random() < 0.7 else AGENCIES)
        municipality = rnd.choice(MUNICIPALITIES[region]) if rnd.random() < 0.9 else None
        status = rnd.choices(("answered", "routed", "new", "dismissed"), (50, 20, 20, 10))[0]
        if registered > NOW - timedelta(days=1) and status == "answered":
            status = "routed"
        final: dict[str, Any] = {"topic": None, "agency": None, "municipality": None}
        if status in ("answered", "routed"):
            final = {"topic": topic if rnd.random() < 0.85 else rnd.choice(TOPICS),
                     "agency": agency if rnd.random() < 0.8 else rnd.choice(AGENCIES),
                     "municipality": municipality if rnd.random() < 0.9 else rnd.choice(MUNICIPALITIES[region])}
        answered_at = registered + timedelta(hours=rnd.lognormvariate(2.6, 0.6)) if status == "answered" else None
        route = {k: final[k] or v for k, v in (("topic", topic), ("agency", agency), ("municipality", municipality))}
        post = {"id": i, "network": "vk", "external_id": f"-1_{i}", "author": None, "url": None,
                "text": f"синтетическая жалоба {i}", "published_at": registered, "raw": None, "region": region,
                "text_hash": f"{i:064x}", "created_at": registered}
        incident = {
            "id": i, "post_id": i, "version": 1 if status == "new" else 2, "status": status, "region": region,
            "registered_at": registered, "registered_day": registered.astimezone(ZONES[region]).date(),
            "deadline": deadline, "suggested_relevant": True,
            "suggested_topic": topic, "suggested_agency": agency, "suggested_body": agency,
            "suggested_municipality": municipality, "scores": {}, "needs_review": rnd.random() < 0.3,
            "uncertainty": rnd.random(), "explanation": {},
            "final_topic": final["topic"], "final_agency": final["agency"], "final_municipality": final["municipality"],
            **route, "answered_at": answered_at,
            "sla_met": None if answered_at is None else answered_at <= deadline, "bundle_id": "bench",
        }
        yield post, incident


def fill(url: str, n: int) -> float:
    """Insert `n` incidents (with their posts); PostgreSQL through COPY, SQLite in batches."""
    engine = make_engine(url)
    upgrade(engine)
    start = time.perf_counter()
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            _copy(conn.connection.driver_connection, n)
        else:
            batch: list[tuple[dict[str, Any], dict[str, Any]]] = []
            for pair in rows(n):
                batch.append(pair)
                if len(batch) == 5000 or pair[1]["id"] == n:
                    conn.execute(insert(PostRow), [p for p, _ in batch])
                    conn.execute(insert(IncidentRow), [i for _, i in batch])
                    batch = []
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":  # index-only scans need the visibility map, as autovacuum keeps it
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
        else:
            conn.execute(text("ANALYZE"))
            conn.commit()
    engine.dispose()
    return time.perf_counter() - start


def _copy(driver: Any, n: int) -> None:
    pairs = list(rows(n))
    for table, position in (("posts", 0), ("incidents", 1)):
        columns = list(pairs[0][position])
        with driver.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for pair in pairs:
                copy.write_row([json.dumps(v) if isinstance(v, dict) else v for v in pair[position].values()])


def measure(url: str, runs: int) -> dict[tuple[str, str], dict[str, float]]:
    engine = make_engine(url)
    sessions = make_sessions(engine)
    clock = ManualClock(NOW)
    out: dict[tuple[str, str], dict[str, float]] = {}
    with sessions() as session:
        for caller, (filters, days) in CALLERS.items():
            for group_by in GROUPS:
                since = NOW - timedelta(days=days)
                walls, cpus = [], []
                for i in range(runs + 2):
                    wall, cpu = time.perf_counter(), time.process_time()
                    found = compute_stats(session, clock, group_by=group_by, since=since, **filters)
                    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                    session.rollback()  # each call reads a fresh snapshot, as each request does
                    if i >= 2:  # two warm-up calls
                        walls.append(wall * 1000)
                        cpus.append(cpu * 1000)
                out[(caller, group_by)] = {"p50": percentile(walls, 50), "p99": percentile(walls, 99),
                                           "cpu": statistics.median(cpus), "groups": len(found),
                                           "registered": sum(r.registered for r in found)}
    engine.dispose()
    return out


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    position = (len(ordered) - 1) * p / 100
    lo = int(position)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (position - lo)


@contextmanager
def sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as folder:
        yield f"sqlite:///{Path(folder) / 'bench.db'}"


def server_version(url: str) -> str:
    engine = make_engine(url)
    with engine.connect() as conn:
        query = "SHOW server_version" if engine.dialect.name == "postgresql" else "SELECT sqlite_version()"
        version = conn.execute(text(query)).scalar()
    engine.dispose()
    return str(version)


def table(figures: dict[tuple[str, str], dict[str, float]]) -> list[str]:
    """Cells: p50 / p99 wall ms · median CPU ms of this process (groups returned)."""
    lines = ["| caller (window) | " + " | ".join(GROUPS) + " |", "|---|" + "---|" * len(GROUPS)]
    for caller, (_, days) in CALLERS.items():
        cells = []
        for group_by in GROUPS:
            f = figures[(caller, group_by)]
            cells.append(f"{f['p50']:.1f} / {f['p99']:.1f} · {f['cpu']:.1f} ({int(f['groups'])})")
        lines.append(f"| {caller} ({days} days) | " + " | ".join(cells) + " |")
    worst = max(f["p99"] for f in figures.values())
    lines += ["", f"Worst p99: {worst:.1f} ms — target p99 <= 200 ms: {'met' if worst <= 200 else 'missed'}.", ""]
    return lines


def git_state() -> str:
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout
    dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True, cwd=ROOT).stdout
    return f"commit {head.strip()}" + (" with uncommitted changes" if dirty.strip() else "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--incidents", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--sqlite-only", action="store_true")
    ap.add_argument("--write", action="store_true", help="write the figures into bench/RESULTS.md")
    args = ap.parse_args()
    load_before = os.getloadavg()
    sections: list[str] = []
    databases = [("SQLite", sqlite_url)]
    if not args.sqlite_only:
        databases.append(("PostgreSQL", lambda: scratch_schema(PG_URL, "otklik_bench")))
    for name, make_url in databases:
        with make_url() as url:
            filled = fill(url, args.incidents)
            print(f"{name}: {args.incidents:,} incidents inserted in {filled:.1f} s", file=sys.stderr)
            sections += [f"{name} {server_version(url)}", "", *table(measure(url, args.runs))]
    load_after = os.getloadavg()
    report = "\n".join([
        HEADING, "",
        f"Command: `.venv/bin/python -m bench.stats{' --write' if args.write else ''}` ({args.incidents:,} incidents, "
        f"{args.runs} timed calls per cell after 2 warm-up calls).",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; load average "
        f"{' / '.join(f'{x:.2f}' for x in load_before)} before, {' / '.join(f'{x:.2f}' for x in load_after)} after "
        "(a shared machine). Code: " + git_state() + ".",
        "Data: two regions, registered over 90 days, statuses answered 50% / routed 20% / new 20% / dismissed 10%; "
        "`compute_stats` called as `GET /v1/stats` calls it, with each caller's "
        "scope filters and window. Cells: p50 / p99 wall ms · median CPU ms of this process (for PostgreSQL the "
        "server's CPU is not in it) · (groups returned).",
        "", *sections,
    ])
    print(report)
    if args.write:
        write_results(report, HEADING)


if __name__ == "__main__":
    main()

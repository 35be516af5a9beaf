"""Days of the statistics: the region's calendar day, stored at registration (`registered_day`) and
backfilled by migration 0005; on SQLite the percentiles of each day, read off an index, equal
PostgreSQL's percentile_cont."""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator
from contextlib import nullcontext
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, insert, inspect, select, text
from sqlalchemy.exc import SAWarning

from serving.database import make_engine, make_sessions, scratch_schema
from serving.store import ManualClock, upgrade
from serving.store.schema import alembic_config
from serving.store.stats import GROUPS, PERCENTILES, StatsRow, compute_stats
from serving.store.tables import DecisionRow, IncidentRow, PostRow
from tests.serving.store.conftest import POTHOLE, Db, post

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
PERM = timedelta(hours=5)  # Asia/Yekaterinburg: perm-krai and sverdlovsk-oblast


@pytest.mark.parametrize(
    ("registered", "day"),
    [
        ("2026-11-28T18:59:59+00:00", "2026-11-28"),  # 23:59:59 in Perm
        ("2026-11-28T19:00:00+00:00", "2026-11-29"),  # midnight in Perm
        ("2026-11-28T20:30:00+00:00", "2026-11-29"),
        ("2026-11-28T00:30:00+00:00", "2026-11-28"),  # still 11-28 in UTC, 05:30 in Perm
    ],
)
def test_an_incident_counts_on_the_day_of_its_region(db: Db, ingest: Any, clock: ManualClock,
                                                     registered: str, day: str) -> None:
    clock.set(datetime.fromisoformat(registered))
    [registration] = ingest([post("p1", POTHOLE, published_at=clock.now())]).incidents
    with db.session() as session:
        stored = session.scalar(select(IncidentRow.registered_day).where(IncidentRow.id == registration.incident_id))
        rows = compute_stats(session, clock, group_by="day")
    assert stored == date.fromisoformat(day)
    assert [(row.key, row.registered) for row in rows] == [(day, 1)]


# ---- migration 0005 ------------------------------------------------------------------------------

def _incident(n: int, region: str, registered: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    """A post and its incident as they were before 0005 (no registered_day)."""
    post_row = {"id": n, "network": "vk", "external_id": str(n), "author": None, "url": None, "text": f"жалоба {n}",
                "published_at": registered, "raw": None, "region": region, "text_hash": f"{n:064x}",
                "created_at": registered}
    incident = {"id": n, "post_id": n, "version": 1, "status": "new", "region": region, "registered_at": registered,
                "deadline": registered + timedelta(hours=24), "suggested_relevant": True, "suggested_topic": "roads",
                "suggested_agency": "municipality", "suggested_body": "администрация",
                "suggested_municipality": None, "scores": {}, "needs_review": False, "uncertainty": 0.1,
                "explanation": {}, "topic": "roads", "agency": "municipality", "municipality": None,
                "bundle_id": "old"}
    return post_row, incident


def _days(engine: Engine) -> dict[int, date]:
    with make_sessions(engine)() as session:
        return {n: day for n, day in session.execute(select(IncidentRow.id, IncidentRow.registered_day))}


def test_the_migration_gives_existing_incidents_their_day(empty_url: str) -> None:
    engine = make_engine(empty_url)
    try:
        upgrade(engine, "0004")
        old = [
            _incident(1, "perm-krai", datetime(2026, 11, 28, 20, 30, tzinfo=UTC)),  # 01:30 on 11-29 in Perm
            _incident(2, "sverdlovsk-oblast", datetime(2026, 11, 28, 18, 0, tzinfo=UTC)),  # 23:00 in Yekaterinburg
            _incident(3, "tver-oblast", datetime(2026, 11, 28, 23, 30, tzinfo=UTC)),  # not in the copy: UTC
            _incident(4, "perm-krai", datetime(2026, 3, 31, 19, 30, tzinfo=UTC)),
        ]
        with engine.begin() as conn:
            conn.execute(insert(PostRow), [p for p, _ in old])
            conn.execute(insert(IncidentRow), [i for _, i in old])
            conn.execute(insert(DecisionRow), {  # an incident the audit log refers to is migrated in place
                "incident_id": 1, "actor": "admin", "at": NOW, "action": "accept", "old_labels": {},
                "new_labels": {}, "corrected": [], "model_version": "old", "comment": None, "version": 2})
        upgrade(engine)
        expected = {1: date(2026, 11, 29), 2: date(2026, 11, 28), 3: date(2026, 11, 28), 4: date(2026, 4, 1)}
        assert _days(engine) == expected
        expressions = engine.dialect.name == "sqlite"  # 0004's answer-time indexes, which SQLAlchemy skips
        with pytest.warns(SAWarning, match="expression-based index") if expressions else nullcontext():
            indexes = {ix["name"] for ix in inspect(engine).get_indexes("incidents")}
        assert "ix_incidents_stats_registered_day" in indexes

        with engine.connect() as conn:  # and back: 0004's schema, the rows kept
            command.downgrade(alembic_config(conn), "0004")
            conn.commit()
        assert "registered_day" not in {c["name"] for c in inspect(engine).get_columns("incidents")}
        upgrade(engine)
        assert _days(engine) == expected
    finally:
        engine.dispose()


# ---- SQLite's percentiles against PostgreSQL's percentile_cont -----------------------------------

def _history(n: int, seed: int = 5) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Incidents over ten days before NOW, many near a local midnight, about half of them answered."""
    rnd = random.Random(seed)
    for i in range(1, n + 1):
        region = rnd.choice(("perm-krai", "sverdlovsk-oblast"))
        registered = NOW - timedelta(days=rnd.randrange(10), hours=rnd.choice((7, 7.5, 17, 19)) + rnd.random())
        post_row, incident = _incident(i, region, registered)
        status = rnd.choice(("answered", "answered", "routed", "new", "dismissed"))
        answered_at = registered + timedelta(hours=rnd.uniform(0.5, 60)) if status == "answered" else None
        incident.update(status=status, registered_day=(registered + PERM).date(), answered_at=answered_at,
                        sla_met=None if answered_at is None else answered_at <= incident["deadline"],
                        agency=rnd.choice(("municipality", "health_ministry")),
                        municipality=rnd.choice(("57701000", "57708000", None)))
        yield post_row, incident


def _percentile_cont(values: list[float], p: float) -> float:
    ordered = sorted(values)
    position = p * (len(ordered) - 1)
    lo = int(position)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (position - lo)


@pytest.fixture(scope="module")
def both(migrated_sqlite: Path, postgres: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Engine]]:
    """The same 300 incidents in SQLite and in PostgreSQL."""
    path = tmp_path_factory.mktemp("days") / "otklik.db"
    shutil.copyfile(migrated_sqlite, path)
    rows = list(_history(300))
    with scratch_schema(postgres, "otklik_test") as url:
        engines = [make_engine(f"sqlite:///{path}"), make_engine(url)]
        upgrade(engines[1])
        for engine in engines:
            with engine.begin() as conn:
                conn.execute(insert(PostRow), [p for p, _ in rows])
                conn.execute(insert(IncidentRow), [i for _, i in rows])
                conn.execute(text("ANALYZE"))
        yield engines
        for engine in engines:
            engine.dispose()


def _stats(engine: Engine, **kwargs: Any) -> list[StatsRow]:
    with make_sessions(engine)() as session:
        return compute_stats(session, ManualClock(NOW), **kwargs)


FILTERS = [
    {},
    {"region": "perm-krai", "since": NOW - timedelta(days=4)},
    {"agency": "municipality", "statuses": ("routed", "answered"), "until": NOW - timedelta(days=2)},
    {"region": "perm-krai", "municipality": "57708000"},
]


@pytest.mark.parametrize("group_by", GROUPS)
@pytest.mark.parametrize("filters", FILTERS)
def test_sqlite_and_postgresql_agree(both: list[Engine], group_by: str, filters: dict[str, Any]) -> None:
    sqlite_rows, postgres_rows = (_stats(engine, group_by=group_by, **filters) for engine in both)
    assert [row.key for row in sqlite_rows] == [row.key for row in postgres_rows]
    assert any(row.median_hours_to_answer is not None for row in postgres_rows)
    for mine, theirs in zip(sqlite_rows, postgres_rows, strict=True):
        counters = {name: value for name, value in mine.to_json().items() if name not in PERCENTILES}
        assert counters == {name: value for name, value in theirs.to_json().items() if name not in PERCENTILES}
        for name in PERCENTILES:
            assert getattr(mine, name) == pytest.approx(getattr(theirs, name), abs=1e-6)


def test_each_day_has_the_percentiles_of_its_answer_times(both: list[Engine]) -> None:
    hours: dict[str, list[float]] = {}
    for _, incident in _history(300):
        if incident["answered_at"] is not None:
            took = (incident["answered_at"] - incident["registered_at"]).total_seconds() / 3600
            hours.setdefault(incident["registered_day"].isoformat(), []).append(took)
    assert len(hours) >= 10 and min(map(len, hours.values())) < max(map(len, hours.values()))
    for engine in both:
        rows = {row.key: row for row in _stats(engine, group_by="day")}
        assert {key: row.answered for key, row in rows.items() if row.answered} == {
            key: len(values) for key, values in hours.items()}
        for key, values in hours.items():
            assert rows[key].median_hours_to_answer == pytest.approx(_percentile_cont(values, 0.5), abs=1e-6)
            assert rows[key].p90_hours_to_answer == pytest.approx(_percentile_cont(values, 0.9), abs=1e-6)

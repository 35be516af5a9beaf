"""Migrations: the initial revision builds exactly the tables the code maps, on either database,
and is safe to run at every start, by several workers at once."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from threading import Barrier

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from serving.database import make_engine
from serving.store.schema import current, head, upgrade
from serving.store.tables import Base
from tests.conftest import ROOT
from tests.serving.store.conftest import Db

SCRIPT = Path(sys.executable).with_name("otklik")


def test_the_migrated_schema_matches_the_tables(db: Db) -> None:
    assert current(db.engine) == head()
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []
    names = set(inspect(db.engine).get_table_names())
    assert names >= {"posts", "predictions", "incidents", "reposts", "decisions", "responses", "users", "tokens"}


def test_upgrading_again_changes_nothing(db: Db) -> None:
    upgrade(db.engine)
    assert current(db.engine) == head()


def test_workers_starting_together_on_an_empty_database_migrate_it_once(empty_url: str) -> None:
    workers = 4
    barrier = Barrier(workers)

    def start(_: int) -> str | None:
        engine = make_engine(empty_url)
        try:
            barrier.wait()
            upgrade(engine)
            return current(engine)
        finally:
            engine.dispose()

    with ThreadPoolExecutor(workers) as pool:
        assert list(pool.map(start, range(workers))) == [head()] * workers


def test_otklik_db_upgrade_creates_the_database_or_says_why_not(tmp_path: Path) -> None:
    command = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "serving.cli"]
    good = f"sqlite:///{tmp_path / 'var' / 'otklik.db'}"
    bad = "postgresql+psycopg://nobody:secret@127.0.0.1:1/none"
    runs = [  # both at once: each pays a second or more of imports
        subprocess.Popen([*command, "db", "upgrade"], env={**os.environ, "OTKLIK_DATABASE_URL": url}, cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for url in (good, bad)
    ]
    (out, err), (_, bad_err) = (run.communicate(timeout=120) for run in runs)

    assert runs[0].returncode == 0, err
    assert out.strip() == f"{good}: schema at revision {head()}"
    assert current(make_engine(good)) == head()
    assert runs[1].returncode == 2
    assert "otklik: postgresql+psycopg://nobody:***@127.0.0.1:1/none: OperationalError" in bad_err
    assert "secret" not in bad_err


def test_the_roles_migration_renames_the_old_roles_and_refuses_unknown_ones(empty_url: str) -> None:
    engine = make_engine(empty_url)
    try:
        upgrade(engine, "0001")
        with engine.begin() as conn:
            for name, role in (("old admin", "admin"), ("old supervisor", "supervisor"), ("old ml", "ml")):
                conn.execute(text("INSERT INTO users (name, role, created_at) VALUES (:n, :r, CURRENT_TIMESTAMP)"),
                             {"n": name, "r": role})
        upgrade(engine, "0002")
        with engine.connect() as conn:
            roles = {name: role for name, role in conn.execute(text("SELECT name, role FROM users"))}
        assert roles == {"old admin": "regional_admin", "old supervisor": "federal", "old ml": "ml"}
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(text("INSERT INTO users (name, role, created_at) VALUES ('x', 'admin', CURRENT_TIMESTAMP)"))
    finally:
        engine.dispose()

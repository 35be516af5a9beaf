"""The database engine: embedded SQLite by default, PostgreSQL through OTKLIK_DATABASE_URL."""

from __future__ import annotations

import contextlib
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

CONNECT_TIMEOUT = 5  # seconds
NOT_REACHABLE = "database not reachable"


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys and a busy timeout, and its folder."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
            # a folder that cannot be made shows up as "not reachable" in /ready, not as a crash
            with contextlib.suppress(OSError):
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _: Any) -> None:
            cursor = dbapi_connection.cursor()
            try:
                _wal(cursor)
                cursor.execute("PRAGMA foreign_keys=ON")
            finally:
                cursor.close()

        return engine
    # A server that does not answer is an error after CONNECT_TIMEOUT (503, try again), not a hung request.
    return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": CONNECT_TIMEOUT})


def _wal(cursor: Any, patience: float = 30.0) -> None:
    """Put the database in WAL mode (it stays so: later connections find it done). The switch needs
    the file to itself and SQLite answers "database is locked" at once, busy timeout or not, while
    another connection holds it: workers starting together on a new database retry for a while."""
    deadline = time.monotonic() + patience
    delay = 0.01
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.5)


def make_sessions(engine: Engine) -> sessionmaker[Session]:
    """Sessions for the store; one per request or job. Store functions commit their own work."""
    return sessionmaker(engine, expire_on_commit=False)


def reachable(engine: Engine) -> str | None:
    """None when the database answers and takes writes, else what went wrong.

    The write is an UPDATE of no row of the migrations' own table, rolled back: a read-only
    database (a file without write permission, a PostgreSQL standby or read-only transaction)
    refuses it like any write, and nothing changes either way."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means "not ready"; the message says which
        return f"{NOT_REACHABLE}: {type(exc).__name__}: {exc}".splitlines()[0]
    try:
        with engine.connect() as conn:
            try:
                conn.execute(text("UPDATE alembic_version SET version_num = version_num WHERE 1 = 0"))
            finally:
                conn.rollback()
    except Exception as exc:
        return f"database does not take writes: {type(exc).__name__}: {exc}".splitlines()[0]
    return None


@contextlib.contextmanager
def scratch_schema(url: str, prefix: str = "otklik_scratch") -> Iterator[str]:
    """A new, empty PostgreSQL schema for a test or a benchmark: yields `url` with its search_path
    set to it, and drops it with everything in it on exit."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = make_engine(url)
    try:
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        try:
            yield f"{url}?options=-csearch_path%3D{schema}"
        finally:
            with admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    finally:
        admin.dispose()

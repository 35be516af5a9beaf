"""The monitoring loop's memory: each source's cursor and health, and the post-back attempts of responses.

`save_page` does not commit: it is the `before_commit` of the ingest of the posts the cursor covers,
so the cursor and those posts are stored together or not at all.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from serving.store.clock import Clock
from serving.store.responses import set_postback
from serving.store.tables import IncidentRow, PostbackRow, PostRow, ResponseRow, SourceRow


@dataclass(frozen=True)
class SourceState:
    id: str
    network: str
    status: str  # ok, failing, stopped
    cursor: dict[str, Any] | None
    last_error: str | None
    last_run_at: datetime | None
    last_ok_at: datetime | None
    stopped_token: str | None
    fetched: int
    created: int
    incidents: int
    skipped: int
    failures: int

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "network": self.network, "status": self.status, "last_error": self.last_error,
            "last_run_at": self.last_run_at.isoformat() if self.last_run_at else None,
            "last_ok_at": self.last_ok_at.isoformat() if self.last_ok_at else None,
            "fetched": self.fetched, "created": self.created, "incidents": self.incidents, "skipped": self.skipped,
        }


def token_fingerprint(token: str) -> str:
    """What is stored of a refused token: enough to see that it was replaced, nothing to reuse."""
    return hashlib.sha256(token.encode()).hexdigest()


def _state(row: SourceRow) -> SourceState:
    return SourceState(row.id, row.network, row.status, row.cursor, row.last_error, row.last_run_at, row.last_ok_at,
                       row.stopped_token, row.fetched, row.created, row.incidents, row.skipped, row.failures)


def ensure_source(session: Session, source_id: str, network: str) -> SourceState:
    """The stored state of a source, created (status ok, no cursor) on its first run. Commits."""
    row = session.get(SourceRow, source_id)
    if row is None:
        row = SourceRow(id=source_id, network=network, status="ok", cursor=None, fetched=0, created=0, incidents=0,
                        skipped=0, failures=0)
        session.add(row)
    elif row.network != network:
        session.rollback()
        raise ValueError(f"source {source_id!r} was a {row.network} source and is now configured as {network}: "
                         "give the new source a new id")
    state = _state(row)
    session.commit()
    return state


def list_sources(session: Session) -> list[SourceState]:
    return [_state(r) for r in session.scalars(select(SourceRow).order_by(SourceRow.id))]


def source_health(session: Session) -> tuple[dict[str, list[str]], list[str]]:
    """Source ids by status for /ready, and a problem line per stopped source."""
    by_status: dict[str, list[str]] = {"ok": [], "failing": [], "stopped": []}
    problems = []
    for state in list_sources(session):
        by_status[state.status].append(state.id)
        if state.status == "stopped":
            problems.append(f"source {state.id} stopped: {state.last_error}")
    session.rollback()
    return by_status, problems


def save_page(session: Session, source_id: str, cursor: dict[str, Any], now: datetime, fetched: int,
              skipped: int) -> None:
    """Move the cursor past a page; inside the transaction of the page's posts (no commit)."""
    session.execute(
        update(SourceRow)
        .where(SourceRow.id == source_id)
        .values(cursor=cursor, last_run_at=now, fetched=SourceRow.fetched + fetched,
                skipped=SourceRow.skipped + skipped)
        .execution_options(synchronize_session=False)
    )


def add_counts(session: Session, source_id: str, created: int, incidents: int) -> None:
    """Add what a stored page turned out to hold (known only once it is stored). Commits."""
    session.execute(
        update(SourceRow)
        .where(SourceRow.id == source_id)
        .values(created=SourceRow.created + created, incidents=SourceRow.incidents + incidents)
        .execution_options(synchronize_session=False)
    )
    session.commit()


def mark_source(session: Session, source_id: str, status: str, clock: Clock, error: str | None = None,
                stopped_token: str | None = None) -> None:
    """The outcome of a run: ok (failures reset), failing (one more in a row) or stopped. Commits."""
    now = clock.now()
    values: dict[str, Any] = {"status": status, "last_run_at": now, "last_error": error,
                              "stopped_token": stopped_token}
    if status == "ok":
        values.update(last_ok_at=now, failures=0)
    else:
        values["failures"] = SourceRow.failures + 1
    session.execute(update(SourceRow).where(SourceRow.id == source_id).values(**values)
                    .execution_options(synchronize_session=False))
    session.commit()


@dataclass(frozen=True)
class DuePostback:
    """A response to post back, with the post it answers."""

    response_id: int
    incident_id: int
    text: str
    url: str | None
    attempts: int
    network: str
    external_id: str
    post_url: str | None
    raw: dict[str, Any] | None
    region: str


def due_postbacks(session: Session, clock: Clock, max_attempts: int, limit: int = 100) -> list[DuePostback]:
    """Pending responses, and failed ones whose next attempt is due and that have attempts left."""
    now = clock.now()
    rows = session.execute(
        select(ResponseRow.id, ResponseRow.incident_id, ResponseRow.text, ResponseRow.url, PostbackRow.attempts,
               PostRow.network, PostRow.external_id, PostRow.url, PostRow.raw, PostRow.region)
        .join(IncidentRow, IncidentRow.id == ResponseRow.incident_id)
        .join(PostRow, PostRow.id == IncidentRow.post_id)
        .outerjoin(PostbackRow, PostbackRow.response_id == ResponseRow.id)
        .where(
            or_(
                ResponseRow.postback_status == "pending",
                (ResponseRow.postback_status == "failed") & (PostbackRow.attempts < max_attempts)
                & (PostbackRow.next_at <= now),
            )
        )
        .order_by(ResponseRow.id)
        .limit(limit)
    ).all()
    session.rollback()
    return [DuePostback(r[0], r[1], r[2], r[3], r[4] or 0, *r[5:]) for r in rows]


def record_postback(session: Session, due: DuePostback, status: str, clock: Clock, delay: float,
                    error: str | None = None, url: str | None = None) -> None:
    """One attempt's outcome: the response's postback status and error, the attempt count, when the next
    retry may run (`delay` seconds, doubling with each attempt). Commits."""
    now = clock.now()
    attempts = due.attempts + 1
    next_at = now + timedelta(seconds=delay * 2 ** (attempts - 1))
    row = session.get(PostbackRow, due.response_id)
    if row is None:
        session.add(PostbackRow(response_id=due.response_id, attempts=attempts, next_at=next_at, url=url))
    else:
        row.attempts, row.next_at, row.url = attempts, next_at, url or row.url
    session.flush()
    set_postback(session, due.response_id, status, clock, error)  # commits both


def postback_of(session: Session, response_id: int) -> tuple[int, str | None] | None:
    """(attempts, posted URL) of a response, None before its first attempt."""
    row = session.get(PostbackRow, response_id)
    return (row.attempts, row.url) if row else None

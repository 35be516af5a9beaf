"""What the ML jobs read from the incident store: feedback labels, recent predictions, the decision log,
and posts nobody has labelled yet. Read-only; each function opens and closes its own engine, since
these run in CLI commands and scheduled jobs, not per request.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from model.pii import Masker
from model.records import Post
from serving.database import make_engine, make_sessions
from serving.privacy import masked_feedback
from serving.store.lifecycle import LABELLING
from serving.store.tables import DecisionRow, IncidentRow, PostRow, PredictionRow


class NoStore(Exception):
    """The database does not exist or has no incident tables yet: there is nothing to read."""


@contextmanager
def store_session(url: str) -> Iterator[Session]:
    """A session on an existing, migrated store; NoStore (without creating anything) otherwise."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() == "sqlite" and database not in (None, "", ":memory:") and not Path(database).exists():
        raise NoStore(f"no database at {database}")
    engine = make_engine(url)
    try:
        if not inspect(engine).has_table(DecisionRow.__tablename__):
            raise NoStore(f"{parsed.render_as_string(hide_password=True)} has no incident tables "
                          "(run `otklik db upgrade`)")
        with make_sessions(engine)() as session:
            yield session
    finally:
        engine.dispose()


def read_feedback(url: str, since: datetime | None = None) -> list[dict[str, Any]]:
    """The store's feedback labels (corpus rows, oldest first, personal data masked); none when there is no store yet.
    ValueError when the database is there but cannot be read (down, refused): training without
    the labels people gave would be a silent loss."""
    try:
        with store_session(url) as session:
            return masked_feedback(session, Masker(), since)
    except NoStore:
        return []
    except SQLAlchemyError as exc:
        raise ValueError(f"feedback not read from the database: {type(exc).__name__}: "
                         f"{str(exc).splitlines()[0]}") from exc


def recent_predictions(session: Session, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """The wire-shaped predictions made in [since, until), oldest first."""
    rows = session.scalars(
        select(PredictionRow.prediction)
        .where(PredictionRow.created_at >= since, PredictionRow.created_at < until)
        .order_by(PredictionRow.id)
    )
    return list(rows)


def decision_log(session: Session, since: datetime, until: datetime) -> list[tuple[datetime, list[str]]]:
    """(when, heads corrected) of every labelling decision in [since, until), oldest first."""
    rows = session.execute(
        select(DecisionRow.at, DecisionRow.corrected)
        .where(DecisionRow.action.in_(LABELLING), DecisionRow.at >= since, DecisionRow.at < until)
        .order_by(DecisionRow.id)
    )
    return [(at, list(corrected)) for at, corrected in rows]


def unlabelled_posts(session: Session, limit: int) -> list[Post]:
    """The newest posts the model scored that no administrator has decided on, newest first."""
    labelled = (
        select(IncidentRow.post_id)
        .join(DecisionRow, DecisionRow.incident_id == IncidentRow.id)
        .where(DecisionRow.action.in_(LABELLING))
    )
    rows = session.execute(
        select(PostRow.id, PostRow.network, PostRow.external_id, PostRow.text, PostRow.region)
        .where(PostRow.id.in_(select(PredictionRow.post_id)), PostRow.id.not_in(labelled))
        .order_by(PostRow.created_at.desc(), PostRow.id.desc())
        .limit(limit)
    )
    return [Post(id=f"{network}:{external_id}", text=text, network=network, region=region)
            for _, network, external_id, text, region in rows]

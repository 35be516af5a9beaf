"""The agency's answer: it closes the incident and settles the SLA."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from serving.store.clock import Clock
from serving.store.decisions import apply, labels_of, load
from serving.store.errors import IllegalTransition
from serving.store.incidents import Incident, incident_of
from serving.store.lifecycle import NEXT, allowed
from serving.store.tables import POSTBACK, DecisionRow, ResponseRow


@dataclass(frozen=True)
class Response:
    id: int
    incident_id: int
    text: str
    url: str | None
    actor: str
    at: datetime
    postback_status: str
    postback_at: datetime | None
    postback_error: str | None


def respond(session: Session, incident_id: int, text: str, url: str | None, actor: str, clock: Clock) -> Incident:
    """Record the answer of a routed incident: status answered, sla_met = answered_at <= deadline.
    Commits. Raises IncidentNotFound, IllegalTransition (not routed), Conflict (changed meanwhile)."""
    if not text.strip():
        raise ValueError("the response text is empty")
    row, post = load(session, incident_id)
    now = clock.now()
    if "respond" not in allowed(row.status):
        raise IllegalTransition(incident_of(row, post, now), "respond")
    route = labels_of(row.status, row.topic, row.agency, row.municipality)
    values = {"version": row.version + 1, "status": NEXT["respond"], "answered_at": now, "sla_met": now <= row.deadline}
    entries = [
        ResponseRow(incident_id=incident_id, text=text, url=url, actor=actor, at=now, postback_status="pending"),
        DecisionRow(
            incident_id=incident_id,
            actor=actor,
            at=now,
            action="respond",
            old_labels=route,
            new_labels={**route, "status": NEXT["respond"]},
            corrected=[],
            model_version=row.bundle_id,
            comment=None,
            version=row.version + 1,
        ),
    ]
    return apply(session, row, values, entries, clock)


def responses_of(session: Session, incident_id: int) -> list[Response]:
    rows = session.scalars(select(ResponseRow).where(ResponseRow.incident_id == incident_id).order_by(ResponseRow.id))
    return [
        Response(r.id, r.incident_id, r.text, r.url, r.actor, r.at, r.postback_status, r.postback_at, r.postback_error)
        for r in rows
    ]


def set_postback(
    session: Session, response_id: int, status: str, clock: Clock, error: str | None = None
) -> None:
    """What the connector made of posting the answer back to the network. Commits."""
    if status not in POSTBACK:
        raise ValueError(f"postback status {status!r}; one of {', '.join(POSTBACK)}")
    result = session.execute(
        update(ResponseRow)
        .where(ResponseRow.id == response_id)
        .values(postback_status=status, postback_at=clock.now(), postback_error=error)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        raise LookupError(f"no response {response_id}")
    session.commit()

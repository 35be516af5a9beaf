"""Incidents as records: what the queue, the incident page and the API show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, select
from sqlalchemy.orm import Session

from serving.store.clock import Clock
from serving.store.errors import IncidentNotFound
from serving.store.lifecycle import OPEN, allowed
from serving.store.tables import IncidentRow, PostRow


@dataclass(frozen=True)
class PostRef:
    network: str
    external_id: str
    url: str | None
    text: str
    published_at: datetime
    author: str | None = None


@dataclass(frozen=True)
class Suggestion:
    """What the model suggested at registration."""

    relevant: bool
    topic: str
    agency: str
    body: str
    municipality: str | None
    scores: dict[str, Any]
    needs_review: bool
    explanation: dict[str, Any]


@dataclass(frozen=True)
class Route:
    """The labels an administrator settled on."""

    topic: str
    agency: str
    municipality: str | None


@dataclass(frozen=True)
class Incident:
    id: int
    version: int
    status: str
    region: str
    post: PostRef
    registered_at: datetime
    deadline: datetime
    overdue: bool
    suggested: Suggestion
    final: Route | None
    answered_at: datetime | None
    sla_met: bool | None
    bundle_id: str

    @property
    def allowed_actions(self) -> tuple[str, ...]:
        return allowed(self.status)

    def to_json(self, tz: tzinfo | None = None) -> dict[str, Any]:
        """The wire shape of issue 6; times in `tz` (the region's zone for display), UTC by default."""

        def when(moment: datetime | None) -> str | None:
            if moment is None:
                return None
            try:
                return (moment.astimezone(tz) if tz else moment).isoformat()
            except OverflowError:  # a moment at the edge of the calendar has no local time: shown in UTC
                return moment.isoformat()

        s = self.suggested
        return {
            "id": self.id,
            "version": self.version,
            "status": self.status,
            "post": {
                "network": self.post.network,
                "external_id": self.post.external_id,
                "url": self.post.url,
                "text": self.post.text,
                "published_at": when(self.post.published_at),
            },
            "registered_at": when(self.registered_at),
            "deadline": when(self.deadline),
            "overdue": self.overdue,
            "suggested": {
                "topic": s.topic,
                "agency": s.agency,
                "body": s.body,
                "municipality": s.municipality,
                "scores": s.scores,
                "needs_review": s.needs_review,
                "explanation": s.explanation,
            },
            "final": (
                {"topic": self.final.topic, "agency": self.final.agency, "municipality": self.final.municipality}
                if self.final
                else None
            ),
            "answered_at": when(self.answered_at),
            "sla_met": self.sla_met,
        }


def get_incident(session: Session, incident_id: int, clock: Clock) -> Incident:
    row = session.execute(
        with_post().where(IncidentRow.id == incident_id).execution_options(populate_existing=True)
    ).one_or_none()
    if row is None:
        raise IncidentNotFound(incident_id)
    return incident_of(row[0], row[1], clock.now())


def with_post() -> Select[tuple[IncidentRow, PostRow]]:
    return select(IncidentRow, PostRow).join(PostRow, PostRow.id == IncidentRow.post_id)


def overdue_at(now: datetime) -> ColumnElement[bool]:
    """Computed at query time from the clock: nothing has to run for an incident to become overdue."""
    return and_(IncidentRow.status.in_(OPEN), IncidentRow.deadline < now)


def incident_of(row: IncidentRow, post: PostRow, now: datetime) -> Incident:
    final = (
        Route(row.final_topic, row.final_agency, row.final_municipality)
        if row.final_topic is not None and row.final_agency is not None
        else None
    )
    return Incident(
        id=row.id,
        version=row.version,
        status=row.status,
        region=row.region,
        post=PostRef(post.network, post.external_id, post.url, post.text, post.published_at, post.author),
        registered_at=row.registered_at,
        deadline=row.deadline,
        overdue=row.status in OPEN and row.deadline < now,
        suggested=Suggestion(
            relevant=row.suggested_relevant,
            topic=row.suggested_topic,
            agency=row.suggested_agency,
            body=row.suggested_body,
            municipality=row.suggested_municipality,
            scores=row.scores,
            needs_review=row.needs_review,
            explanation=row.explanation,
        ),
        final=final,
        answered_at=row.answered_at,
        sla_met=row.sla_met,
        bundle_id=row.bundle_id,
    )

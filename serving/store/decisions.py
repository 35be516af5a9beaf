"""Triage decisions with optimistic concurrency, and the append-only audit log they leave.

A decision is `UPDATE incidents … WHERE id = ? AND version = ?`: of two administrators deciding on
the same version, exactly one changes the row, the other gets a Conflict with the current state.
The log has no update or delete functions, and database triggers refuse both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from model.region import Region
from model.taxonomy import Taxonomy
from serving.store.clock import Clock
from serving.store.errors import Conflict, IllegalTransition, IncidentNotFound, InvalidDecision
from serving.store.incidents import Incident, get_incident, incident_of, with_post
from serving.store.lifecycle import NEXT, allowed
from serving.store.tables import DecisionRow, IncidentRow, PostRow

DECISIONS = ("accept", "correct", "dismiss", "reassign")
HEADS = ("topic", "agency", "municipality")


@dataclass(frozen=True)
class Labels:
    """A correction: the labels to change; None keeps the current one."""

    topic: str | None = None
    agency: str | None = None
    municipality: str | None = None

    def given(self) -> dict[str, str]:
        return {head: value for head in HEADS if (value := getattr(self, head)) is not None}


@dataclass(frozen=True)
class Decision:
    id: int
    incident_id: int
    actor: str
    at: datetime
    action: str
    old_labels: dict[str, Any]
    new_labels: dict[str, Any]
    corrected: tuple[str, ...]
    model_version: str
    comment: str | None
    version: int


def decide(
    session: Session,
    incident_id: int,
    action: str,
    version: int,
    actor: str,
    clock: Clock,
    labels: Labels = Labels(),  # frozen: one shared default is safe
    reason: str | None = None,
    taxonomy: Taxonomy | None = None,
    regions: Mapping[str, Region] | None = None,
) -> Incident:
    """accept | correct | dismiss | reassign the incident at `version`; the incident after it. Commits.

    With `taxonomy` and `regions`, corrected labels must be known codes (municipalities of the
    incident's region). Raises IncidentNotFound, Conflict (stale version), IllegalTransition (not
    possible in the incident's status), InvalidDecision (labels or reason that do not fit)."""
    if action not in DECISIONS:
        raise InvalidDecision(f"unknown action {action!r}; one of {', '.join(DECISIONS)}")
    _check_fields(action, labels, reason)
    row, post = load(session, incident_id)
    _check_codes(labels, row.region, taxonomy, regions)
    now = clock.now()
    if row.version != version:
        raise Conflict(incident_of(row, post, now), version)
    if action not in allowed(row.status):
        raise IllegalTransition(incident_of(row, post, now), action)

    suggested: dict[str, Any] = {
        "topic": row.suggested_topic, "agency": row.suggested_agency, "municipality": row.suggested_municipality
    }
    if action == "accept":
        final: dict[str, Any] | None = dict(suggested)
    elif action == "correct":
        final = {**suggested, **labels.given()}
    else:  # dismiss: not relevant; reassign: the route was wrong, back to the queue to be decided again
        final = None
    route = final or suggested
    values = {
        "version": version + 1,
        "status": NEXT[action],
        "final_topic": final and final["topic"],
        "final_agency": final and final["agency"],
        "final_municipality": final and final["municipality"],
        **route,
    }
    corrected = _corrected(action, row.suggested_relevant, suggested, final)
    entry = DecisionRow(
        incident_id=incident_id,
        actor=actor,
        at=now,
        action=action,
        old_labels=labels_of(row.status, row.topic, row.agency, row.municipality),
        new_labels=labels_of(NEXT[action], route["topic"], route["agency"], route["municipality"]),
        corrected=list(corrected),
        model_version=row.bundle_id,
        comment=reason,
        version=version + 1,
    )
    return apply(session, row, values, [entry], clock)


def decisions_of(session: Session, incident_id: int) -> list[Decision]:
    """The incident's audit log, oldest first."""
    rows = session.scalars(
        select(DecisionRow).where(DecisionRow.incident_id == incident_id).order_by(DecisionRow.id)
    )
    return [
        Decision(r.id, r.incident_id, r.actor, r.at, r.action, r.old_labels, r.new_labels, tuple(r.corrected),
                 r.model_version, r.comment, r.version)
        for r in rows
    ]


def _check_fields(action: str, labels: Labels, reason: str | None) -> None:
    given = labels.given()
    if action == "correct" and not given:
        raise InvalidDecision("'correct' needs at least one of topic, agency, municipality; "
                              "to keep the suggestions as they are, use 'accept'")
    if action != "correct" and given:
        raise InvalidDecision(f"{action!r} takes no labels ({', '.join(given)} given); to change them, use 'correct'")
    if action in ("dismiss", "reassign") and not (reason and reason.strip()):
        raise InvalidDecision(f"{action!r} needs a reason")


def _check_codes(
    labels: Labels, region: str, taxonomy: Taxonomy | None, regions: Mapping[str, Region] | None
) -> None:
    try:
        if taxonomy is not None:
            if labels.topic is not None:
                taxonomy.check_topic(labels.topic, "topic")
            if labels.agency is not None:
                taxonomy.check_agency(labels.agency, "agency")
        if regions is not None and labels.municipality is not None and region in regions:
            known = [m.oktmo for m in regions[region].municipalities]
            if labels.municipality not in known:
                raise ValueError(f"municipality: {labels.municipality!r} is not an OKTMO code of {region}; "
                                 f"known: {', '.join(known)}")
    except ValueError as exc:
        raise InvalidDecision(str(exc)) from None


def load(session: Session, incident_id: int) -> tuple[IncidentRow, PostRow]:
    """The incident's row as it is now (not as this session last saw it) and its post."""
    found = session.execute(
        with_post().where(IncidentRow.id == incident_id).execution_options(populate_existing=True)
    ).one_or_none()
    if found is None:
        raise IncidentNotFound(incident_id)
    return found[0], found[1]


def apply(session: Session, row: IncidentRow, values: dict[str, Any], entries: list[Any], clock: Clock) -> Incident:
    """Move `row` to `values` if nobody changed it since it was read, and add `entries` (the log
    entry, a response), in one transaction; a Conflict when someone was faster. Commits."""
    read = row.version  # the row object is refreshed below when someone was faster
    try:
        # The status is in the condition too: a row changed without a version bump still cannot
        # take an action its status does not allow.
        result = session.execute(
            update(IncidentRow)
            .where(IncidentRow.id == row.id, IncidentRow.version == read, IncidentRow.status == row.status)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            session.rollback()
            raise Conflict(get_incident(session, row.id, clock), read)
        session.add_all(entries)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return get_incident(session, row.id, clock)


def labels_of(status: str, topic: str | None, agency: str | None, municipality: str | None) -> dict[str, Any]:
    return {"status": status, "topic": topic, "agency": agency, "municipality": municipality}


def _corrected(
    action: str, suggested_relevant: bool, suggested: dict[str, Any], final: dict[str, Any] | None
) -> tuple[str, ...]:
    """The model heads the decision overrules: the feedback label says which ones to learn from."""
    if action == "dismiss":
        return ("relevance",) if suggested_relevant else ()
    if action not in ("accept", "correct") or final is None:
        return ()
    heads = () if suggested_relevant else ("relevance",)
    return heads + tuple(head for head in HEADS if final[head] != suggested[head])

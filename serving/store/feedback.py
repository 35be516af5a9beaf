"""Feedback labels: triage decisions as training examples in the corpus's JSONL shape.

Each accept, correct or dismiss is a label; when an incident was decided more than once (routed,
reassigned, corrected) only its latest decision counts, and an incident whose latest decision is a
reassignment has no label until it is decided again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from serving.store.lifecycle import LABELLING
from serving.store.tables import DecisionRow, IncidentRow, PostRow


def export_feedback(session: Session, since: datetime | None = None) -> list[dict[str, Any]]:
    """Corpus rows (id, text, relevant, topic, agency, municipality, network, split) with where the
    label came from (region, who, at, bundle, corrected heads, incident, decision), oldest first;
    `since` keeps the labels decided at or after it."""
    latest = (
        select(func.max(DecisionRow.id))
        .where(DecisionRow.action.in_((*LABELLING, "reassign")))
        .group_by(DecisionRow.incident_id)
    )
    query = (
        select(DecisionRow, IncidentRow.region, PostRow.text, PostRow.network)
        .join(IncidentRow, IncidentRow.id == DecisionRow.incident_id)
        .join(PostRow, PostRow.id == IncidentRow.post_id)
        .where(DecisionRow.id.in_(latest), DecisionRow.action.in_(LABELLING))
        .order_by(DecisionRow.id)
    )
    if since is not None:
        query = query.where(DecisionRow.at >= since)
    return [_row(d, region, text, network) for d, region, text, network in session.execute(query)]


def _row(d: DecisionRow, region: str, text: str, network: str) -> dict[str, Any]:
    relevant = d.action != "dismiss"
    labels = d.new_labels
    return {
        "id": f"feedback-{d.incident_id}",
        "text": text,
        "relevant": relevant,
        "topic": labels["topic"] if relevant else None,
        "agency": labels["agency"] if relevant else None,
        "municipality": labels["municipality"] if relevant else None,
        "network": network,
        "split": "train",
        "region": region,
        "who": d.actor,
        "at": d.at.isoformat(),
        "bundle": d.model_version,
        "corrected": list(d.corrected),
        "incident": d.incident_id,
        "decision": d.id,
    }

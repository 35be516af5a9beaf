"""Feedback labels: every accept, correct and dismiss, exported as corpus rows training can read."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from serving.store import Labels, ManualClock, decide, export_feedback, respond
from tests.serving.store.conftest import FIRE, GARBAGE, HEATING, POTHOLE, Db, post
from training.corpus import parse_row


def test_each_decided_incident_is_one_training_example(db: Db, clock: ManualClock, ingest: Any) -> None:
    pothole, heating, garbage, fire = (
        r.incident_id
        for r in ingest([post("-1_1", POTHOLE), post("-1_2", HEATING), post("-1_3", GARBAGE),
                         post("-1_4", FIRE, network="telegram")]).incidents
    )
    decided_at = clock.advance(timedelta(hours=2))
    with db.session() as s:
        decide(s, pothole, "accept", 1, "admin.perm", clock)
        respond(s, pothole, "Отремонтируем", None, "agency.perm", clock)  # not a label
        decide(s, heating, "correct", 1, "admin.perm", clock, labels=Labels(topic="housing", municipality="57701000"))
        decide(s, garbage, "dismiss", 1, "admin.berezniki", clock, reason="реклама вывоза мусора")
        decide(s, fire, "accept", 1, "admin.perm", clock)
        rows = export_feedback(s)

    assert [r["incident"] for r in rows] == [pothole, heating, garbage, fire]
    first = rows[0]
    assert first == {
        "id": f"feedback-{pothole}", "text": POTHOLE, "relevant": True, "topic": "roads", "agency": "municipality",
        "municipality": "57701000", "network": "vk", "split": "train", "region": "perm-krai", "who": "admin.perm",
        "at": decided_at.isoformat(), "bundle": "fake-bundle-1", "corrected": [], "incident": pothole,
        "decision": first["decision"],
    }
    assert (rows[1]["municipality"], rows[1]["corrected"]) == ("57701000", ["municipality"])
    assert (rows[2]["relevant"], rows[2]["topic"], rows[2]["who"], rows[2]["corrected"]) == (
        False, None, "admin.berezniki", ["relevance"]
    )
    assert (rows[3]["network"], rows[3]["corrected"]) == ("telegram", ["relevance"])
    for row in rows:  # the corpus reader takes them as they are
        example = parse_row(row, "feedback")
        assert (example.text, example.relevant, example.topic) == (row["text"], row["relevant"], row["topic"])


def test_only_the_latest_decision_counts_and_a_reassigned_incident_waits(db: Db, clock: ManualClock,
                                                                        ingest: Any) -> None:
    (r,) = ingest([post("-1_1", POTHOLE)]).incidents
    with db.session() as s:
        decide(s, r.incident_id, "accept", 1, "admin.perm", clock)
        assert len(export_feedback(s)) == 1
        decide(s, r.incident_id, "reassign", 2, "agency.perm", clock, reason="не наша дорога, краевая")
        assert export_feedback(s) == []
        clock.advance(timedelta(hours=1))
        decide(s, r.incident_id, "correct", 3, "admin.perm", clock, labels=Labels(agency="transport_ministry"))
        (row,) = export_feedback(s)
        assert (row["agency"], row["corrected"]) == ("transport_ministry", ["agency"])
        assert export_feedback(s, since=clock.now()) == [row]
        assert export_feedback(s, since=clock.now() + timedelta(seconds=1)) == []

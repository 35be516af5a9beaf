"""What the ML jobs read from the store (serving/traffic.py), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from serving.store import Labels, ManualClock, decide, export_feedback, get_incident
from serving.traffic import decision_log, read_feedback, recent_predictions, store_session, unlabelled_posts
from tests.serving.store.conftest import AD, GARBAGE, HEATING, POTHOLE, T0, Db, post


def triage(db: Db, ingest: Any, clock: ManualClock) -> dict[str, int]:
    """Four posts: a pothole accepted, heating corrected a week later, garbage left undecided, an ad
    (scored, not a complaint)."""
    result = ingest([post("1", POTHOLE), post("2", HEATING), post("3", GARBAGE), post("4", AD)])
    ids = {reg.post.external_id: reg.incident_id for reg in result.incidents}
    with db.session() as s:
        decide(s, ids["1"], "accept", 1, "admin", clock)
        clock.advance(timedelta(days=7))
        decide(s, ids["2"], "correct", 1, "admin", clock, Labels(agency="municipality"))
        routed = get_incident(s, ids["1"], clock)
        decide(s, ids["1"], "reassign", routed.version, "admin", clock, reason="не то ведомство")
    return ids


def test_feedback_is_the_stores_export(db: Db, ingest: Any, clock: ManualClock) -> None:
    triage(db, ingest, clock)
    with db.session() as s:
        expected = export_feedback(s)
    rows = read_feedback(db.url)
    assert rows == expected and [r["id"].split("-")[0] for r in rows] == ["feedback"]  # reassigned: no label
    assert read_feedback(db.url, since=T0 + timedelta(days=1)) == expected


def test_no_store_has_no_feedback_and_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "none.db"
    assert read_feedback(f"sqlite:///{missing}") == [] and not missing.exists()
    empty = tmp_path / "empty.db"
    empty.touch()
    assert read_feedback(f"sqlite:///{empty}") == []


def test_decisions_predictions_and_unlabelled_posts(db: Db, ingest: Any, clock: ManualClock) -> None:
    triage(db, ingest, clock)
    with store_session(db.url) as s:
        log = decision_log(s, T0 - timedelta(days=1), clock.now() + timedelta(seconds=1))
        assert [(at - T0, corrected) for at, corrected in log] == [
            (timedelta(0), []), (timedelta(days=7), ["agency"])]  # the reassignment is not a label
        assert decision_log(s, T0 + timedelta(days=1), clock.now() + timedelta(seconds=1))[0][1] == ["agency"]
        predictions = recent_predictions(s, T0, T0 + timedelta(seconds=1))
        assert sorted(p["topic"]["label"] for p in predictions) == ["housing", "other", "roads", "waste"]
        assert recent_predictions(s, T0 + timedelta(seconds=1), clock.now()) == []
        # the pothole was decided (then sent back to the queue, where people will decide it again)
        assert sorted(p.id for p in unlabelled_posts(s, 10)) == ["vk:3", "vk:4"]
        assert len(unlabelled_posts(s, 1)) == 1

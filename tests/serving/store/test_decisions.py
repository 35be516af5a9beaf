"""Triage decisions: what each action does, optimistic concurrency, illegal transitions, the audit log."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from threading import Barrier
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from model.region import Region
from model.taxonomy import Taxonomy
from serving.store import (
    Conflict,
    IllegalTransition,
    Incident,
    IncidentNotFound,
    InvalidDecision,
    Labels,
    ManualClock,
    Route,
    decide,
    decisions,
    decisions_of,
    get_incident,
    respond,
)
from serving.store.tables import DecisionRow
from tests.serving.store.conftest import FIRE, HEATING, POTHOLE, Db, post


@pytest.fixture
def pothole(ingest: Any, db: Db, clock: ManualClock) -> Incident:
    """A new incident: roads, municipality, Пермь (57701000)."""
    (registration,) = ingest([post("-1_1", POTHOLE)]).incidents
    clock.advance(timedelta(minutes=30))
    with db.session() as s:
        return get_incident(s, registration.incident_id, clock)


def run(db: Db, clock: ManualClock, incident: Incident, action: str, version: int | None = None,
        **kwargs: Any) -> Incident:
    with db.session() as s:
        return decide(s, incident.id, action, incident.version if version is None else version, "admin.perm",
                      clock, **kwargs)


def test_accept_routes_the_suggestion_as_it_is(db: Db, clock: ManualClock, pothole: Incident) -> None:
    routed = run(db, clock, pothole, "accept")
    assert (routed.status, routed.version) == ("routed", 2)
    assert routed.final == Route("roads", "municipality", "57701000")
    assert routed.deadline == pothole.deadline  # triage does not move the deadline

    with db.session() as s:
        (entry,) = decisions_of(s, pothole.id)
    assert (entry.action, entry.actor, entry.at, entry.version, entry.model_version) == (
        "accept", "admin.perm", clock.now(), 2, "fake-bundle-1"
    )
    assert entry.old_labels == {"status": "new", "topic": "roads", "agency": "municipality", "municipality": "57701000"}
    assert entry.new_labels == {**entry.old_labels, "status": "routed"}
    assert entry.corrected == ()


@pytest.mark.parametrize(
    ("labels", "final", "corrected"),
    [
        (Labels(agency="transport_ministry"), Route("roads", "transport_ministry", "57701000"), ("agency",)),
        (Labels(topic="improvement", municipality="57708000"), Route("improvement", "municipality", "57708000"),
         ("topic", "municipality")),
        (Labels(topic="roads"), Route("roads", "municipality", "57701000"), ()),  # confirmed, not corrected
    ],
)
def test_correct_changes_any_subset_of_the_labels(db: Db, clock: ManualClock, pothole: Incident, labels: Labels,
                                                 final: Route, corrected: tuple[str, ...]) -> None:
    routed = run(db, clock, pothole, "correct", labels=labels)
    assert routed.status == "routed" and routed.final == final
    assert routed.suggested == pothole.suggested  # what the model said stays on record
    with db.session() as s:
        (entry,) = decisions_of(s, pothole.id)
    assert entry.corrected == corrected
    assert entry.new_labels == {"status": "routed", "topic": final.topic, "agency": final.agency,
                                "municipality": final.municipality}


def test_dismiss_closes_with_a_reason_and_corrects_relevance(db: Db, clock: ManualClock, pothole: Incident) -> None:
    dismissed = run(db, clock, pothole, "dismiss", reason="не жалоба: новость о ремонте")
    assert (dismissed.status, dismissed.final, dismissed.overdue) == ("dismissed", None, False)
    with db.session() as s:
        (entry,) = decisions_of(s, pothole.id)
    assert entry.comment == "не жалоба: новость о ремонте" and entry.corrected == ("relevance",)


def test_accepting_an_always_registered_post_corrects_relevance(ingest: Any, db: Db, clock: ManualClock) -> None:
    (registration,) = ingest([post("-1_9", FIRE)]).incidents
    with db.session() as s:
        fire = get_incident(s, registration.incident_id, clock)
        decide(s, fire.id, "accept", 1, "admin.perm", clock)
        assert decisions_of(s, fire.id)[0].corrected == ("relevance",)


def test_reassign_sends_a_routed_incident_back_to_the_queue(db: Db, clock: ManualClock, pothole: Incident) -> None:
    routed = run(db, clock, pothole, "correct", labels=Labels(agency="housing_inspection"))
    back = run(db, clock, routed, "reassign", reason="Госжилнадзор: дороги не наши")
    assert (back.status, back.version, back.final) == ("new", 3, None)
    again = run(db, clock, back, "correct", labels=Labels(agency="transport_ministry"))
    assert again.final == Route("roads", "transport_ministry", "57701000") and again.version == 4
    with db.session() as s:
        assert [d.action for d in decisions_of(s, pothole.id)] == ["correct", "reassign", "correct"]


def test_twenty_concurrent_decisions_have_one_winner_and_nineteen_conflicts(
    db: Db, clock: ManualClock, pothole: Incident
) -> None:
    n = 20
    barrier = Barrier(n)
    actions = [("accept", Labels()), ("correct", Labels(agency="transport_ministry"))] * (n // 2)

    def attempt(i: int) -> Incident | Conflict:
        action, labels = actions[i]
        with db.session() as s:
            barrier.wait()  # all of them read version 1 before anyone writes
            try:
                return decide(s, pothole.id, action, 1, f"admin-{i}", clock, labels=labels)
            except Conflict as exc:
                return exc

    with ThreadPoolExecutor(n) as pool:
        outcomes = list(pool.map(attempt, range(n)))

    winners = [o for o in outcomes if isinstance(o, Incident)]
    conflicts = [o for o in outcomes if isinstance(o, Conflict)]
    assert (len(winners), len(conflicts)) == (1, 19)
    (winner,) = winners
    for conflict in conflicts:
        assert conflict.version == 1
        assert conflict.current.version == 2 and conflict.current.status == "routed"
        assert conflict.current.final == winner.final  # the loser sees what the winner decided
        assert "version 2" in str(conflict) and "reload" in str(conflict)
    with db.session() as s:
        assert len(decisions_of(s, pothole.id)) == 1


def test_a_stale_version_is_a_conflict_even_when_the_action_is_allowed(db: Db, clock: ManualClock,
                                                                       pothole: Incident) -> None:
    routed = run(db, clock, pothole, "accept")
    back = run(db, clock, routed, "reassign", reason="не наше")
    with pytest.raises(Conflict) as caught:
        run(db, clock, back, "accept", version=1)
    assert caught.value.current == back


@pytest.mark.parametrize(
    ("path", "action", "allowed"),
    [
        (["accept"], "accept", ("reassign", "respond")),  # deciding twice
        (["accept"], "dismiss", ("reassign", "respond")),
        (["dismiss"], "respond", ()),  # answering a dismissed incident
        (["dismiss"], "accept", ()),
        (["accept", "respond"], "reassign", ()),
        ([], "reassign", ("accept", "correct", "dismiss")),
        ([], "respond", ("accept", "correct", "dismiss")),
    ],
)
def test_illegal_transitions_list_the_allowed_actions(db: Db, clock: ManualClock, pothole: Incident,
                                                      path: list[str], action: str,
                                                      allowed: tuple[str, ...]) -> None:
    incident = pothole
    for step in path:
        incident = _do(db, clock, incident, step)
    with pytest.raises(IllegalTransition) as caught:
        _do(db, clock, incident, action)
    assert caught.value.allowed == allowed and caught.value.action == action
    assert caught.value.current == incident
    assert (", ".join(allowed) if allowed else "closed") in str(caught.value)
    with db.session() as s:
        assert get_incident(s, incident.id, clock) == incident  # nothing changed


def _do(db: Db, clock: ManualClock, incident: Incident, action: str) -> Incident:
    if action == "respond":
        with db.session() as s:
            return respond(s, incident.id, "Яму заделают до пятницы", None, "agency.perm", clock)
    if action == "correct":
        return run(db, clock, incident, action, labels=Labels(topic="improvement"))
    return run(db, clock, incident, action, reason="причина" if action in ("dismiss", "reassign") else None)


@pytest.mark.parametrize(
    ("action", "kwargs", "message"),
    [
        ("correct", {}, "needs at least one of topic, agency, municipality"),
        ("accept", {"labels": Labels(topic="roads")}, "takes no labels"),
        ("dismiss", {}, "needs a reason"),
        ("reassign", {"reason": "  "}, "needs a reason"),
        ("answer", {}, "unknown action 'answer'"),
    ],
)
def test_decisions_that_do_not_fit_their_action_are_refused(db: Db, clock: ManualClock, pothole: Incident,
                                                            action: str, kwargs: dict[str, Any],
                                                            message: str) -> None:
    with pytest.raises(InvalidDecision, match=message):
        run(db, clock, pothole, action, **kwargs)
    assert db.count("decisions") == 0


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (Labels(topic="potholes"), "unknown topic 'potholes'"),
        (Labels(agency="mayor"), "unknown agency 'mayor'"),
        (Labels(municipality="65701000"), "'65701000' is not an OKTMO code of perm-krai"),  # Екатеринбург
    ],
)
def test_corrections_to_unknown_codes_are_refused(db: Db, clock: ManualClock, pothole: Incident, labels: Labels,
                                                  message: str, taxonomy: Taxonomy,
                                                  regions: dict[str, Region]) -> None:
    with pytest.raises(InvalidDecision, match=message):
        run(db, clock, pothole, "correct", labels=labels, taxonomy=taxonomy, regions=regions)
    assert db.count("decisions") == 0


def test_an_unknown_incident_is_not_found(db: Db, clock: ManualClock) -> None:
    with db.session() as s, pytest.raises(IncidentNotFound, match="no incident 404"):
        decide(s, 404, "accept", 1, "admin.perm", clock)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE decisions SET actor = 'someone else'",
        "UPDATE decisions SET new_labels = old_labels WHERE id = 1",
        "DELETE FROM decisions",
        "DELETE FROM decisions WHERE id = 1",
    ],
)
def test_the_audit_log_cannot_be_updated_or_deleted(db: Db, clock: ManualClock, ingest: Any, pothole: Incident,
                                                    statement: str) -> None:
    run(db, clock, pothole, "accept")
    with db.engine.connect() as conn, pytest.raises(DBAPIError, match="append-only"):
        conn.execute(text(statement))
    with db.session() as s:
        (entry,) = decisions_of(s, pothole.id)
    assert entry.actor == "admin.perm" and entry.new_labels["status"] == "routed"


def test_the_audit_log_cannot_be_truncated_on_postgresql(db: Db, clock: ManualClock, pothole: Incident) -> None:
    if db.dialect != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    run(db, clock, pothole, "accept")
    with db.engine.connect() as conn, pytest.raises(DBAPIError, match="append-only"):
        conn.execute(text("TRUNCATE decisions CASCADE"))
    assert db.count("decisions") == 1


def test_a_decision_and_its_log_entry_are_one_transaction(db: Db, clock: ManualClock, ingest: Any,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    (registration,) = ingest([post("-1_4", HEATING)]).incidents
    with db.session() as s:
        incident = get_incident(s, registration.incident_id, clock)
    # a log entry the database refuses (its action breaks the check constraint) ...
    monkeypatch.setattr(decisions, "DecisionRow", lambda **kw: DecisionRow(**{**kw, "action": "bogus"}))
    with pytest.raises(DBAPIError):
        run(db, clock, incident, "accept")
    # ... undoes the decision as well
    with db.session() as s:
        assert get_incident(s, incident.id, clock) == incident
    assert db.count("decisions") == 0

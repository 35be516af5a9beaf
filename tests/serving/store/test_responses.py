"""The agency's answer and the 24-hour SLA, on a clock the test moves by hand."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from serving.store import (
    IllegalTransition,
    Incident,
    ManualClock,
    QueueFilter,
    decide,
    decisions_of,
    get_incident,
    queue,
    respond,
    responses_of,
    set_postback,
)
from tests.serving.store.conftest import POTHOLE, SLA, Db, post

ANSWER = "Здравствуйте! Ремонт ямы на ул. Репина включён в план, срок — до 5 декабря."


@pytest.fixture
def routed(ingest: Any, db: Db, clock: ManualClock) -> Incident:
    (registration,) = ingest([post("-1_1", POTHOLE)]).incidents
    with db.session() as s:
        return decide(s, registration.incident_id, "accept", 1, "admin.perm", clock)


def answer(db: Db, clock: ManualClock, incident: Incident) -> Incident:
    with db.session() as s:
        return respond(s, incident.id, ANSWER, "https://vk.com/wall-1_1?reply=7", "agency.perm", clock)


@pytest.mark.parametrize(
    ("after", "sla_met"),
    [
        (timedelta(hours=2), True),
        (SLA, True),  # answered_at == deadline still meets it
        (SLA + timedelta(seconds=1), False),
        (timedelta(days=3), False),
    ],
)
def test_an_answer_closes_the_incident_and_settles_the_sla(db: Db, clock: ManualClock, routed: Incident,
                                                           after: timedelta, sla_met: bool) -> None:
    clock.set(routed.registered_at + after)
    answered = answer(db, clock, routed)
    assert (answered.status, answered.answered_at, answered.sla_met) == ("answered", clock.now(), sla_met)
    assert answered.version == routed.version + 1
    assert answered.overdue is False  # answered, late or not, is no longer overdue
    with db.session() as s:
        (response,) = responses_of(s, routed.id)
        log = decisions_of(s, routed.id)
    assert (response.text, response.url, response.actor, response.postback_status) == (
        ANSWER, "https://vk.com/wall-1_1?reply=7", "agency.perm", "pending"
    )
    assert [d.action for d in log] == ["accept", "respond"]


def test_answering_twice_is_illegal(db: Db, clock: ManualClock, routed: Incident) -> None:
    answer(db, clock, routed)
    with pytest.raises(IllegalTransition, match="closed"):
        answer(db, clock, routed)


def test_an_empty_answer_is_refused(db: Db, clock: ManualClock, routed: Incident) -> None:
    with db.session() as s, pytest.raises(ValueError, match="empty"):
        respond(s, routed.id, "  ", None, "agency.perm", clock)


def test_postback_status_is_recorded(db: Db, clock: ManualClock, routed: Incident) -> None:
    answer(db, clock, routed)
    with db.session() as s:
        (response,) = responses_of(s, routed.id)
        set_postback(s, response.id, "failed", clock, error="VK API: access denied")
        (response,) = responses_of(s, routed.id)
        assert (response.postback_status, response.postback_error) == ("failed", "VK API: access denied")
        with pytest.raises(ValueError, match="one of pending, posted, failed, skipped"):
            set_postback(s, response.id, "lost", clock)


def test_overdue_follows_the_clock_with_no_job_running(db: Db, clock: ManualClock, ingest: Any) -> None:
    registrations = ingest([post("-1_1", POTHOLE), post("-1_2", POTHOLE + " снова")]).incidents
    first, second = (r.incident_id for r in registrations)

    def overdue_ids() -> list[int]:
        with db.session() as s:
            return [i.id for i in queue(s, clock, QueueFilter(overdue=True)).items]

    def on_time_ids() -> list[int]:
        with db.session() as s:
            return [i.id for i in queue(s, clock, QueueFilter(overdue=False)).items]

    clock.advance(SLA - timedelta(microseconds=1))
    assert overdue_ids() == [] and on_time_ids() == [first, second]
    clock.advance(timedelta(microseconds=1))
    assert overdue_ids() == []  # deadline < now, not <=: at the deadline itself it is still on time
    clock.advance(timedelta(microseconds=1))
    assert overdue_ids() == [first, second]
    with db.session() as s:
        assert get_incident(s, first, clock).overdue is True
        decide(s, first, "accept", 1, "admin.perm", clock)
        assert get_incident(s, first, clock).overdue is True  # routed late is still open and late
        respond(s, first, ANSWER, None, "agency.perm", clock)
        late = get_incident(s, first, clock)
        decide(s, second, "dismiss", 1, "admin.perm", clock, reason="дубль")
    assert (late.overdue, late.sla_met) == (False, False)
    assert overdue_ids() == [] and on_time_ids() == [first, second]


def test_times_are_utc_on_the_wire_and_in_the_region_zone_on_request(db: Db, clock: ManualClock,
                                                                     routed: Incident) -> None:
    wire = routed.to_json()
    assert wire["deadline"] == "2026-11-29T05:00:00+00:00"
    local = routed.to_json(ZoneInfo("Asia/Yekaterinburg"))
    assert local["deadline"] == "2026-11-29T10:00:00+05:00"
    assert local["post"]["published_at"] == "2026-11-28T10:00:00+05:00"

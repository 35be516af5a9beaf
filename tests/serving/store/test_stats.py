"""Statistics on a hand-made history of six incidents whose counters are worked out by hand below,
on SQLite and PostgreSQL (the two compute percentiles differently and must agree)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event

from serving.store import Labels, ManualClock, decide, get_incident, respond
from serving.store.stats import GROUPS, StatsRow, compute_stats
from tests.serving.store.conftest import FIRE, GARBAGE, HEATING, T0, Db, post

H = timedelta(hours=1)

# The history (T0 = 2026-11-28 10:00 in Perm, UTC+5; deadline = registered + 24 h):
#   p1 pothole  registered T0      accepted             answered T0+4h   (4 h, in time)
#   p2 heating  registered T0      agency corrected     answered T0+30h  (30 h, late)
#   p3 garbage  registered T0      dismissed
#   p6 pothole  registered T0+2h   municipality corrected, answered T0+12h (10 h, in time)
#   p4 pothole  registered T0+16h  accepted, never answered: overdue at T0+48h  (Perm 11-29 02:00 = UTC 11-28 21:00)
#   p5 fire     registered T0+47h  new                                        (Perm 11-30 09:00)
# The statistics are read at T0+48h.
NOW = T0 + 48 * H


@pytest.fixture
def history(db: Db, ingest: Any, clock: ManualClock) -> dict[str, int]:
    ids: dict[str, int] = {}

    def register(name: str, text: str) -> None:
        result = ingest([post(name, text)])
        ids[name] = result.incidents[0].incident_id

    def act(name: str, action: str, **kwargs: Any) -> None:
        with db.session() as session:
            version = get_incident(session, ids[name], clock).version
            decide(session, ids[name], action, version, "admin", clock, **kwargs)

    def answer(name: str) -> None:
        with db.session() as session:
            respond(session, ids[name], "Исправим", None, "agency", clock)

    register("p1", "На Гайве огромная яма на дороге")
    register("p2", HEATING)
    register("p3", GARBAGE)
    clock.set(T0 + H)
    act("p1", "accept")
    act("p2", "correct", labels=Labels(agency="municipality"))
    act("p3", "dismiss", reason="реклама")
    clock.set(T0 + 2 * H)
    register("p6", "Яма во дворе на Островского, колесо пробил")
    act("p6", "correct", labels=Labels(municipality="57708000"))
    clock.set(T0 + 4 * H)
    answer("p1")
    clock.set(T0 + 12 * H)
    answer("p6")
    clock.set(T0 + 16 * H)
    register("p4", "Яма на Комсомольском проспекте, третий день объезжаем")
    clock.set(T0 + 17 * H)
    act("p4", "accept")
    clock.set(T0 + 30 * H)
    answer("p2")
    clock.set(T0 + 47 * H)
    register("p5", FIRE)
    clock.set(NOW)
    return ids


def stats(db: Db, clock: ManualClock, **kwargs: Any) -> list[StatsRow]:
    with db.session() as session:
        return compute_stats(session, clock, **kwargs)


def counters(row: StatsRow) -> tuple[int, ...]:
    return row.registered, row.answered, row.answered_in_time, row.overdue_now, row.dismissed, row.open


def test_everything_in_one_row(db: Db, clock: ManualClock, history: dict[str, int]) -> None:
    [row] = stats(db, clock, group_by="none")
    assert row.key is None
    assert counters(row) == (6, 3, 2, 1, 1, 2)
    assert row.share_in_time == pytest.approx(2 / 3)
    # answer times 4, 10, 30 h: median 10; p90 at position 0.9 * 2 = 1.8 -> 10 + 0.8 * (30 - 10) = 26
    assert row.median_hours_to_answer == pytest.approx(10)
    assert row.p90_hours_to_answer == pytest.approx(26)
    # decided: p1, p2, p4, p6 (p3 was dismissed); p2's agency and p6's municipality were changed
    assert row.accepted_unchanged == {"topic": 1.0, "agency": 0.75, "municipality": 0.75}
    assert row.to_json() == {
        "key": None, "registered": 6, "answered": 3, "answered_in_time": 2, "overdue_now": 1, "dismissed": 1,
        "open": 2, "share_in_time": row.share_in_time, "median_hours_to_answer": row.median_hours_to_answer,
        "p90_hours_to_answer": row.p90_hours_to_answer, "accepted_unchanged": row.accepted_unchanged,
    }


def test_overdue_follows_the_clock(db: Db, clock: ManualClock, history: dict[str, int]) -> None:
    clock.set(T0 + 39 * H)  # p4's deadline is T0+40h
    assert stats(db, clock, group_by="none")[0].overdue_now == 0
    clock.set(T0 + 72 * H)  # p5's deadline (T0+71h) has passed too
    assert stats(db, clock, group_by="none")[0].overdue_now == 2


def test_by_agency(db: Db, clock: ManualClock, history: dict[str, int]) -> None:
    rows = {row.key: row for row in stats(db, clock, group_by="agency")}
    assert list(rows) == ["municipality", "safety_ministry", "waste_operator"]
    municipal = rows["municipality"]  # p1, p2 (corrected to it), p4, p6
    assert counters(municipal) == (4, 3, 2, 1, 0, 1)
    assert municipal.accepted_unchanged == {"topic": 1.0, "agency": 0.75, "municipality": 0.75}
    assert counters(rows["waste_operator"]) == (1, 0, 0, 0, 1, 0)
    assert rows["waste_operator"].share_in_time is None
    assert rows["waste_operator"].median_hours_to_answer is None
    assert rows["waste_operator"].accepted_unchanged == {"topic": None, "agency": None, "municipality": None}
    assert counters(rows["safety_ministry"]) == (1, 0, 0, 0, 0, 1)


def test_by_municipality_puts_unknown_last(db: Db, clock: ManualClock, history: dict[str, int]) -> None:
    rows = stats(db, clock, group_by="municipality")
    assert [row.key for row in rows] == ["57701000", "57708000", None]
    perm, berezniki, unknown = rows
    assert counters(perm) == (2, 1, 1, 1, 0, 1)  # p1, p4
    assert perm.median_hours_to_answer == pytest.approx(4)
    assert counters(berezniki) == (2, 2, 1, 0, 0, 0)  # p2 (30 h), p6 (10 h)
    assert berezniki.median_hours_to_answer == pytest.approx(20)
    assert berezniki.p90_hours_to_answer == pytest.approx(28)
    assert counters(unknown) == (2, 0, 0, 0, 1, 1)  # p3, p5


def test_by_topic_and_region(db: Db, clock: ManualClock, history: dict[str, int]) -> None:
    topics = {row.key: row.registered for row in stats(db, clock, group_by="topic")}
    assert topics == {"roads": 3, "housing": 1, "waste": 1, "safety": 1}
    [perm] = stats(db, clock, group_by="region")
    assert (perm.key, perm.registered) == ("perm-krai", 6)


def test_days_in_the_region_zone(db: Db, clock: ManualClock, history: dict[str, int]) -> None:
    days = stats(db, clock, group_by="day")  # p4, registered at 21:00 UTC, is on Perm's 11-29
    assert {row.key: row.registered for row in days} == {"2026-11-28": 4, "2026-11-29": 1, "2026-11-30": 1}
    assert [(row.median_hours_to_answer, row.p90_hours_to_answer) for row in days] == [
        (pytest.approx(10), pytest.approx(26)), (None, None), (None, None)]
    [day] = stats(db, clock, group_by="day", since=T0 + 15 * H, until=T0 + 17 * H)
    assert (day.key, day.registered, day.overdue_now) == ("2026-11-29", 1, 1)


def test_window_and_filters(db: Db, clock: ManualClock, history: dict[str, int]) -> None:
    [row] = stats(db, clock, group_by="none", since=T0 + H, until=T0 + 47 * H)  # p6, p4
    assert counters(row) == (2, 1, 1, 1, 0, 1)
    assert row.median_hours_to_answer == pytest.approx(10)
    [row] = stats(db, clock, group_by="none", agency="municipality", municipality="57708000")  # p2, p6
    assert counters(row) == (2, 2, 1, 0, 0, 0)
    # an agency's scope: routed and answered only (p1, p2, p4, p6; not p5, new, nor p3, dismissed)
    for group_by in ("none", "agency", "day"):
        [row] = stats(db, clock, group_by=group_by, since=T0, until=T0 + 8 * H, agency="municipality",
                      statuses=("routed", "answered"))  # p1, p2, p6
        assert counters(row) == (3, 3, 2, 0, 0, 0)
        assert (row.median_hours_to_answer, row.p90_hours_to_answer) == (pytest.approx(10), pytest.approx(26))


def test_answer_times_of_incidents_without_a_municipality(db: Db, ingest: Any, clock: ManualClock) -> None:
    ids = []
    for n, hours in enumerate((2, 6, 3)):  # garbage: no municipality
        clock.set(T0)
        [registered] = ingest([post(f"g{n}", f"{GARBAGE} номер {n}")]).incidents
        ids.append(registered.incident_id)
        with db.session() as session:
            decide(session, ids[-1], "accept", 1, "admin", clock)
            clock.set(T0 + hours * H)
            respond(session, ids[-1], "Вывезли", None, "agency", clock)
    [row] = stats(db, clock, group_by="municipality")
    assert (row.key, row.answered) == (None, 3)
    assert (row.median_hours_to_answer, row.p90_hours_to_answer) == (pytest.approx(3), pytest.approx(5.4))


@pytest.mark.parametrize("group_by", GROUPS)
def test_nothing_outside_the_scope(db: Db, clock: ManualClock, history: dict[str, int], group_by: str) -> None:
    rows = stats(db, clock, group_by=group_by, region="sverdlovsk-oblast")
    if group_by == "none":
        [row] = rows
        assert counters(row) == (0, 0, 0, 0, 0, 0)
        assert (row.share_in_time, row.median_hours_to_answer, row.p90_hours_to_answer) == (None, None, None)
    else:
        assert rows == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"group_by": "week"}, "group_by must be one of"),
        ({"group_by": "none", "since": T0, "until": T0}, "must be before until"),
    ],
)
def test_bad_arguments(db: Db, clock: ManualClock, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        stats(db, clock, **kwargs)


def test_an_answer_between_the_two_sqlite_queries_is_not_half_seen(
    db: Db, clock: ManualClock, history: dict[str, int]
) -> None:
    """SQLite reads the counters and the answer times in two queries: one snapshot serves both."""
    if db.dialect != "sqlite":
        pytest.skip("PostgreSQL computes everything in one query")
    answered_meanwhile: list[Any] = []

    def answer_p4(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if "AS registered" in statement and not answered_meanwhile:
            writer = ManualClock(T0 + 16.5 * H)  # p4 answered after half an hour: the fastest answer
            with db.session() as other:
                answered_meanwhile.append(respond(other, history["p4"], "Заделали", None, "agency", writer))

    event.listen(db.engine, "after_cursor_execute", answer_p4)
    try:
        [row] = stats(db, clock, group_by="none")
    finally:
        event.remove(db.engine, "after_cursor_execute", answer_p4)
    assert answered_meanwhile
    assert (row.answered, row.median_hours_to_answer) == (3, pytest.approx(10))  # as before the answer
    [row] = stats(db, clock, group_by="none")
    assert (row.answered, row.median_hours_to_answer) == (4, pytest.approx(7))  # 0.5, 4, 10, 30 h

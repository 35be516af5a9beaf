"""The administrator's queue: filters, orderings and cursor pagination."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from serving.store import InvalidCursor, Labels, ManualClock, QueueFilter, decide, queue
from serving.store.queue import encode_cursor
from tests.serving.store.conftest import FIRE, GARBAGE, HEATING, POTHOLE, Db, post

# text, region; registered one hour apart, so the deadlines follow this order
FIXTURE = [
    (POTHOLE, "perm-krai"),  # roads · municipality · 57701000 · uncertainty 0.23
    (HEATING, "perm-krai"),  # housing · housing_inspection · 57708000 · needs review · 0.42
    (GARBAGE, "perm-krai"),  # waste · waste_operator · 0.29
    (FIRE, "perm-krai"),  # safety · safety_ministry · 0.5
    (POTHOLE, "sverdlovsk-oblast"),
]


@pytest.fixture
def ids(ingest: Any, clock: ManualClock) -> list[int]:
    out = []
    for n, (text, region) in enumerate(FIXTURE):
        out += [r.incident_id for r in ingest([post(f"-5_{n}", text, region=region)]).incidents]
        clock.advance(timedelta(hours=1))
    return out


def listed(db: Db, clock: ManualClock, order: str = "deadline", **filters: Any) -> list[int]:
    with db.session() as s:
        return [i.id for i in queue(s, clock, QueueFilter(**filters), order=order).items]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, [0, 1, 2, 3, 4]),
        ({"region": "sverdlovsk-oblast"}, [4]),
        ({"region": "perm-krai", "topic": "roads"}, [0]),
        ({"agency": "housing_inspection"}, [1]),
        ({"municipality": "57708000"}, [1]),
        ({"needs_review": True}, [1]),
        ({"needs_review": False, "region": "perm-krai"}, [0, 2, 3]),
        ({"status": ("new",)}, [0, 1, 2, 3, 4]),
        ({"status": ("routed", "answered")}, []),
        ({"overdue": True}, []),
    ],
)
def test_filters(db: Db, clock: ManualClock, ids: list[int], filters: dict[str, Any], expected: list[int]) -> None:
    assert listed(db, clock, **filters) == [ids[i] for i in expected]


def test_filters_follow_the_final_labels_once_decided(db: Db, clock: ManualClock, ids: list[int]) -> None:
    with db.session() as s:
        decide(s, ids[0], "correct", 1, "admin.perm", clock, labels=Labels(agency="transport_ministry"))
    assert listed(db, clock, agency="transport_ministry") == [ids[0]]
    assert listed(db, clock, agency="municipality") == [ids[4]]
    assert listed(db, clock, status=("new",)) == [ids[1], ids[2], ids[3], ids[4]]


def test_order_by_uncertainty_puts_the_least_sure_first(db: Db, clock: ManualClock, ids: list[int]) -> None:
    assert listed(db, clock, order="uncertainty", region="perm-krai") == [ids[3], ids[1], ids[2], ids[0]]


@pytest.mark.parametrize("order", ["deadline", "uncertainty"])
def test_cursor_pages_visit_every_incident_once_even_while_new_ones_arrive(
    db: Db, clock: ManualClock, ingest: Any, order: str
) -> None:
    texts = [POTHOLE, HEATING, GARBAGE, FIRE]
    for batch in range(5):  # equal deadlines within a batch, equal uncertainties across: ties everywhere
        ingest([post(f"-6_{batch}_{n}", f"{texts[n % 4]} дом {batch}-{n}") for n in range(5)])
        clock.advance(timedelta(minutes=7))
    with db.session() as s:
        everything = [i.id for i in queue(s, clock, order=order, limit=500).items]
        assert len(everything) == 25
        seen: list[int] = []
        page = queue(s, clock, order=order, limit=4)
        while True:
            seen += [i.id for i in page.items]
            if page.next_cursor is None:
                break
            if len(seen) == 8:  # a newcomer: the latest deadline, and the least sure of all
                ingest([post("-9_9", FIRE + " снова")])
            page = queue(s, clock, order=order, limit=4, cursor=page.next_cursor)
    assert len(seen) == len(set(seen))
    assert [i for i in seen if i in everything] == everything
    assert len(page.items) <= 4


def test_a_cursor_for_another_ordering_or_a_forged_one_is_refused(db: Db, clock: ManualClock,
                                                                 ids: list[int]) -> None:
    with db.session() as s:
        page = queue(s, clock, limit=2)
        assert page.next_cursor is not None
        with pytest.raises(InvalidCursor, match="by deadline, not by uncertainty"):
            queue(s, clock, order="uncertainty", cursor=page.next_cursor)
        for order, forged in [
            ("deadline", "not-a-cursor"),
            ("deadline", encode_cursor("deadline", "yesterday", 1)),
            ("deadline", encode_cursor("deadline", "2026-11-28T10:00:00", 1)),  # no time zone
            ("deadline", encode_cursor("deadline", "2026-11-28T10:00:00Z", "1")),  # type: ignore[arg-type]
            ("uncertainty", encode_cursor("uncertainty", "0.5", 1)),
        ]:
            with pytest.raises(InvalidCursor, match="start again"):
                queue(s, clock, order=order, cursor=forged)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"order": "newest"}, "order must be one of deadline, uncertainty"),
        ({"limit": 0}, "limit must be between 1 and 500"),
        ({"filters": QueueFilter(status=("open",))}, "unknown status"),
    ],
)
def test_bad_queue_arguments(db: Db, clock: ManualClock, kwargs: dict[str, Any], message: str) -> None:
    with db.session() as s, pytest.raises(ValueError, match=message):
        queue(s, clock, **kwargs)

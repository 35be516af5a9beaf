"""Two monitoring loops against one store (SQLite and PostgreSQL) and the fake VK over real HTTP: only the
one holding the lease works, so an answer is posted back once; the other waits (and says so once), takes
over when the lease is released or expires, and a monitor that lost the lease mid-round stops at once."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, timedelta
from typing import Any

import pytest

from model.predictor import Predictor
from serving.monitor import LEASE, Monitor, MonitorOptions, Round
from serving.store import ManualClock, acquire, decide, lease_of, queue, respond, responses_of
from serving.store.queue import QueueFilter
from tests.serving.connectors.conftest import FAST
from tests.serving.connectors.fakes import FakeVk, Request
from tests.serving.connectors.test_monitor import vk_posts, vk_source
from tests.serving.store.conftest import T0, Db

SECONDS = 60.0


@pytest.fixture
def vk() -> Iterator[FakeVk]:
    with FakeVk("tok-1", vk_posts()) as fake:
        yield fake


def monitor(db: Db, predictor: Predictor, clock: ManualClock, vk: FakeVk, holder: str) -> Monitor:
    options = MonitorOptions(backoff=FAST, postback_delay=0, lease=SECONDS)
    return Monitor([vk_source(vk)], db.sessions, predictor, clock, options, holder=holder)


def first_only(match: Callable[[Request], bool]) -> Callable[[Request], bool]:
    """`match` for the first request it accepts, for no later one (a second monitor's reply is not held)."""
    seen: list[Request] = []

    def matches(request: Request) -> bool:
        if seen or not match(request):
            return False
        seen.append(request)
        return True

    return matches


def commenting(request: Request) -> bool:
    return request.path.endswith("wall.createComment")


def answer(db: Db, clock: ManualClock, count: int) -> list[int]:
    """Accept and answer the first `count` incidents of the queue; their ids."""
    with db.session() as s:
        incidents = queue(s, clock, QueueFilter(), limit=count).items
        for incident in incidents:
            decide(s, incident.id, "accept", incident.version, "admin", clock)
            respond(s, incident.id, f"Ответ на обращение {incident.id}", None, "agency", clock)
    return [i.id for i in incidents]


def postback_status(db: Db, incident_id: int) -> str:
    with db.session() as s:
        return responses_of(s, incident_id)[0].postback_status


def in_thread(work: Callable[[], Round]) -> tuple[threading.Thread, list[Round]]:
    out: list[Round] = []
    thread = threading.Thread(target=lambda: out.append(work()))
    thread.start()
    return thread, out


def test_while_one_monitor_is_posting_an_answer_the_other_waits_and_it_is_posted_once(
    db: Db, predictor: Predictor, clock: ManualClock, vk: FakeVk
) -> None:
    first = monitor(db, predictor, clock, vk, "host-a:1:aaaaaa")
    second = monitor(db, predictor, clock, vk, "host-b:2:bbbbbb")
    assert first.round().ok
    [incident_id] = answer(db, clock, 1)
    hold = vk.hold(first_only(commenting))
    thread, out = in_thread(first.round)
    try:
        assert hold.reached.wait(30), "the first monitor never replied"
        asked = len(vk.requests)
        waiting = second.round()
        assert (waiting.lease, waiting.sources, waiting.postbacks) == ("waiting", [], {"posted": 0, "failed": 0,
                                                                                        "skipped": 0})
        assert waiting.holder is not None and waiting.holder.holder == "host-a:1:aaaaaa"
        assert waiting.holder.expires_at == T0 + timedelta(seconds=SECONDS)
        assert not waiting.ok and waiting.to_json()["holder"] == {"id": "host-a:1:aaaaaa",
                                                                 "until": waiting.holder.expires_at.isoformat()}
        assert len(vk.requests) == asked  # it asked the network nothing
    finally:
        hold.release.set()
        thread.join(30)
    [done] = out
    assert done.ok and done.postbacks == {"posted": 1, "failed": 0, "skipped": 0}
    assert len(vk.replies) == 1 and postback_status(db, incident_id) == "posted"

    assert second.round().lease == "waiting"  # the first keeps the lease between its rounds
    first.release()
    taken = second.round()
    assert taken.ok and taken.postbacks == {"posted": 0, "failed": 0, "skipped": 0}
    assert len(vk.replies) == 1


def test_two_monitors_starting_a_round_at_once_post_an_answer_once(
    db: Db, predictor: Predictor, clock: ManualClock, vk: FakeVk
) -> None:
    loops = [monitor(db, predictor, clock, vk, f"host-{i}:{i}:{i:06x}") for i in range(2)]
    assert loops[0].round().ok
    answer(db, clock, 2)
    loops[0].release()
    barrier = threading.Barrier(len(loops))

    def go(loop: Monitor) -> Round:
        barrier.wait()
        return loop.round()

    with ThreadPoolExecutor(len(loops)) as pool:
        rounds = list(pool.map(go, loops))
    assert sorted(r.lease for r in rounds) == ["held", "waiting"]
    worked, waited = sorted(rounds, key=lambda r: r.lease)
    assert worked.postbacks == {"posted": 2, "failed": 0, "skipped": 0}
    assert waited.holder is not None and waited.holder.holder == loops[rounds.index(worked)].holder
    assert len(vk.replies) == 2 and len({r["post_id"] for r in vk.replies}) == 2


def test_a_monitor_that_lost_the_lease_during_post_back_stops_posting(
    db: Db, predictor: Predictor, clock: ManualClock, vk: FakeVk
) -> None:
    stalled = monitor(db, predictor, clock, vk, "host-a:1:aaaaaa")
    assert stalled.round().ok
    answered = answer(db, clock, 2)
    hold = vk.hold(first_only(commenting))
    thread, out = in_thread(stalled.round)
    try:
        assert hold.reached.wait(30)
        clock.advance(timedelta(seconds=SECONDS + 1))  # the reply outlived the lease; another monitor takes it
        with db.session() as s:
            assert acquire(s, LEASE, "host-b:2:bbbbbb", clock, SECONDS)
    finally:
        hold.release.set()
        thread.join(30)
    [done] = out
    assert (done.lease, done.ok) == ("lost", False) and done.to_json()["lease"] == "lost"
    assert done.postbacks == {"posted": 1, "failed": 0, "skipped": 0}  # the reply under way, not the next
    assert len(vk.replies) == 1
    assert sorted(postback_status(db, i) for i in answered) == ["pending", "posted"]

    other = monitor(db, predictor, clock, vk, "host-b:2:bbbbbb").round()
    assert other.ok and other.postbacks == {"posted": 1, "failed": 0, "skipped": 0}
    assert len(vk.replies) == 2 and len({r["post_id"] for r in vk.replies}) == 2


def test_a_monitor_that_lost_the_lease_between_pages_fetches_no_more(
    db: Db, predictor: Predictor, clock: ManualClock, vk: FakeVk
) -> None:
    stalled = monitor(db, predictor, clock, vk, "host-a:1:aaaaaa")
    hold = vk.hold(lambda r: r.params.get("start_from") == "3")  # page 2 of 3
    thread, out = in_thread(stalled.round)
    try:
        assert hold.reached.wait(30)
        clock.advance(timedelta(seconds=SECONDS + 1))
        with db.session() as s:
            assert acquire(s, LEASE, "host-b:2:bbbbbb", clock, SECONDS)
    finally:
        hold.release.set()
        thread.join(30)
    [done] = out
    assert done.lease == "lost" and done.sources == []
    assert not [r for r in vk.calls("newsfeed.search") if r.params.get("start_from") == "6"]
    assert db.count("posts") == 6  # the page under way was stored with its cursor, as any page is


def test_waiting_is_logged_once_and_an_expired_lease_of_a_dead_monitor_is_taken_over(
    db: Db, predictor: Predictor, clock: ManualClock, vk: FakeVk, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # an app made earlier in this process configured "otklik" not to propagate (to its JSON handler only)
    monkeypatch.setattr(logging.getLogger("otklik"), "propagate", True)
    assert monitor(db, predictor, clock, vk, "host-a:1:aaaaaa").round().ok  # then it dies, lease kept
    second = monitor(db, predictor, clock, vk, "host-b:2:bbbbbb")
    caplog.set_level(logging.INFO, "otklik.monitor")
    caplog.clear()  # the first monitor's round
    for _ in range(3):
        clock.advance(timedelta(seconds=SECONDS / 4))
        assert second.round().lease == "waiting"
    until = (T0 + timedelta(seconds=SECONDS)).astimezone(UTC).isoformat()  # as stored
    assert [r.getMessage() for r in caplog.records] == [
        f"another monitor (host-a:1:aaaaaa) holds the lease until {until}; waiting"]

    caplog.clear()
    clock.advance(timedelta(seconds=SECONDS))
    assert second.round().ok
    assert "took the lease over from host-a:1:aaaaaa" in [r.getMessage() for r in caplog.records]
    with db.session() as s:
        lease = lease_of(s, LEASE)
    assert lease is not None and lease.holder == "host-b:2:bbbbbb" and lease.expires_at > clock.now()


def test_a_stopped_loop_releases_the_lease(db: Db, predictor: Predictor, clock: ManualClock, vk: FakeVk) -> None:
    loop = monitor(db, predictor, clock, vk, "host-a:1:aaaaaa")
    stop = threading.Event()
    thread = threading.Thread(target=loop.run, args=(0.05, stop))
    thread.start()
    try:
        held: Any = None
        for _ in range(600):
            with db.session() as s:
                held = lease_of(s, LEASE)
            if held is not None:
                break
            stop.wait(0.05)
        assert held is not None and held.holder == "host-a:1:aaaaaa"
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive()
    with db.session() as s:
        assert lease_of(s, LEASE) is None

"""Leases on SQLite and PostgreSQL: taken when free or expired, renewed by their holder, refused to
anyone else until they expire or are released; among holders trying at once, exactly one gets it."""

from __future__ import annotations

import os
import socket
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from threading import Barrier

import pytest

from serving.store import Lease, ManualClock, acquire, lease_of, process_holder, release
from tests.serving.store.conftest import T0, Db

A, B = "host-a:101:aaaaaa", "host-b:202:bbbbbb"


def test_a_lease_is_taken_when_free_renewed_by_its_holder_and_refused_to_others(db: Db, clock: ManualClock) -> None:
    with db.session() as s:
        assert lease_of(s, "monitor") is None
        assert acquire(s, "monitor", A, clock, 60) is True
        assert lease_of(s, "monitor") == Lease("monitor", A, T0, T0 + timedelta(seconds=60))
        assert acquire(s, "monitor", B, clock, 60) is False
        assert acquire(s, "other-job", B, clock, 60) is True  # leases are independent of each other

        clock.advance(timedelta(seconds=30))
        assert acquire(s, "monitor", A, clock, 60) is True  # renewed: held since T0, for 60 s from now
        assert lease_of(s, "monitor") == Lease("monitor", A, T0, T0 + timedelta(seconds=90))
        assert acquire(s, "monitor", B, clock, 60) is False
        assert lease_of(s, "other-job") == Lease("other-job", B, T0, T0 + timedelta(seconds=60))


def test_an_expired_lease_goes_to_whoever_asks_first_and_its_old_holder_has_lost_it(db: Db,
                                                                                     clock: ManualClock) -> None:
    with db.session() as s:
        assert acquire(s, "monitor", A, clock, 60)
        clock.advance(timedelta(seconds=60))
        assert acquire(s, "monitor", B, clock, 60) is False  # still A's at the moment it expires
        taken = clock.advance(timedelta(seconds=1))
        assert acquire(s, "monitor", B, clock, 60) is True
        assert lease_of(s, "monitor") == Lease("monitor", B, taken, taken + timedelta(seconds=60))
        assert acquire(s, "monitor", A, clock, 60) is False  # A died or stalled: B has it now

        again = clock.advance(timedelta(seconds=120))
        assert acquire(s, "monitor", B, clock, 60) is True  # its own expired lease, taken afresh
        assert lease_of(s, "monitor") == Lease("monitor", B, again, again + timedelta(seconds=60))


def test_a_released_lease_is_free_at_once_and_only_its_holder_can_release_it(db: Db, clock: ManualClock) -> None:
    with db.session() as s:
        assert release(s, "monitor", A) is False  # nobody had it
        assert acquire(s, "monitor", A, clock, 60)
        assert release(s, "monitor", B) is False
        assert lease_of(s, "monitor") is not None
        assert release(s, "monitor", A) is True
        assert lease_of(s, "monitor") is None
        assert acquire(s, "monitor", B, clock, 60) is True
        assert release(s, "monitor", A) is False
        assert lease_of(s, "monitor") == Lease("monitor", B, T0, T0 + timedelta(seconds=60))
    assert db.count("leases") == 1


@pytest.mark.parametrize("start", ["no lease yet", "an expired lease"])
def test_of_holders_trying_at_once_exactly_one_gets_the_lease(db: Db, clock: ManualClock, start: str) -> None:
    holders = [f"host-{i}:{1000 + i}:{i:06x}" for i in range(8)]
    barrier = Barrier(len(holders))  # reused: all the threads start each attempt together

    def take(holder: str) -> bool:
        with db.session() as s:
            barrier.wait()
            return acquire(s, "monitor", holder, clock, 60)

    for attempt in range(5):
        with db.session() as s:
            if start == "an expired lease":
                acquire(s, "monitor", "a-dead-monitor", clock, 60)
                clock.advance(timedelta(seconds=61))
            else:
                assert lease_of(s, "monitor") is None
        with ThreadPoolExecutor(len(holders)) as pool:
            won = [h for h, ok in zip(holders, pool.map(take, holders), strict=True) if ok]
        assert len(won) == 1, f"attempt {attempt}: {won} all got the lease"
        with db.session() as s:
            lease = lease_of(s, "monitor")
            assert lease is not None and lease.holder == won[0]
            if start == "no lease yet":
                assert release(s, "monitor", won[0])
            else:
                clock.advance(timedelta(seconds=61))


def test_the_process_holder_names_the_host_and_pid_and_stays_the_same() -> None:
    holder = process_holder()
    assert holder.startswith(f"{socket.gethostname()}:{os.getpid()}:") and len(holder.rsplit(":", 1)[1]) == 6
    assert process_holder() == holder

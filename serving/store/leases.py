"""Leases: a named job that one holder does until its lease expires, so that several processes started
against one database (a cron entry and a systemd unit, two machines) do not all do it.

The holder renews its lease well before it expires; one that died leaves it to expire, and then anyone
may take it. Taking and renewing are one conditional UPDATE (or the INSERT of the first lease), so among
concurrent callers, on SQLite or PostgreSQL, exactly one gets it. Expiry is judged by the caller's clock:
the machines sharing a lease need clocks that agree to well under its length.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import and_, case, delete, literal, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from serving.store.clock import Clock
from serving.store.tables import LeaseRow, UTCDateTime

MONITOR = "monitor"  # the monitoring loop's lease (serving/monitor.py), shown by /ready


@dataclass(frozen=True)
class Lease:
    name: str
    holder: str
    acquired_at: datetime
    expires_at: datetime


def process_holder() -> str:
    """This process as a lease holder: host name and pid to find it, a random suffix so that a reused pid
    (or a host name shared by containers) is not taken for it."""
    return _holder(os.getpid())


@lru_cache
def _holder(pid: int) -> str:
    return f"{socket.gethostname()}:{pid}:{secrets.token_hex(3)}"


def acquire(session: Session, name: str, holder: str, clock: Clock, seconds: float) -> bool:
    """Take the lease `name` for `seconds` when it is free or expired, or renew it when `holder` has it;
    False when another holder has it. Commits."""
    now = clock.now()
    expires = now + timedelta(seconds=seconds)
    ours = LeaseRow.holder == holder
    renewed = session.execute(
        update(LeaseRow)
        .where(LeaseRow.name == name, or_(ours, LeaseRow.expires_at < now))
        .values(holder=holder, expires_at=expires,
                acquired_at=case((and_(ours, LeaseRow.expires_at >= now), LeaseRow.acquired_at),
                                 else_=literal(now, UTCDateTime())))
        .execution_options(synchronize_session=False)
    )
    if renewed.rowcount:  # type: ignore[attr-defined]
        session.commit()
        return True
    if session.scalar(select(LeaseRow.name).where(LeaseRow.name == name)) is not None:
        session.rollback()  # another holder's, and not expired
        return False
    session.add(LeaseRow(name=name, holder=holder, acquired_at=now, expires_at=expires))
    try:
        session.commit()
    except IntegrityError:  # another caller inserted it first
        session.rollback()
        return False
    return True


def release(session: Session, name: str, holder: str) -> bool:
    """Give the lease up, so that another process takes it at once; False when `holder` did not have it. Commits."""
    result = session.execute(delete(LeaseRow).where(LeaseRow.name == name, LeaseRow.holder == holder))
    session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def lease_of(session: Session, name: str) -> Lease | None:
    """The lease `name` as stored (it may have expired), None when nobody has taken it or it was released."""
    row = session.execute(
        select(LeaseRow.name, LeaseRow.holder, LeaseRow.acquired_at, LeaseRow.expires_at).where(LeaseRow.name == name)
    ).one_or_none()
    session.rollback()
    return Lease(*row) if row else None

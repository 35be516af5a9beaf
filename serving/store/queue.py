"""The administrator's queue: filters, two orderings, keyset pagination with an opaque cursor.

A cursor holds the sort key of the last incident shown, so a page costs the same at any depth and
incidents registered or decided meanwhile neither repeat nor push others off a page.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, literal, not_, tuple_
from sqlalchemy.orm import Session

from serving.store.clock import Clock
from serving.store.errors import InvalidCursor
from serving.store.incidents import Incident, incident_of, overdue_at, with_post
from serving.store.tables import STATUSES, IncidentRow, UTCDateTime

ORDERS = ("deadline", "uncertainty")
MAX_LIMIT = 500


@dataclass(frozen=True)
class QueueFilter:
    """None: no condition on that field."""

    region: str | None = None
    status: tuple[str, ...] | None = None
    topic: str | None = None
    agency: str | None = None
    municipality: str | None = None
    needs_review: bool | None = None
    overdue: bool | None = None


@dataclass(frozen=True)
class QueuePage:
    items: tuple[Incident, ...]
    next_cursor: str | None  # None on the last page


def queue(
    session: Session,
    clock: Clock,
    filters: QueueFilter = QueueFilter(),  # frozen: one shared default is safe
    order: str = "deadline",
    limit: int = 50,
    cursor: str | None = None,
) -> QueuePage:
    """One page of incidents: by deadline (soonest first) or by uncertainty (least sure first);
    ties in either order go by id, oldest first for deadlines, newest first for uncertainty."""
    if order not in ORDERS:
        raise ValueError(f"order must be one of {', '.join(ORDERS)}, not {order!r}")
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
    now = clock.now()
    conditions = _conditions(filters, now)
    if cursor is not None:
        conditions.append(_after(order, decode_cursor(cursor, order)))
    key = (
        (IncidentRow.deadline.asc(), IncidentRow.id.asc())
        if order == "deadline"
        else (IncidentRow.uncertainty.desc(), IncidentRow.id.desc())
    )
    rows = session.execute(with_post().where(*conditions).order_by(*key).limit(limit + 1)).all()
    items = tuple(incident_of(row, post, now) for row, post in rows[:limit])
    more = len(rows) > limit
    last = rows[limit - 1][0] if more else None
    next_cursor = None
    if last is not None:
        next_cursor = encode_cursor(order, last.deadline.isoformat() if order == "deadline" else last.uncertainty,
                                    last.id)
    return QueuePage(items=items, next_cursor=next_cursor)


def _conditions(f: QueueFilter, now: datetime) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if f.status is not None:
        unknown = set(f.status) - set(STATUSES)
        if unknown:
            raise ValueError(f"unknown status {sorted(unknown)}; one of {', '.join(STATUSES)}")
        out.append(IncidentRow.status.in_(f.status))
    for column, value in (
        (IncidentRow.region, f.region),
        (IncidentRow.topic, f.topic),
        (IncidentRow.agency, f.agency),
        (IncidentRow.municipality, f.municipality),
    ):
        if value is not None:
            out.append(column == value)
    if f.needs_review is not None:
        out.append(IncidentRow.needs_review.is_(f.needs_review))
    if f.overdue is not None:
        out.append(overdue_at(now) if f.overdue else not_(overdue_at(now)))
    return out


def _after(order: str, key: tuple[Any, int]) -> ColumnElement[bool]:
    # A row-value comparison, in the direction of the order: one range scan of the order's index.
    value, last_id = key
    if order == "deadline":
        return tuple_(IncidentRow.deadline, IncidentRow.id) > tuple_(literal(value, UTCDateTime()), literal(last_id))
    return tuple_(IncidentRow.uncertainty, IncidentRow.id) < tuple_(literal(value), literal(last_id))


def encode_cursor(order: str, value: Any, last_id: int) -> str:
    raw = json.dumps([order, value, last_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, order: str) -> tuple[Any, int]:
    """(sort value, id) of the last incident of the previous page."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        kind, value, last_id = json.loads(raw)
        if kind != order:
            raise InvalidCursor(f"this cursor pages the queue by {kind}, not by {order}; start again without it")
        if not isinstance(last_id, int) or isinstance(last_id, bool):
            raise TypeError
        if order == "deadline":
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is None:
                raise TypeError
            return moment, last_id
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise TypeError
        return float(value), last_id
    except InvalidCursor:
        raise
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError):
        raise InvalidCursor("the cursor is not one this queue made; start again without it") from None

"""Statistics of the workflow: counters, answer times and how often the suggestions were kept.

Everything is computed by the database with aggregate queries (nothing is loaded incident by
incident), scanning the covering index of the grouping (tables.STATS_LEADS; a day is the stored
`registered_day`, so it has one too). PostgreSQL has `percentile_cont`. SQLite has none: there the
answer times of each group are ranked by walking a partial index of answer times in order
(`LIMIT 2 OFFSET rank`, one query per group and percentile), and only the ranks next to each
percentile's position are read back and interpolated as `percentile_cont` does: both databases give
the same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    RowMapping,
    Select,
    and_,
    bindparam,
    func,
    literal,
    literal_column,
    select,
    text,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from serving.store.clock import Clock
from serving.store.decisions import HEADS
from serving.store.lifecycle import OPEN
from serving.store.tables import IncidentRow

GROUPS = ("region", "municipality", "agency", "topic", "day", "none")
PERCENTILES = {"median_hours_to_answer": 0.5, "p90_hours_to_answer": 0.9}
# SQLite: the partial indexes of answer times (migrations 0004, 0005) by grouping: (index, its leading column).
ANSWER_ORDER = "julianday(incidents.answered_at) - julianday(incidents.registered_at)"
ANSWER_TIME_INDEXES: dict[str, tuple[str, str | None]] = {
    **{lead: (f"ix_incidents_answer_time_{lead}", lead) for lead in ("region", "municipality", "agency", "topic")},
    "day": ("ix_incidents_answer_time_registered_day", "registered_day"),
    "none": ("ix_incidents_answer_time", None),
}
KEYS = {"day": "registered_day"}  # the column of a grouping, where it is not named after it
_NAMED_SQLITE = sqlite.dialect(paramstyle="named")


@dataclass(frozen=True)
class StatsRow:
    """The counters of one group; `key` is None for group_by="none" (and for incidents without a
    municipality when grouping by municipality)."""

    key: str | None
    registered: int
    answered: int
    answered_in_time: int
    overdue_now: int
    dismissed: int
    open: int
    share_in_time: float | None  # answered in time / answered
    median_hours_to_answer: float | None
    p90_hours_to_answer: float | None
    accepted_unchanged: dict[str, float | None]  # head -> share of decided incidents whose label was kept

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def compute_stats(
    session: Session,
    clock: Clock,
    *,
    group_by: str,
    since: datetime | None = None,
    until: datetime | None = None,
    region: str | None = None,
    agency: str | None = None,
    municipality: str | None = None,
    statuses: tuple[str, ...] | None = None,
) -> list[StatsRow]:
    """The statistics of incidents registered in [since, until) matching the filters, one row per
    group, ordered by key (days in time order; None last). group_by="none" always gives one row.
    `statuses` keeps only incidents in those statuses (an agency's scope: the routed ones).

    A day is the region's calendar day at registration (`registered_day`, set when the incident is
    registered, in the time zone of the incident's region)."""
    if group_by not in GROUPS:
        raise ValueError(f"group_by must be one of {', '.join(GROUPS)}, not {group_by!r}")
    if since is not None and until is not None and since >= until:
        raise ValueError(f"since ({since.isoformat()}) must be before until ({until.isoformat()})")
    now = clock.now()
    dialect = session.get_bind().dialect.name
    key = _key(group_by)
    filters = ((IncidentRow.region, region), (IncidentRow.agency, agency), (IncidentRow.municipality, municipality))
    conditions = [column == value for column, value in filters if value is not None]
    if statuses is not None:
        conditions.append(IncidentRow.status.in_(statuses))
    if since is not None:
        conditions.append(IncidentRow.registered_at >= since)
    if until is not None:
        conditions.append(IncidentRow.registered_at < until)
    if dialect == "sqlite":
        _one_snapshot(session)
    counters = session.execute(_counters(key, group_by, dialect, now).where(*conditions)).mappings().all()
    if dialect == "postgresql":
        rows = [_row(values, dict(values)) for values in counters]
    else:
        answered = {values["key"]: values["answered"] for values in counters}
        times = _sqlite_percentiles(session, group_by, conditions, answered)
        rows = [_row(values, times.get(values["key"], {})) for values in counters]
    return sorted(rows, key=lambda row: (row.key is None, row.key or ""))


def _key(group_by: str) -> ColumnElement[Any]:
    if group_by == "none":
        return literal(None)
    column: ColumnElement[Any] = getattr(IncidentRow, KEYS.get(group_by, group_by))
    return column


def _hours_to_answer(dialect: str) -> ColumnElement[Any]:
    """NULL until answered."""
    if dialect == "postgresql":
        return func.extract("epoch", IncidentRow.answered_at - IncidentRow.registered_at) / 3600.0
    return (func.julianday(IncidentRow.answered_at) - func.julianday(IncidentRow.registered_at)) * 24.0


def _counters(key: ColumnElement[Any], group_by: str, dialect: str, now: datetime) -> Select[Any]:
    """One aggregate scan: the counters per group (and on PostgreSQL the percentiles too)."""
    count = func.count
    is_open = IncidentRow.status.in_(OPEN)
    answered = IncidentRow.status == "answered"
    decided = IncidentRow.final_topic.is_not(None)
    columns: list[Any] = [
        key.label("key"),
        count().label("registered"),
        count().filter(answered).label("answered"),
        count().filter(and_(answered, IncidentRow.sla_met.is_(True))).label("answered_in_time"),
        count().filter(and_(is_open, IncidentRow.deadline < now)).label("overdue_now"),
        count().filter(IncidentRow.status == "dismissed").label("dismissed"),
        count().filter(is_open).label("open"),
        count().filter(decided).label("decided"),
    ]
    for head in HEADS:
        kept = getattr(IncidentRow, f"final_{head}").is_not_distinct_from(getattr(IncidentRow, f"suggested_{head}"))
        columns.append(count().filter(and_(decided, kept)).label(f"kept_{head}"))
    if dialect == "postgresql":
        hours = _hours_to_answer(dialect)  # NULL until answered: percentile_cont skips it
        columns += [func.percentile_cont(p).within_group(hours).label(name) for name, p in PERCENTILES.items()]
    query = select(*columns)
    return query.group_by(key) if group_by != "none" else query


def _one_snapshot(session: Session) -> None:
    """pysqlite runs a SELECT outside a transaction, each seeing the latest commit: open a read
    transaction (ended with the session) so that the counters and the answer times agree."""
    driver = session.connection().connection.driver_connection
    if driver is not None and not driver.in_transaction:
        driver.execute("BEGIN")


def _sqlite_percentiles(
    session: Session,
    group_by: str,
    conditions: list[ColumnElement[bool]],
    answered: Mapping[Any, int],
) -> dict[Any, dict[str, float]]:
    """percentile_cont by hand: the answered incidents of each group ranked 0..n-1 by answer time
    (n is known from the counters); p lies at position p*(n-1), between ranks lo and lo+1. Only the
    (at most four) ranks each group needs leave the database."""
    wanted: dict[tuple[Any, int], None] = {}
    for group, n in answered.items():
        for p in PERCENTILES.values():
            lo = int(p * (n - 1))
            wanted.update({(group, lo): None, (group, min(lo + 1, n - 1)): None})
    if not wanted:
        return {}
    found = _ranks_by_index(session, group_by, conditions, wanted)
    out: dict[Any, dict[str, float]] = {}
    for group, n in answered.items():
        if n == 0:
            continue
        for name, p in PERCENTILES.items():
            position = p * (n - 1)
            lo = int(position)
            below, above = found[(group, lo)], found[(group, min(lo + 1, n - 1))]
            out.setdefault(group, {})[name] = below + (above - below) * (position - lo)
    return out


def _ranks_by_index(
    session: Session, group_by: str, conditions: list[ColumnElement[bool]], wanted: Mapping[tuple[Any, int], None]
) -> dict[tuple[Any, int], float]:
    """Ranks read by walking a partial index of answer times (migrations 0004, 0005; SQLite only) in order:
    `ORDER BY … LIMIT 2 OFFSET lo` per group and percentile, no sort. SQLite's planner prefers the
    covering index of the filters and sorts instead, so the query names the index (SQLAlchemy does
    not render SQLite's INDEXED BY: the statement is text, the conditions compiled into it)."""
    index, lead = ANSWER_TIME_INDEXES[group_by]
    # 'answered' as a literal: SQLite uses a partial index only when it can see the query is inside it
    where = [*conditions, IncidentRow.status == literal_column("'answered'")]
    if lead is not None:
        where.append(getattr(IncidentRow, lead).is_(bindparam("group", required=False)))
    compiled = and_(*where).compile(dialect=_NAMED_SQLITE, compile_kwargs={"render_postcompile": True})
    binds = [  # an IN list's values are expanded to `<name>_1`, `<name>_2`, …; `group` takes its column's type
        bindparam(name, value, type_=compiled.binds[name if name in compiled.binds else name.rsplit("_", 1)[0]].type)
        for name, value in compiled.params.items()
    ]
    query = text(
        f"SELECT ({ANSWER_ORDER}) * 24.0 FROM incidents INDEXED BY {index} WHERE {compiled} "
        f"ORDER BY {ANSWER_ORDER} LIMIT 2 OFFSET :offset"
    ).bindparams(*binds)
    found: dict[tuple[Any, int], float] = {}
    for group, rank in sorted(wanted, key=lambda pair: (pair[0] is None, pair[0] or "", pair[1])):
        if (group, rank) in found:
            continue
        params = {"offset": rank, **({"group": group} if lead is not None else {})}
        for i, (value,) in enumerate(session.execute(query, params)):
            found[(group, rank + i)] = value
    return found


def _row(values: RowMapping, times: Mapping[str, Any]) -> StatsRow:
    answered, decided = values["answered"], values["decided"]
    key = values["key"]
    return StatsRow(
        key=key.isoformat() if isinstance(key, date) else key,
        registered=values["registered"],
        answered=answered,
        answered_in_time=values["answered_in_time"],
        overdue_now=values["overdue_now"],
        dismissed=values["dismissed"],
        open=values["open"],
        share_in_time=values["answered_in_time"] / answered if answered else None,
        median_hours_to_answer=_float(times.get("median_hours_to_answer")),
        p90_hours_to_answer=_float(times.get("p90_hours_to_answer")),
        accepted_unchanged={head: values[f"kept_{head}"] / decided if decided else None for head in HEADS},
    )


def _float(value: Any) -> float | None:
    return None if value is None else float(value)

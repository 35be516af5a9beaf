"""The registration day in the region's time zone, stored: statistics group by it through an index
instead of computing each row's local date. 0004's covering indexes are rebuilt to hold it too, so
that a day grouping filtered by agency or municipality still never visits the table.

The backfill takes each region's zone from a frozen copy of the region directories, not from
annotations/regions: the zones the service uses come from its model bundle's copy of the directories,
the migration runs where neither may be at hand, and it must give the same days whenever it runs.
A region not in the copy counts in UTC.

The column stays nullable: SQLite can make a column NOT NULL only by copying the table, and
inside the migration's transaction (where `foreign_keys` cannot be switched off) dropping the old
`incidents` fails on the decisions, reposts and responses that refer to it; the copy would also lose
the expression indexes of 0004. PostgreSQL matches, so that both schemas equal tables.py.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# region -> (time zone, its UTC offset in minutes). PostgreSQL converts with the zone (exact at any
# date), SQLite shifts by the offset (exact since Russia stopped changing clocks in October 2014).
ZONES = {"perm-krai": ("Asia/Yekaterinburg", 300), "sverdlovsk-oblast": ("Asia/Yekaterinburg", 300)}
# Frozen copies of 0004's covering indexes (leads, columns) and answer time expression.
LEADS = ("region", "municipality", "agency", "topic", "registered_at")
COLUMNS = ("registered_at", "status", "deadline", "sla_met", "answered_at", "region", "agency", "municipality",
           "final_topic", "final_agency", "final_municipality", "suggested_topic", "suggested_agency",
           "suggested_municipality")
ANSWER_TIME = "julianday(answered_at) - julianday(registered_at)"


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.add_column("incidents", sa.Column("registered_day", sa.Date()))
    if sqlite:
        shifts = " ".join(f"WHEN '{code}' THEN '{minutes:+d} minutes'" for code, (_, minutes) in ZONES.items())
        day = f"date(registered_at, CASE region {shifts} ELSE '+0 minutes' END)"
    else:
        zones = " ".join(f"WHEN '{code}' THEN '{zone}'" for code, (zone, _) in ZONES.items())
        day = f"CAST(timezone(CASE region {zones} ELSE 'UTC' END, registered_at) AS date)"
    op.execute(f"UPDATE incidents SET registered_day = {day}")
    _covering(LEADS, (*COLUMNS, "registered_day"))
    op.create_index("ix_incidents_stats_registered_day", "incidents", ["registered_day", *COLUMNS])
    if sqlite:  # as 0004's: stats.py walks it in order for the percentiles of each day
        op.execute(f"CREATE INDEX ix_incidents_answer_time_registered_day ON incidents "
                   f"(registered_day, {ANSWER_TIME}, registered_at, region, agency, municipality) "
                   f"WHERE status = 'answered'")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP INDEX ix_incidents_answer_time_registered_day")
    op.drop_index("ix_incidents_stats_registered_day", "incidents")
    _covering(LEADS, COLUMNS)
    op.drop_column("incidents", "registered_day")  # SQLite 3.35 drops a column in place, no table copy


def _covering(leads: Sequence[str], columns: Sequence[str]) -> None:
    """(Re)build the covering index of each lead with `columns`."""
    for lead in leads:
        op.drop_index(f"ix_incidents_stats_{lead}", "incidents")
        op.create_index(f"ix_incidents_stats_{lead}", "incidents", [lead, *(c for c in columns if c != lead)])

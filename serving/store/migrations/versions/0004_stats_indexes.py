"""Indexes for the statistics: per grouping, one covering index holding every column they read;
on SQLite also partial indexes of the answer time, which SQLite walks in order for percentiles.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of tables.STATS_LEADS and STATS_COLUMNS: a migration must not change when the code does.
LEADS = ("region", "municipality", "agency", "topic", "registered_at")
COLUMNS = ("registered_at", "status", "deadline", "sla_met", "answered_at", "region", "agency", "municipality",
           "final_topic", "final_agency", "final_municipality", "suggested_topic", "suggested_agency",
           "suggested_municipality")
# SQLite has no percentile_cont: stats.py reads ranks of answer times off these (expression indexes
# are not in tables.py: SQLAlchemy does not reflect them, PostgreSQL does not need them).
ANSWER_TIME = "julianday(answered_at) - julianday(registered_at)"
SCOPE = ("region", "agency", "municipality")
ANSWER_TIME_INDEXES = {
    **{f"ix_incidents_answer_time_{lead}": (lead,) for lead in ("region", "municipality", "agency", "topic")},
    "ix_incidents_answer_time": (),
}


def upgrade() -> None:
    for lead in LEADS:
        op.create_index(f"ix_incidents_stats_{lead}", "incidents", [lead, *(c for c in COLUMNS if c != lead)])
    if op.get_bind().dialect.name == "sqlite":
        for name, leading in ANSWER_TIME_INDEXES.items():
            rest = ", ".join(c for c in ("registered_at", *SCOPE) if c not in leading)
            columns = ", ".join((*leading, ANSWER_TIME, rest))
            op.execute(f"CREATE INDEX {name} ON incidents ({columns}) WHERE status = 'answered'")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ANSWER_TIME_INDEXES:
            op.execute(f"DROP INDEX {name}")
    for lead in LEADS:
        op.drop_index(f"ix_incidents_stats_{lead}", "incidents")

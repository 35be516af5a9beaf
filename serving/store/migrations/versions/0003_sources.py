"""The monitoring loop's tables: each source's cursor and health, and the post-back attempts of responses.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types in tables.py: a migration must not change when the code does.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sources",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("network", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("cursor", JSON),
        sa.Column("last_error", sa.Text()),
        sa.Column("last_run_at", TIME),
        sa.Column("last_ok_at", TIME),
        sa.Column("stopped_token", sa.String(64)),
        sa.Column("fetched", sa.BigInteger(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("incidents", sa.BigInteger(), nullable=False),
        sa.Column("skipped", sa.BigInteger(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sources")),
        sa.CheckConstraint("status IN ('ok', 'failing', 'stopped')", name=op.f("ck_sources_status")),
    )
    op.create_table(
        "postbacks",
        sa.Column("response_id", ID,
                  sa.ForeignKey("responses.id", name=op.f("fk_postbacks_response_id_responses")), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_at", TIME, nullable=False),
        sa.Column("url", sa.String(2048)),
        sa.PrimaryKeyConstraint("response_id", name=op.f("pk_postbacks")),
    )


def downgrade() -> None:
    op.drop_table("postbacks")
    op.drop_table("sources")

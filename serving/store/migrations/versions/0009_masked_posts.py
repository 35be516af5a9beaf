"""Retention of personal data: `posts.masked_at` marks a post whose raw text `otklik purge` replaced
with its masked text (and whose author and raw network payload it removed).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A frozen copy of the column type in tables.py: a migration must not change when the code does.
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("posts", sa.Column("masked_at", TIME, nullable=True))  # no table copy on SQLite


def downgrade() -> None:
    # Not a batch (a copy of the table): SQLite refuses to drop `posts` while other tables refer to it,
    # and it drops a column in place since 3.35, as PostgreSQL does.
    op.execute("ALTER TABLE posts DROP COLUMN masked_at")

"""The roles of the scopes issue: federal, regional_admin, agency, municipal, ml.

The first schema's `admin` becomes `regional_admin` and `supervisor` becomes `federal`.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = ("admin", "agency", "supervisor", "ml")
NEW = ("federal", "regional_admin", "agency", "municipal", "ml")
RENAMED = {"admin": "regional_admin", "supervisor": "federal"}


def _switch(values: tuple[str, ...], renames: dict[str, str]) -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint(op.f("ck_users_role"), type_="check")
    for old, new in renames.items():
        op.execute(sa.text("UPDATE users SET role = :new WHERE role = :old").bindparams(old=old, new=new))
    with op.batch_alter_table("users") as batch:
        batch.create_check_constraint(op.f("ck_users_role"), f"role IN ({', '.join(repr(v) for v in values)})")


def upgrade() -> None:
    _switch(NEW, RENAMED)


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM tokens WHERE user_id IN (SELECT id FROM users WHERE role = 'municipal')"))
    op.execute(sa.text("DELETE FROM users WHERE role = 'municipal'"))
    _switch(OLD, {new: old for old, new in RENAMED.items()})

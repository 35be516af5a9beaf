"""The stored agency confidence takes the topic's shape: `scores.agency` of an incident registered
before the agency head's runners-up were kept was one number, the suggestion's probability; it becomes
`[[suggested_agency, that number]]`, so that every incident answers the same shape to API clients.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A frozen copy of the columns this migration reads and writes.
incidents = sa.table(
    "incidents",
    sa.column("id", sa.BigInteger()),
    sa.column("suggested_agency", sa.String(32)),
    sa.column("scores", sa.JSON().with_variant(JSONB(), "postgresql")),
)
BATCH = 1_000


def upgrade() -> None:
    _rewrite(lambda scores, agency: [[agency, scores["agency"]]] if _is_number(scores.get("agency")) else None)


def downgrade() -> None:
    _rewrite(lambda scores, _: scores["agency"][0][1] if isinstance(scores.get("agency"), list) else None)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _rewrite(new_agency: Any) -> None:
    """Each incident whose `scores.agency` `new_agency(scores, suggested_agency)` changes (not None)."""
    bind = op.get_bind()
    last = 0
    while rows := bind.execute(
        sa.select(incidents.c.id, incidents.c.suggested_agency, incidents.c.scores)
        .where(incidents.c.id > last).order_by(incidents.c.id).limit(BATCH)
    ).all():
        last = rows[-1].id
        changed = []
        for row in rows:
            scores = dict(row.scores or {})
            agency = new_agency(scores, row.suggested_agency)
            if agency is not None:
                changed.append({"target": row.id, "scores": {**scores, "agency": agency}})
        if changed:
            update = incidents.update().where(incidents.c.id == sa.bindparam("target"))
            bind.execute(update.values(scores=sa.bindparam("scores")), changed)

"""Retention of personal data: which posts' raw text may go, and putting their masked text in its place.

A post may lose its raw text once it was received before the cut-off and no open incident needs it:
its own incident (or the one it was attached to as a repost) is answered or dismissed, or it never
became one. Masking is the service's (`serving.privacy`, which calls `model.pii`): the store only
reads and writes. Labels, decisions, predictions and the near-duplicate hash stay.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import null, select, update
from sqlalchemy.orm import Session

from serving.store.clock import Clock
from serving.store.lifecycle import OPEN
from serving.store.tables import IncidentRow, PostRow, RepostRow, ResponseRow


def purgeable_posts(session: Session, before: datetime, after_id: int, limit: int) -> list[tuple[int, str]]:
    """(id, text) of up to `limit` posts past `after_id`, by id, whose raw text may go."""
    open_own = select(IncidentRow.post_id).where(IncidentRow.status.in_(OPEN))
    open_repost = (
        select(RepostRow.post_id)
        .join(IncidentRow, IncidentRow.id == RepostRow.incident_id)
        .where(IncidentRow.status.in_(OPEN))
    )
    rows = session.execute(
        select(PostRow.id, PostRow.text)
        .where(PostRow.id > after_id, PostRow.created_at < before, PostRow.masked_at.is_(None),
               PostRow.id.not_in(open_own), PostRow.id.not_in(open_repost))
        .order_by(PostRow.id)
        .limit(limit)
    )
    return [(post_id, text) for post_id, text in rows]


def responses_to(session: Session, post_ids: Iterable[int]) -> list[tuple[int, str]]:
    """(id, text) of the agencies' answers to the incidents of these posts."""
    rows = session.execute(
        select(ResponseRow.id, ResponseRow.text)
        .join(IncidentRow, IncidentRow.id == ResponseRow.incident_id)
        .where(IncidentRow.post_id.in_(list(post_ids)))
        .order_by(ResponseRow.id)
    )
    return [(response_id, text) for response_id, text in rows]


def replace_texts(session: Session, posts: Mapping[int, str], responses: Mapping[int, str], clock: Clock) -> int:
    """Put the masked texts in place of the raw ones; the posts lose their author and raw payload too.
    How many posts changed (one masked by a concurrent purge already is left alone). Commits."""
    now = clock.now()
    changed = 0
    for post_id, text in posts.items():
        result = session.execute(
            update(PostRow)
            .where(PostRow.id == post_id, PostRow.masked_at.is_(None))
            .values(text=text, author=None, raw=null(), masked_at=now)  # SQL NULL, not JSON null
            .execution_options(synchronize_session=False)
        )
        changed += result.rowcount  # type: ignore[attr-defined]
    for response_id, text in responses.items():
        session.execute(update(ResponseRow).where(ResponseRow.id == response_id).values(text=text)
                        .execution_options(synchronize_session=False))
    session.commit()
    return changed

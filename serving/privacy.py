"""Personal data (152-ФЗ) in what leaves the store, and what stays behind: the masker of `model.pii`
applied to feedback exports and the training rows built from them, to posts chosen for labelling,
and to the raw texts that `otklik purge` removes after the retention period. The triage card (the
administrators' view) keeps the original text while it is stored.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from model.pii import Masker
from serving.store import Clock, export_feedback
from serving.store.retention import purgeable_posts, replace_texts, responses_to

PURGE_BATCH = 500
AGE = re.compile(r"(\d+)([dh])")


def masked_rows(rows: Sequence[dict[str, Any]], masker: Masker, field: str = "text") -> list[dict[str, Any]]:
    """The rows with `field` masked (new dicts; the masker works on the whole batch at once)."""
    texts = masker.mask([row[field] for row in rows])
    return [{**row, field: text} for row, text in zip(rows, texts, strict=True)]


def masked_feedback(session: Session, masker: Masker, since: datetime | None = None) -> list[dict[str, Any]]:
    """The store's feedback labels as corpus rows (`serving.store.export_feedback`), texts masked."""
    return masked_rows(export_feedback(session, since), masker)


def parse_age(value: str) -> timedelta:
    """`180d` or `36h`; ValueError naming the expected form otherwise."""
    found = AGE.fullmatch(value.strip())
    if not found or int(found.group(1)) == 0:
        raise ValueError(f"{value!r}: a positive number of days or hours, e.g. 180d or 36h")
    n = int(found.group(1))
    return timedelta(days=n) if found.group(2) == "d" else timedelta(hours=n)


@dataclass(frozen=True)
class Purged:
    posts: int
    responses: int
    before: datetime


def purge(sessions: sessionmaker[Session], masker: Masker, clock: Clock, older_than: timedelta,
          dry_run: bool = False) -> Purged:
    """Replace the raw text of every post received more than `older_than` ago that no open incident
    needs (and of the agencies' answers to it) with its masked text, in batches, each one transaction."""
    before = clock.now() - older_than
    posts = responses = 0
    last = 0
    with sessions() as session:
        while batch := purgeable_posts(session, before, last, PURGE_BATCH):
            last = batch[-1][0]
            answers = responses_to(session, [post_id for post_id, _ in batch])
            responses += len(answers)
            if dry_run:
                posts += len(batch)
                continue
            post_texts = masker.mask([text for _, text in batch])
            answer_texts = masker.mask([text for _, text in answers])
            posts += replace_texts(session, dict(zip((i for i, _ in batch), post_texts, strict=True)),
                                   dict(zip((i for i, _ in answers), answer_texts, strict=True)), clock)
    return Purged(posts, responses, before)

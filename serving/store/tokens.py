"""Bearer tokens: shown once when issued, stored only as a sha256 (they are random, so a fast hash
is enough), revoked rather than deleted."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from serving.store.clock import Clock
from serving.store.tables import TokenRow, UserRow, WebSessionRow
from serving.store.users import User, user_of

PREFIX = "otk_"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, user_id: int, clock: Clock) -> str:
    """A new token for the user; the only time it exists in clear. Commits."""
    if session.get(UserRow, user_id) is None:
        raise LookupError(f"no user {user_id}")
    token = PREFIX + secrets.token_urlsafe(32)
    session.add(TokenRow(user_id=user_id, token_hash=token_hash(token), created_at=clock.now()))
    session.commit()
    return token


def user_for_token(session: Session, token: str) -> User | None:
    """The user a live token belongs to; None for an unknown or revoked token."""
    row = session.scalars(
        select(UserRow)
        .join(TokenRow, TokenRow.user_id == UserRow.id)
        .where(TokenRow.token_hash == token_hash(token), TokenRow.revoked_at.is_(None))
    ).one_or_none()
    return user_of(row) if row else None


def revoke_token(session: Session, token: str, clock: Clock) -> bool:
    """Whether a live token was revoked; the web sessions it opened end with it. Commits."""
    session.execute(delete(WebSessionRow).where(WebSessionRow.token_hash == token_hash(token)))
    result = session.execute(
        update(TokenRow)
        .where(TokenRow.token_hash == token_hash(token), TokenRow.revoked_at.is_(None))
        .values(revoked_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]

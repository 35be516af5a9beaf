"""Sessions of the web pages. The browser's cookie holds a random id; the store keeps only its sha256
(as it does for tokens), the hash of the token that opened the session, the CSRF token of its forms
and its expiry. A session ends at logout (`end_web_session`), when it expires, and when its token is
revoked (`tokens.revoke_token` deletes the token's sessions in the same transaction)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, select
from sqlalchemy.orm import Session

from serving.store.clock import Clock
from serving.store.tables import TokenRow, UserRow, WebSessionRow
from serving.store.tokens import token_hash
from serving.store.users import User, user_of


@dataclass(frozen=True)
class WebSession:
    token_hash: str  # of the token that opened it: a user's, or the operator's configured one
    csrf: str
    expires_at: datetime
    user: User | None  # the user of that token while it is live; None for any other token


def open_web_session(session: Session, token: str, clock: Clock, lifetime: timedelta) -> tuple[str, WebSession]:
    """A new session for `token` (already checked by the caller) with a fresh CSRF token: the id for
    the cookie (the only time it exists in clear) and the session. Expired sessions are cleared on
    the way. Commits."""
    now = clock.now()
    session.execute(delete(WebSessionRow).where(WebSessionRow.expires_at <= now))
    session_id = secrets.token_urlsafe(32)
    row = WebSessionRow(id_hash=token_hash(session_id), token_hash=token_hash(token), csrf=secrets.token_urlsafe(32),
                        created_at=now, expires_at=now + lifetime)
    session.add(row)
    session.commit()
    found = web_session(session, session_id, clock)
    assert found is not None
    return session_id, found


def web_session(session: Session, session_id: str, clock: Clock) -> WebSession | None:
    """The live session of this id; None for an unknown, ended or expired one."""
    live_token = and_(TokenRow.token_hash == WebSessionRow.token_hash, TokenRow.revoked_at.is_(None))
    found = session.execute(
        select(WebSessionRow, UserRow)
        .outerjoin(TokenRow, live_token)
        .outerjoin(UserRow, UserRow.id == TokenRow.user_id)
        .where(WebSessionRow.id_hash == token_hash(session_id), WebSessionRow.expires_at > clock.now())
    ).one_or_none()
    if found is None:
        return None
    row, user = found
    return WebSession(row.token_hash, row.csrf, row.expires_at, user_of(user) if user is not None else None)


def end_web_session(session: Session, session_id: str) -> bool:
    """Whether a session was ended. Commits."""
    result = session.execute(delete(WebSessionRow).where(WebSessionRow.id_hash == token_hash(session_id)))
    session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]

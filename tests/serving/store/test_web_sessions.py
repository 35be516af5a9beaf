"""Sessions of the web pages on SQLite and PostgreSQL: only hashes stored, a fresh CSRF token per
session, ended by logout, by expiry and by revoking the token that opened them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from serving.store import (
    ManualClock,
    create_user,
    end_web_session,
    issue_token,
    open_web_session,
    revoke_token,
    web_session,
)
from serving.store.tokens import token_hash
from tests.serving.store.conftest import Db

HOUR = timedelta(hours=1)


def test_a_session_finds_its_user_and_stores_only_hashes(db: Db, clock: ManualClock) -> None:
    with db.session() as s:
        user = create_user(s, "admin.perm", "regional_admin", clock, region="perm-krai")
        token = issue_token(s, user.id, clock)
        session_id, opened = open_web_session(s, token, clock, HOUR)
        assert opened.user == user and opened.token_hash == token_hash(token)
        assert opened.expires_at == clock.now() + HOUR
        assert web_session(s, session_id, clock) == opened
        assert web_session(s, session_id + "x", clock) is None
    with db.engine.connect() as conn:
        [(stored_id, stored_token)] = conn.execute(text("SELECT id_hash, token_hash FROM web_sessions")).all()
    assert (stored_id, stored_token) == (token_hash(session_id), token_hash(token))  # never the id or the token


def test_each_session_has_its_own_csrf_token(db: Db, clock: ManualClock) -> None:
    with db.session() as s:
        user = create_user(s, "minister", "federal", clock)
        token = issue_token(s, user.id, clock)
        first_id, first = open_web_session(s, token, clock, HOUR)
        second_id, second = open_web_session(s, token, clock, HOUR)
        assert first_id != second_id and first.csrf != second.csrf and len(first.csrf) >= 32


def test_a_session_ends_at_logout_and_at_expiry(db: Db, clock: ManualClock) -> None:
    with db.session() as s:
        user = create_user(s, "minister", "federal", clock)
        token = issue_token(s, user.id, clock)
        ended, _ = open_web_session(s, token, clock, HOUR)
        assert end_web_session(s, ended) is True
        assert end_web_session(s, ended) is False
        assert web_session(s, ended, clock) is None

        expiring, _ = open_web_session(s, token, clock, HOUR)
        clock.advance(HOUR - timedelta(seconds=1))
        assert web_session(s, expiring, clock) is not None
        clock.advance(timedelta(seconds=1))
        assert web_session(s, expiring, clock) is None
        open_web_session(s, token, clock, HOUR)  # opening one clears the expired ones
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM web_sessions")).scalar_one() == 1


def test_revoking_a_token_ends_its_sessions_and_only_its(db: Db, clock: ManualClock) -> None:
    with db.session() as s:
        user = create_user(s, "zhilnadzor", "agency", clock, region="perm-krai", agency="housing_inspection")
        token, other = issue_token(s, user.id, clock), issue_token(s, user.id, clock)
        on_phone, _ = open_web_session(s, token, clock, HOUR)
        on_desk, _ = open_web_session(s, token, clock, HOUR)
        elsewhere, _ = open_web_session(s, other, clock, HOUR)
        assert revoke_token(s, token, clock) is True
        assert web_session(s, on_phone, clock) is None and web_session(s, on_desk, clock) is None
        still = web_session(s, elsewhere, clock)
        assert still is not None and still.user == user


def test_a_session_of_a_token_that_is_no_users_has_no_user(db: Db, clock: ManualClock) -> None:
    """The operator's configured token is not in the store: the session is there, the page decides (serving.auth)."""
    with db.session() as s:
        session_id, opened = open_web_session(s, "the-operator's-token", clock, HOUR)
        assert opened.user is None and web_session(s, session_id, clock) == opened

"""Users and bearer tokens: stored hashed, shown once, revocable."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from serving.store import ManualClock, UserExists, create_user, get_user, issue_token, revoke_token, user_for_token
from serving.store.tokens import token_hash
from tests.serving.store.conftest import Db


def test_a_token_finds_its_user_until_revoked(db: Db, clock: ManualClock) -> None:
    with db.session() as s:
        user = create_user(s, "Минтранс Пермского края", "agency", clock, region="perm-krai",
                           agency="transport_ministry")
        token = issue_token(s, user.id, clock)
        other = issue_token(s, user.id, clock)
        assert token.startswith("otk_") and token != other
        assert user_for_token(s, token) == user == get_user(s, "Минтранс Пермского края")
        assert user_for_token(s, token + "x") is None
        assert revoke_token(s, token, clock) is True
        assert revoke_token(s, token, clock) is False
        assert user_for_token(s, token) is None
        assert user_for_token(s, other) == user
    with db.engine.connect() as conn:
        stored = set(conn.execute(text("SELECT token_hash FROM tokens")).scalars())
    assert stored == {token_hash(token), token_hash(other)}  # never the token itself


def test_user_names_are_unique_and_roles_known(db: Db, clock: ManualClock) -> None:
    with db.session() as s:
        create_user(s, "admin.perm", "regional_admin", clock, region="perm-krai")
        with pytest.raises(UserExists, match="exists already"):
            create_user(s, "admin.perm", "regional_admin", clock, region="perm-krai")
        with pytest.raises(ValueError, match="one of federal, regional_admin, agency, municipal, ml"):
            create_user(s, "boss", "king", clock)
        with pytest.raises(ValueError, match="needs a region"):
            create_user(s, "perm.roads", "agency", clock, agency="roads_ministry")
        with pytest.raises(ValueError, match="needs an agency"):
            create_user(s, "perm.roads", "agency", clock, region="perm-krai")
        with pytest.raises(ValueError, match="needs a municipality"):
            create_user(s, "perm.city", "municipal", clock, region="perm-krai")
        with pytest.raises(ValueError, match="federal users see every region"):
            create_user(s, "moscow", "federal", clock, region="perm-krai")
        with pytest.raises(LookupError):
            issue_token(s, 999, clock)

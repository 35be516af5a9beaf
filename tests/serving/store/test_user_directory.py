"""The directory checks of `create_user` (codes must be known ones) and the user list of `otklik token list`."""

from __future__ import annotations

import pytest

from model.region import Region
from model.taxonomy import Taxonomy
from serving.store import ManualClock, create_user, issue_token, revoke_token
from serving.store.users import list_users
from tests.serving.store.conftest import Db


def test_create_user_checks_codes_against_the_directory(
    db: Db, clock: ManualClock, regions: dict[str, Region], taxonomy: Taxonomy
) -> None:
    with db.session() as session:
        create_user(session, "Пермь", "municipal", clock, "perm-krai", municipality="57701000", regions=regions,
                    taxonomy=taxonomy)
        create_user(session, "ml", "ml", clock)
        with pytest.raises(ValueError, match="municipality: region 'perm-krai' has no municipality"):
            create_user(session, "Екб", "municipal", clock, "perm-krai", municipality="65701000", regions=regions)
        with pytest.raises(ValueError, match="agency: unknown agency 'police'"):
            create_user(session, "police", "agency", clock, "perm-krai", agency="police", taxonomy=taxonomy)
        assert [(user.name, live) for user, live in list_users(session)] == [("ml", 0), ("Пермь", 0)]


def test_the_user_list_counts_live_tokens(db: Db, clock: ManualClock) -> None:
    with db.session() as session:
        user = create_user(session, "ml", "ml", clock)
        first, _ = issue_token(session, user.id, clock), issue_token(session, user.id, clock)
        revoke_token(session, first, clock)
        [(listed, live)] = list_users(session)
    assert (listed, live) == (user, 1)

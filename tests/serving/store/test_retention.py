"""Retention on SQLite and PostgreSQL: `otklik purge`'s service replaces the raw text of old posts that
no open incident needs (and of the answers to them) with the masked text; labels stay."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from model.pii import Masker
from serving.privacy import masked_feedback, parse_age, purge
from serving.store import ManualClock, decide, export_feedback, respond
from serving.store.tables import PostRow, ResponseRow
from tests.serving.store.conftest import Db, post

DAY = timedelta(days=1)
ANSWERED = "Яма у дома Ирины Петровны Смирновой, кв. 12, звоните 8 912 345-67-89"
DISMISSED = "Продам мусор? Шучу. Пишите Андрею Кузнецову на kuznetsov@mail.ru"
OPEN = "Яма у подъезда, звонила Тамаре Ильиничне: 89024781236"
SEEN = "Доброе утро, Ольга Сергеевна! С днём рождения"


@pytest.fixture(scope="module")
def masker() -> Masker:
    return Masker()


def test_old_closed_posts_lose_their_raw_text_and_keep_their_labels(db: Db, clock: ManualClock, ingest: Any,
                                                                    masker: Masker) -> None:
    answered, dismissed, still_open = (r.incident_id for r in ingest(
        [post("-1_1", ANSWERED), post("-1_2", DISMISSED), post("-1_3", OPEN)]).incidents)
    ingest([post("-1_4", SEEN)])  # not an incident: nothing needs it either
    with db.session() as s:
        decide(s, answered, "accept", 1, "admin.perm", clock)
        respond(s, answered, "Ирина Петровна, яму заделают завтра", None, "agency.perm", clock)
        decide(s, dismissed, "dismiss", 1, "admin.perm", clock, reason="не жалоба")
        labels_before = [{k: v for k, v in r.items() if k != "text"} for r in export_feedback(s)]

    clock.advance(179 * DAY)
    assert purge(db.sessions, masker, clock, parse_age("180d")).posts == 0  # not old enough yet
    clock.advance(2 * DAY)
    counted = purge(db.sessions, masker, clock, parse_age("180d"), dry_run=True)
    assert (counted.posts, counted.responses) == (3, 1)
    done = purge(db.sessions, masker, clock, parse_age("180d"))
    assert (done.posts, done.responses) == (3, 1)
    assert purge(db.sessions, masker, clock, parse_age("180d")).posts == 0  # done once

    with db.session() as s:
        posts = {p.external_id: p for p in s.scalars(select(PostRow))}
        answer = s.scalars(select(ResponseRow)).one().text
        rows = export_feedback(s)
    assert posts["-1_1"].text == "Яма у дома [ИМЯ], [КВ], звоните [ТЕЛЕФОН]"
    assert posts["-1_2"].text == "Продам мусор? Шучу. Пишите [ИМЯ] на [EMAIL]"
    assert posts["-1_4"].text == "Доброе утро, [ИМЯ]! С днём рождения"
    for key in ("-1_1", "-1_2", "-1_4"):
        assert posts[key].author is None and posts[key].raw is None and posts[key].masked_at == clock.now()
    assert (posts["-1_3"].text, posts["-1_3"].author, posts["-1_3"].masked_at) == (OPEN, "Ирина", None)
    assert answer == "[ИМЯ], яму заделают завтра"
    assert [{k: v for k, v in r.items() if k != "text"} for r in rows] == labels_before  # the labels stay
    assert still_open not in {r["incident"] for r in rows}


def test_the_feedback_export_is_masked(db: Db, clock: ManualClock, ingest: Any, masker: Masker) -> None:
    (r,) = ingest([post("-1_1", ANSWERED)]).incidents
    with db.session() as s:
        decide(s, r.incident_id, "accept", 1, "admin.perm", clock)
        [row] = masked_feedback(s, masker)
        [raw] = export_feedback(s)
    assert row == {**raw, "text": "Яма у дома [ИМЯ], [КВ], звоните [ТЕЛЕФОН]"}


@pytest.mark.parametrize("value, expected", [("180d", timedelta(days=180)), ("36h", timedelta(hours=36))])
def test_an_age_is_days_or_hours(value: str, expected: timedelta) -> None:
    assert parse_age(value) == expected


@pytest.mark.parametrize("value", ["180", "0d", "6m", "-1d", ""])
def test_a_bad_age_says_what_is_expected(value: str) -> None:
    with pytest.raises(ValueError, match=r"e\.g\. 180d"):
        parse_age(value)

"""The monitoring loop in process, with the real trained model, on SQLite and PostgreSQL: pages and
cursors stored together, a failure between pages resumes without loss or duplicates, a revoked
token stops only its source, answers are posted back (and a failed post-back retried, visibly)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import func, select

from model.predictor import Predictor
from serving.connectors import SourceConfig
from serving.monitor import Monitor, MonitorOptions
from serving.store import ManualClock, decide, queue, respond, responses_of
from serving.store.queue import QueueFilter
from serving.store.sources import SourceState, list_sources, postback_of
from serving.store.tables import IncidentRow, PostRow
from tests.serving.connectors.conftest import FAST, T0, source
from tests.serving.connectors.fakes import FakeVk, Reply, Request
from tests.serving.store.conftest import Db

# Posts of a Perm community search: 4 complaints the model registers, 3 that it does not.
POSTS = [
    "На Гайве огромная яма на дороге, третью неделю никто не чинит!!!",
    "Продаю велосипед, почти новый, недорого",
    "Третий день нет горячей воды на улице Ленина в Перми, управляющая компания молчит",
    "Доброе утро всем, кто уже проснулся",
    "Мусор не вывозят вторую неделю, контейнеры переполнены во дворе на Пушкина",
    "Отличный концерт вчера был в филармонии",
    "В Березниках не убирают снег во дворах, не пройти",
]
COMPLAINTS = {"-555_100", "-555_102", "-555_104", "-555_106"}


def vk_posts() -> list[dict[str, Any]]:
    return [{"id": 100 + i, "owner_id": -555, "from_id": 7000 + i, "date": T0 + 60 * i, "text": text}
            for i, text in enumerate(POSTS)]


@pytest.fixture
def vk() -> Iterator[FakeVk]:
    with FakeVk("tok-1", vk_posts()) as fake:
        yield fake


def monitor(db: Db, predictor: Predictor, clock: ManualClock, *sources: SourceConfig, **options: Any) -> Monitor:
    return Monitor(list(sources), db.sessions, predictor, clock,
                   MonitorOptions(backoff=FAST, postback_delay=0, **options))


def vk_source(fake: FakeVk, **fields: Any) -> SourceConfig:
    return source("vk", f"{fake.url}/method", queries=("яма",), **fields)


def states(db: Db) -> list[SourceState]:
    with db.session() as s:
        return list_sources(s)


def registered(db: Db) -> list[str]:
    with db.session() as s:
        rows = s.execute(select(PostRow.external_id).join(IncidentRow, IncidentRow.post_id == PostRow.id))
        return sorted(r[0] for r in rows)


def test_a_round_stores_every_page_with_its_cursor_and_registers_each_complaint_once(
    db: Db, predictor: Predictor, clock: ManualClock, vk: FakeVk
) -> None:
    loop = monitor(db, predictor, clock, vk_source(vk))
    first = loop.round()
    assert first.ok and first.sources[0].pages == 3 and first.sources[0].fetched == 7
    assert first.sources[0].created == 7 and first.sources[0].incidents == 4
    assert registered(db) == sorted(COMPLAINTS)
    [state] = states(db)
    assert (state.status, state.fetched, state.created, state.incidents, state.last_error) == ("ok", 7, 7, 4, None)
    assert state.cursor == {"streams": {"q:яма": {"since": T0 + 360, "token": None, "newest": T0 + 360}}, "at": 0}

    again = loop.round()  # the lookback fetches the newest posts again: all duplicates
    assert again.sources[0].created == 0 and again.sources[0].incidents == 0 and again.sources[0].fetched > 0
    assert db.count("posts") == 7 and db.count("incidents") == 4


def test_a_failure_between_pages_resumes_at_the_stored_page_without_loss_or_duplicates(
    db: Db, predictor: Predictor, clock: ManualClock, vk: FakeVk
) -> None:
    loop = monitor(db, predictor, clock, vk_source(vk))
    vk.fail_next(Reply(503, {}), times=FAST.attempts, when=lambda r: r.params.get("start_from") == "3")
    broken = loop.round()
    assert broken.sources[0].status == "failing" and "HTTP 503" in (broken.sources[0].error or "")
    [state] = states(db)
    assert state.status == "failing" and (state.cursor or {})["streams"]["q:яма"]["token"] == "3"
    assert db.count("posts") == 3

    healed = loop.round()
    assert healed.ok
    assert vk.calls("newsfeed.search")[len(vk.calls("newsfeed.search")) - 2].params["start_from"] == "3"
    assert db.count("posts") == 7 and registered(db) == sorted(COMPLAINTS)
    [state] = states(db)
    assert state.status == "ok" and state.last_error is None


def test_a_revoked_token_stops_its_source_and_the_others_go_on(
    db: Db, predictor: Predictor, clock: ManualClock, vk: FakeVk
) -> None:
    with FakeVk("tok-2", vk_posts()[:2]) as other:
        revoked = vk_source(vk, id="vk-revoked")
        loop = monitor(db, predictor, clock, revoked, vk_source(other, id="vk-ok", token="tok-2"))
        vk.revoked = True
        done = loop.round()
        assert [(s.source, s.status) for s in done.sources] == [("vk-revoked", "stopped"), ("vk-ok", "ok")]
        assert not done.ok
        by_id = {s.id: s for s in states(db)}
        assert by_id["vk-revoked"].status == "stopped" and "VK error 5" in (by_id["vk-revoked"].last_error or "")
        assert by_id["vk-ok"].created == 2

        calls = len(vk.requests)
        assert loop.round().sources[0].status == "skipped"  # same token: not asked again
        assert len(vk.requests) == calls

        vk.revoked = False
        vk.token = "tok-new"
        fixed = monitor(db, predictor, clock, replace(revoked, token="tok-new"))
        assert fixed.round().ok
        assert {s.id: s.status for s in states(db)}["vk-revoked"] == "ok"


def commenting(request: Request) -> bool:
    return request.path.endswith("wall.createComment")


def answer_first_incident(db: Db, clock: ManualClock) -> int:
    with db.session() as s:
        incident = queue(s, clock, QueueFilter(), limit=1).items[0]
        decide(s, incident.id, "accept", incident.version, "admin", clock)
        respond(s, incident.id, "Ремонт дороги запланирован на среду.", "https://perm.ru/otvet/1", "agency", clock)
        return incident.id


def test_an_answer_is_posted_back_as_a_wall_comment(
    db: Db, predictor: Predictor, clock: ManualClock, vk: FakeVk
) -> None:
    loop = monitor(db, predictor, clock, vk_source(vk))
    loop.round()
    incident_id = answer_first_incident(db, clock)
    done = loop.round()
    assert done.postbacks == {"posted": 1, "failed": 0, "skipped": 0}
    [reply] = vk.replies
    with db.session() as s:
        [response] = responses_of(s, incident_id)
        post = s.scalar(select(PostRow).join(IncidentRow).where(IncidentRow.id == incident_id))
        assert post is not None and f"{reply['owner_id']}_{reply['post_id']}" == post.external_id
        assert reply["message"] == "Ремонт дороги запланирован на среду.\nhttps://perm.ru/otvet/1"
        assert (response.postback_status, response.postback_error) == ("posted", None)
        assert postback_of(s, response.id) == (1, f"https://vk.com/wall{post.external_id}?reply={reply['comment_id']}")
    assert loop.round().postbacks == {"posted": 0, "failed": 0, "skipped": 0}  # posted once
    assert len(vk.replies) == 1


def test_a_failed_post_back_is_visible_and_retried_a_bounded_number_of_times(
    db: Db, predictor: Predictor, clock: ManualClock, vk: FakeVk
) -> None:
    loop = monitor(db, predictor, clock, vk_source(vk), postback_attempts=3)
    loop.round()
    incident_id = answer_first_incident(db, clock)
    vk.fail_next(FakeVk.error(15, "Access denied: comments are closed"), when=commenting)
    assert loop.round().postbacks["failed"] == 1
    with db.session() as s:
        [response] = responses_of(s, incident_id)
    assert response.postback_status == "failed"
    assert "VK error 15: Access denied" in (response.postback_error or "")
    assert "attempt 1 of 3" in (response.postback_error or "")

    assert loop.round().postbacks["posted"] == 1  # retried (no delay in this test) and posted
    with db.session() as s:
        assert responses_of(s, incident_id)[0].postback_status == "posted"
        assert postback_of(s, response.id) is not None

    # An answer that can never be posted stops after the attempts.
    with db.session() as s:
        incident = queue(s, clock, QueueFilter(status=("new",)), limit=1).items[0]
        decide(s, incident.id, "accept", incident.version, "admin", clock)
        respond(s, incident.id, "Ответ", None, "agency", clock)
    vk.fail_next(FakeVk.error(15, "Access denied"), times=10, when=commenting)
    for _ in range(5):
        loop.round()
    with db.session() as s:
        last = responses_of(s, incident.id)[0]
        assert last.postback_status == "failed" and "giving up" in (last.postback_error or "")
        assert postback_of(s, last.id) == (3, None)


def test_with_post_back_switched_off_answers_are_marked_skipped(
    db: Db, predictor: Predictor, clock: ManualClock, vk: FakeVk
) -> None:
    loop = monitor(db, predictor, clock, vk_source(vk), postback=False)
    loop.round()
    incident_id = answer_first_incident(db, clock)
    assert loop.round().postbacks == {"posted": 0, "failed": 0, "skipped": 1}
    assert vk.replies == []
    with db.session() as s:
        response = responses_of(s, incident_id)[0]
    assert response.postback_status == "skipped" and "switched off" in (response.postback_error or "")


def test_a_post_no_region_can_be_found_for_is_skipped_alone(
    db: Db, predictor: Predictor, clock: ManualClock, vk: FakeVk
) -> None:
    vk.posts[:] = [{"id": 1, "owner_id": -1, "date": T0, "text": "На Комсомольском проспекте в Перми яма на дороге"},
                   {"id": 2, "owner_id": -1, "date": T0 + 1, "text": "Доброе утро всем"}]
    done = monitor(db, predictor, clock, vk_source(vk, region=None)).round()
    assert done.sources[0].skipped == 1 and done.sources[0].created == 1
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(PostRow).where(PostRow.region == "perm-krai")) == 1
    [state] = states(db)
    assert state.skipped == 1 and state.cursor is not None and state.cursor["streams"]["q:яма"]["since"] == T0 + 1


def test_a_source_id_reused_for_another_network_is_refused_and_the_others_go_on(
    db: Db, predictor: Predictor, clock: ManualClock, vk: FakeVk
) -> None:
    monitor(db, predictor, clock, vk_source(vk, id="perm")).round()
    moved = source("telegram", vk.url, id="perm")
    done = monitor(db, predictor, clock, moved, vk_source(vk, id="vk-2")).round()
    assert [(s.source, s.status) for s in done.sources] == [("perm", "failing"), ("vk-2", "ok")]
    assert "was a vk source and is now configured as telegram" in (done.sources[0].error or "")

"""The VK connector over real HTTP against the fake VK: search paging, community walls and comments,
malformed items, VK's error codes, 429/5xx retries, a revoked token, replies."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from serving.connectors import BadPayload, ConnectorError, RateLimited, TokenRevoked, TransientError, VkConnector, base
from serving.ingest import IncomingPost
from tests.serving.connectors.conftest import FAST, T0, source
from tests.serving.connectors.fakes import FakeVk, Reply

TEXTS = ["Яма на дороге у дома 5", "Нет горячей воды третий день", "Мусор не вывозят", "Продаю диван",
         "Снег не убирают во дворе", "Трамвай не ходит", "Доброе утро"]


def vk_posts(n: int = 7, start: int = T0) -> list[dict[str, object]]:
    return [{"id": 100 + i, "owner_id": -555, "from_id": 7000 + i, "date": start + 60 * i, "text": TEXTS[i % 7],
             "post_type": "post"} for i in range(n)]


@pytest.fixture
def vk() -> Iterator[FakeVk]:
    with FakeVk("tok-1", vk_posts()) as fake:
        yield fake


def connector(fake: FakeVk, **fields: object) -> VkConnector:
    return VkConnector(source("vk", f"{fake.url}/method", queries=("яма",), **fields), FAST)


def test_search_pages_newest_first_until_next_from_runs_out(vk: FakeVk) -> None:
    c = connector(vk)
    first = c.fetch(None)
    assert [p.external_id for p in first.posts] == ["-555_106", "-555_105", "-555_104"]
    assert first.more and first.cursor["streams"]["q:яма"]["token"] == "3"
    second = c.fetch(first.cursor)
    third = c.fetch(second.cursor)
    assert [p.external_id for p in second.posts + third.posts] == ["-555_103", "-555_102", "-555_101", "-555_100"]
    assert not third.more
    assert third.cursor["streams"]["q:яма"] == {"since": T0 + 360, "token": None, "newest": T0 + 360}
    post = first.posts[0]
    assert post == IncomingPost(
        network="vk", external_id="-555_106", text="Доброе утро", published_at=datetime.fromtimestamp(T0 + 360, UTC),
        url="https://vk.com/wall-555_106", author="7006", region="perm-krai", raw=vk.posts[6],
    )
    search = vk.calls("newsfeed.search")
    assert [r.params.get("start_from") for r in search] == [None, "3", "6"]
    assert all(r.params["q"] == "яма" and r.params["v"] == "5.199" and r.params["count"] == "3" for r in search)


def test_the_next_round_starts_from_the_newest_post_seen_minus_the_lookback(vk: FakeVk) -> None:
    c = connector(vk, page_size=10)
    done = c.fetch(None)
    vk.posts.append({"id": 200, "owner_id": -555, "from_id": 1, "date": T0 + 3600, "text": "Новая яма"})
    again = c.fetch(done.cursor)
    assert vk.calls("newsfeed.search")[-1].params["start_time"] == str(T0 + 360 - 60)  # the default lookback
    assert [p.external_id for p in again.posts][:1] == ["-555_200"]
    assert again.cursor["streams"]["q:яма"]["since"] == T0 + 3600


@pytest.mark.parametrize("bad", [
    {"id": 1, "owner_id": -555, "text": "нет даты"},
    {"id": 2, "owner_id": -555, "date": T0, "text": None},
    {"id": "x", "owner_id": -555, "date": T0, "text": "id не число"},
    {"id": 3, "owner_id": -555, "date": "вчера", "text": "дата не число"},
    "not an object",
])
def test_a_malformed_item_is_skipped_and_counted_not_the_page(vk: FakeVk, bad: object) -> None:
    vk.posts[:] = vk_posts(2)
    vk.fail_next(Reply(body={"response": {"items": [vk.posts[1], bad, vk.posts[0]], "count": 3}}))
    page = connector(vk).fetch(None)
    assert [p.external_id for p in page.posts] == ["-555_101", "-555_100"]
    assert page.skipped == 1


@pytest.mark.parametrize("trouble", [
    FakeVk.error(6, "Too many requests per second"),
    FakeVk.error(9, "Flood control"),
    FakeVk.error(10, "Internal server error"),
    Reply(503, {"error": "unavailable"}),
    Reply(429, {}, {"Retry-After": "0"}),
])
def test_rate_limits_and_server_errors_are_retried(vk: FakeVk, trouble: Reply) -> None:
    vk.fail_next(trouble, times=2)
    page = connector(vk).fetch(None)
    assert len(page.posts) == 3
    assert len(vk.calls("newsfeed.search")) == 3


def test_retry_after_is_honoured(vk: FakeVk) -> None:
    vk.fail_next(Reply(429, {}, {"Retry-After": "1"}))
    started = time.monotonic()
    assert len(connector(vk).fetch(None).posts) == 3
    assert time.monotonic() - started >= 0.95


def test_a_retry_after_longer_than_the_backoff_allows_is_left_to_the_next_round(vk: FakeVk) -> None:
    vk.fail_next(Reply(429, {}, {"Retry-After": "900"}))
    with pytest.raises(RateLimited, match="429") as caught:
        connector(vk).fetch(None)
    assert caught.value.retry_after == 900
    assert len(vk.calls("newsfeed.search")) == 1


def test_the_daily_quota_is_not_retried_in_the_call(vk: FakeVk) -> None:
    vk.fail_next(FakeVk.error(29, "Rate limit reached"))
    with pytest.raises(RateLimited, match="VK error 29"):
        connector(vk).fetch(None)
    assert len(vk.calls("newsfeed.search")) == 1


def test_server_errors_that_last_give_up_after_the_attempts(vk: FakeVk) -> None:
    vk.fail_next(Reply(502, {}), times=10)
    with pytest.raises(TransientError, match="HTTP 502"):
        connector(vk).fetch(None)
    assert len(vk.calls("newsfeed.search")) == FAST.attempts


def test_a_revoked_token_is_not_retried(vk: FakeVk) -> None:
    vk.revoked = True
    with pytest.raises(TokenRevoked, match="VK error 5: User authorization failed"):
        connector(vk).fetch(None)
    assert len(vk.calls("newsfeed.search")) == 1


@pytest.mark.parametrize(("reply", "error"), [
    (Reply(raw=b"<html>502 Bad Gateway</html>"), BadPayload),
    (Reply(body={"something": "else"}), BadPayload),
    (Reply(body={"response": {"items": "not a list"}}), BadPayload),
    (FakeVk.error(15, "Access denied"), ConnectorError),
])
def test_an_answer_of_the_wrong_shape_fails_the_page_with_a_clear_error(vk: FakeVk, reply: Reply,
                                                                       error: type[Exception]) -> None:
    vk.fail_next(reply)
    with pytest.raises(error, match="vk-test"):
        connector(vk).fetch(None)


def test_a_gzipped_answer_is_read_and_an_oversized_one_refused(vk: FakeVk, monkeypatch: pytest.MonkeyPatch) -> None:
    body = json.dumps({"response": {"items": vk.posts[:2], "count": 2}}).encode()
    vk.fail_next(Reply(raw=gzip.compress(body), headers={"Content-Encoding": "gzip"}))
    assert [p.external_id for p in connector(vk).fetch(None).posts] == ["-555_100", "-555_101"]
    monkeypatch.setattr(base, "MAX_RESPONSE_BYTES", 100)
    with pytest.raises(BadPayload, match="more than 100 bytes"):
        connector(vk).fetch(None)


def test_community_walls_give_posts_and_their_comments(vk: FakeVk) -> None:
    vk.walls["-777"] = [
        {"id": 1, "owner_id": -777, "from_id": -777, "date": T0, "text": "Пишите, где нет света",
         "comments": {"count": 2}},
        {"id": 2, "owner_id": -777, "from_id": 5, "date": T0 + 10, "text": "Яма на Ленина", "comments": {"count": 0}},
    ]
    vk.comments["-777_1"] = [{"id": 11, "from_id": 42, "date": T0 + 100, "text": "На Гайве второй день без света"},
                             {"id": 12, "from_id": 43, "date": T0 + 200, "text": ""}]
    c = VkConnector(source("vk", f"{vk.url}/method", communities=("-777",), page_size=10), FAST)
    page = c.fetch(None)
    assert {p.external_id: p.url for p in page.posts} == {
        "-777_2": "https://vk.com/wall-777_2", "-777_1": "https://vk.com/wall-777_1",
        "-777_1_11": "https://vk.com/wall-777_1?reply=11",
    }
    assert page.skipped == 1  # the empty comment
    assert not page.more
    assert page.cursor["streams"]["wall:-777"]["since"] == T0 + 200
    assert [r.params["post_id"] for r in vk.calls("wall.getComments")] == ["1"]


def test_replies_are_wall_comments(vk: FakeVk) -> None:
    c = connector(vk)
    post = c.fetch(None).posts[0]
    answer = "Здравствуйте! Ремонт запланирован на среду."
    url = c.reply(post, answer)
    assert vk.replies == [{"owner_id": "-555", "post_id": "106", "message": answer, "access_token": "tok-1",
                           "v": "5.199", "comment_id": 1001}]
    assert url == "https://vk.com/wall-555_106?reply=1001"
    comment = IncomingPost("vk", "-777_1_11", "x", post.published_at)
    c.reply(comment, "Ответ")
    assert vk.replies[-1]["reply_to_comment"] == "11"
    assert vk.calls("wall.createComment")[-1].method == "POST"


def test_a_reply_to_something_that_is_not_a_wall_post_is_refused(vk: FakeVk) -> None:
    with pytest.raises(ConnectorError, match="not a wall post id"):
        connector(vk).reply(IncomingPost("vk", "abc", "x", datetime.now(UTC)), "Ответ")
    assert vk.replies == []

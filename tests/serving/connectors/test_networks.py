"""OK, Telegram, X, Facebook and Instagram connectors over real HTTP against their fakes: paging to the
end of a round, the common post record, malformed items skipped, rate limits retried (Retry-After,
x-rate-limit-reset, Telegram's retry_after), revoked tokens, replies."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from serving.connectors import (
    Connector,
    FacebookConnector,
    InstagramConnector,
    OkConnector,
    Page,
    TelegramConnector,
    TokenRevoked,
    XConnector,
)
from serving.connectors.ok import signature
from serving.ingest import IncomingPost
from tests.serving.connectors.conftest import FAST, T0, source
from tests.serving.connectors.fakes import FakeGraph, FakeOk, FakeServer, FakeTelegram, FakeX, Reply

TEXTS = ["Яма на дороге у дома 5", "Нет горячей воды", "Мусор не вывозят", "Снег во дворе", "Трамвай не ходит"]


def iso(seconds: int, fmt: str = "%Y-%m-%dT%H:%M:%S+0000") -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime(fmt)


def drain(c: Connector, cursor: dict[str, Any] | None = None) -> tuple[list[IncomingPost], Page]:
    """Fetch until the round has caught up; all posts and the last page."""
    posts: list[IncomingPost] = []
    while True:
        page = c.fetch(cursor)
        posts += page.posts
        cursor = page.cursor
        if not page.more:
            return posts, page


# ---- one table of networks: the fake, a connector for it, and the facts to check ---------------

def ok_fake() -> FakeOk:
    topics = [{"id": str(900 + i), "created_ms": (T0 + 60 * i) * 1000, "author_ref": f"user:{i}",
               "media": [{"type": "text", "text": t}, {"type": "photo"}]} for i, t in enumerate(TEXTS)]
    return FakeOk("APPKEY", "app-secret", "tok-1", {"55": topics})


def ok_connector(fake: FakeServer) -> Connector:
    return OkConnector(source("ok", f"{fake.url}/fb.do", communities=("55",), app_key="APPKEY",
                              secret="app-secret"), FAST)


def telegram_fake() -> FakeTelegram:
    updates = [{"update_id": 500 + i, "channel_post": {"message_id": 10 + i, "date": T0 + 60 * i, "text": t,
                                                       "chat": {"id": -1001234, "type": "channel",
                                                                "username": "perm_news", "title": "Пермь"}}}
               for i, t in enumerate(TEXTS)]
    updates.insert(2, {"update_id": 499, "my_chat_member": {"chat": {"id": 1}}})  # not a post: ignored
    return FakeTelegram("tok-1", updates)


def telegram_connector(fake: FakeServer) -> Connector:
    return TelegramConnector(source("telegram", fake.url, communities=("@perm_news",)), FAST)


def x_fake() -> FakeX:
    return FakeX("tok-1", [{"id": str(1_800_000_000_000_000_000 + i), "text": t, "created_at": iso(T0 + 60 * i,
                            "%Y-%m-%dT%H:%M:%S.000Z"), "author_id": str(40 + i)} for i, t in enumerate(TEXTS)])


def x_connector(fake: FakeServer) -> Connector:
    return XConnector(source("x", fake.url, queries=("яма lang:ru",), page_size=10), FAST)


def graph_fake() -> FakeGraph:
    feed = [{"id": f"321_{i}", "message": t, "created_time": iso(T0 + 60 * i), "from": {"id": str(i)},
             "permalink_url": f"https://www.facebook.com/321/posts/{i}"} for i, t in enumerate(TEXTS)]
    media = [{"id": str(1700 + i), "caption": t, "timestamp": iso(T0 + 60 * i),
              "permalink": f"https://www.instagram.com/p/abc{i}/"} for i, t in enumerate(TEXTS)]
    return FakeGraph("tok-1", feeds={"321": feed}, hashtags={"пермь": media})


def facebook_connector(fake: FakeServer) -> Connector:
    return FacebookConnector(source("facebook", fake.url, communities=("321",)), FAST)


def instagram_connector(fake: FakeServer) -> Connector:
    return InstagramConnector(source("instagram", fake.url, queries=("#пермь",), account="178414"), FAST)


NETWORKS: dict[str, tuple[Any, Any, list[str], str]] = {
    # fake, connector, external ids newest first, url of the newest
    "ok": (ok_fake, ok_connector, [f"55_{904 - i}" for i in range(5)], "https://ok.ru/group/55/topic/904"),
    "telegram": (telegram_fake, telegram_connector, [f"-1001234_{10 + i}" for i in range(5)],  # oldest first
                 "https://t.me/perm_news/10"),
    "x": (x_fake, x_connector, [str(1_800_000_000_000_000_004 - i) for i in range(5)],
          "https://x.com/i/web/status/1800000000000000004"),
    "facebook": (graph_fake, facebook_connector, [f"321_{4 - i}" for i in range(5)],
                 "https://www.facebook.com/321/posts/4"),
    "instagram": (graph_fake, instagram_connector, [str(1704 - i) for i in range(5)],
                  "https://www.instagram.com/p/abc4/"),
}


@pytest.fixture(params=list(NETWORKS))
def network(request: pytest.FixtureRequest) -> Iterator[tuple[str, FakeServer, Connector, list[str], str]]:
    make_fake, make_connector, ids, url = NETWORKS[request.param]
    with make_fake() as fake:
        c = make_connector(fake)
        yield request.param, fake, c, ids, url
        c.close()


def test_a_round_pages_through_everything_once(network: Any) -> None:
    name, _, c, ids, url = network
    posts, last = drain(c)
    assert [p.external_id for p in posts] == ids
    assert all(p.network == name and p.region == "perm-krai" and p.text in TEXTS and p.raw for p in posts)
    newest = max(posts, key=lambda p: p.published_at)
    assert newest.published_at == datetime.fromtimestamp(T0 + 240, UTC)
    if name != "telegram":
        assert newest.url == url
    again, _ = drain(c, last.cursor)
    assert len(again) <= 1  # at most the boundary post again: the store drops it as a duplicate


def test_a_malformed_item_is_skipped_and_counted(network: Any) -> None:
    name, fake, c, _, _ = network
    good = c.fetch(None)
    broken = {
        "ok": Reply(body={"media_topics": [{"id": "1", "media": []}, {"created_ms": 5}, 7], "has_more": False}),
        "telegram": Reply(body={"ok": True, "result": [
            {"update_id": 1, "channel_post": {"chat": {"id": -1001234, "username": "perm_news"}}},
            {"update_id": 2, "message": "x"}]}),
        "x": Reply(body={"data": [{"id": "5", "text": "без даты"}, {"id": "nan", "text": "x", "created_at": "x"}],
                         "meta": {"result_count": 2}}),
        "facebook": Reply(body={"data": [{"id": "1", "created_time": "2026-11-28T10:00:00+0000"}, {"id": "2"}]}),
        "instagram": None,
    }[name]
    if broken is None:  # instagram: the hashtag look-up first, then a broken media page
        fake.fail_next(Reply(body={"data": [{"id": "h-пермь"}]}))
        broken = Reply(body={"data": [{"id": "1", "timestamp": "вчера", "caption": "x"}, {"caption": "y"}]})
    fake.fail_next(broken)
    page = c.fetch(None)
    assert page.posts == () and page.skipped == (3 if name == "ok" else 2)
    assert good.posts


@pytest.mark.parametrize("kind", ["429", "503"])
def test_rate_limits_and_server_errors_are_retried(network: Any, kind: str) -> None:
    name, fake, c, _, _ = network
    reply = {
        "429": {"telegram": Reply(429, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry "
                                        "after 1", "parameters": {"retry_after": 1}}),
                "x": Reply(429, {"title": "Too Many Requests"}, {"x-rate-limit-reset": str(int(time.time()) + 1)}),
                }.get(name, Reply(429, {}, {"Retry-After": "1"})),
        "503": Reply(503, {}),
    }[kind]
    fake.fail_next(reply)
    started = time.monotonic()
    page = c.fetch(None)
    assert page.posts
    if kind == "429" and name != "x":  # x-rate-limit-reset has a one-second resolution
        assert time.monotonic() - started >= 0.95


@pytest.mark.parametrize("name", ["ok", "facebook"])
def test_their_own_rate_limit_codes_are_retried(name: str) -> None:
    make_fake, make_connector, _, _ = NETWORKS[name]
    with make_fake() as fake:
        limit = FakeGraph.error(400, 4, "Application request limit reached")
        fake.fail_next(FakeOk.error(8, "FLOOD_BLOCKED") if name == "ok" else limit)
        assert make_connector(fake).fetch(None).posts
        assert len(fake.requests) == 2


def test_a_revoked_token_raises_and_is_not_retried(network: Any) -> None:
    name, fake, c, _, _ = network
    fake.revoked = True
    with pytest.raises(TokenRevoked, match=f"{name}-test"):
        c.fetch(None)
    assert len(fake.requests) == 1


def test_replies_are_posted_as_answers_to_the_post(network: Any) -> None:
    name, fake, c, _, _ = network
    post = c.fetch(None).posts[0]
    url = c.reply(post, "Здравствуйте! Передали в администрацию.")
    [sent] = fake.replies
    assert (sent.get("text") or sent.get("message") or sent.get("comment")) == "Здравствуйте! Передали в администрацию."
    if name == "ok":
        assert (sent["entityId"], sent["entityType"]) == (post.external_id.split("_")[1], "GROUP_TOPIC")
    elif name == "telegram":
        assert f"{sent['chat_id']}_{sent['reply_parameters']['message_id']}" == post.external_id
    elif name == "x":
        assert sent["reply"] == {"in_reply_to_tweet_id": post.external_id}
    else:
        assert sent["object"] == post.external_id
    assert url.startswith("https://")


def test_ok_requests_are_signed_as_the_api_documents() -> None:
    # The worked example of the aiookru documentation (server-server signature of events.get).
    token = "-s-84W-s3egarWUsbkq-IWTucuedzTKT8VUXIA.s4Xx8IW7"
    params = {"application_key": "ABCDEFGHIGKLMNOPK", "format": "json", "method": "events.get", "access_token": token}
    assert signature(params, token, "ABC123DEF456GHI789JKL123") == "232c8eb921951c4dba9b72606f9ddb4c"
    with ok_fake() as fake:
        fake.app_secret = "another-secret"  # the server knows another secret: every signature is wrong
        with pytest.raises(TokenRevoked, match="PARAM_SIGNATURE"):
            ok_connector(fake).fetch(None)


def test_telegram_offset_confirms_what_was_stored_and_skips_other_chats() -> None:
    with telegram_fake() as fake:
        fake.updates.append({"update_id": 600, "message": {"message_id": 1, "date": T0, "text": "Чужой чат",
                                                            "chat": {"id": 77, "type": "group", "title": "x"}}})
        c = TelegramConnector(source("telegram", fake.url, communities=("@perm_news",), page_size=100), FAST)
        page = c.fetch(None)
        assert len(page.posts) == 5 and page.cursor == {"offset": 601}
        assert c.fetch(page.cursor).posts == ()
        assert fake.calls("getUpdates")[-1].params["offset"] == 601

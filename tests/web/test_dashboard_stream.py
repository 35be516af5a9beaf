"""The dashboard's live feed `/ui/dashboard/stream`: the Server-Sent Events of `GET /v1/stats/stream`
behind the session cookie. Each caller gets the counters of its own scope (the same as the API gives
its token), a change outside the scope sends nothing, and without a live session the feed is a 401,
never a redirect to the login form (which an EventSource would follow into an HTML page)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from serving.store import SystemClock, create_user, get_incident, issue_token, revoke_token
from serving.web.session import SESSION_COOKIE
from tests.web.conftest import HEATING, LIGHTS, World, csrf_of, login

STREAM = "/ui/dashboard/stream"
AsUser = Callable[[str], TestClient]


@pytest.fixture
def quick(web_app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    """Poll the database every 50 ms; a feed the test leaves ends on its own within 10 s."""
    monkeypatch.setattr(web_app.state.settings, "stats_poll_seconds", 0.05)
    monkeypatch.setattr(web_app.state.settings, "stats_stream_seconds", 10.0)


class Feed:
    """The lines of an open event stream, read as the test asks for them."""

    def __init__(self, response: httpx.Response) -> None:
        self.lines = response.iter_lines()

    def next_stats(self) -> tuple[dict[str, Any], int]:
        """The next `stats` event's JSON and the heartbeats before it."""
        heartbeats, event = 0, None
        for line in self.lines:
            if line == ": heartbeat":
                heartbeats += 1
            elif line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: "):
                assert event == "stats", line
                return json.loads(line.removeprefix("data: ")), heartbeats
        raise AssertionError("the stream ended without a stats event")

    def heartbeats(self, count: int) -> None:
        """Read `count` heartbeats (polls that found nothing new); a `stats` event among them fails."""
        seen = 0
        for line in self.lines:
            assert not line.startswith("event: "), f"unexpected {line!r}"
            seen += line == ": heartbeat"
            if seen == count:
                return
        raise AssertionError("the stream ended")


def first_stats(client: TestClient) -> dict[str, Any]:
    with client.stream("GET", STREAM) as response:
        assert response.status_code == 200, response.read()
        return Feed(response).next_stats()[0]


def api_rows(client: TestClient, token: str) -> list[dict[str, Any]]:
    """What `GET /v1/stats` gives the same user's token."""
    response = client.get("/v1/stats", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return list(response.json()["rows"])


def test_each_session_gets_its_own_scopes_counters(
    as_user: AsUser, started: TestClient, world: World, quick: None
) -> None:
    registered = {}
    for name in ("minister", "perm-city-watch", "perm-city", "zhilnadzor"):
        stats = first_stats(as_user(name))
        [row] = stats["rows"]
        assert stats["group_by"] == "none" and stats["since"] is None
        assert stats["rows"] == api_rows(started, world.tokens[name])
        registered[name] = row["registered"]
    # Everything; the city of Perm's potholes and street lights; the agencies: nothing routed to them yet.
    assert registered == {"minister": 4, "perm-city-watch": 2, "perm-city": 0, "zhilnadzor": 0}


def test_the_stream_is_an_uncompressed_event_stream(as_user: AsUser, quick: None) -> None:
    with as_user("minister").stream("GET", STREAM, headers={"Accept-Encoding": "gzip"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert "content-encoding" not in response.headers  # the pages' gzip would hold the events back
        assert response.headers["cache-control"] == "no-cache"
        assert next(response.iter_lines()) == "retry: 50"


def test_a_change_in_scope_is_pushed_and_one_outside_is_not(
    as_user: AsUser, web_app: FastAPI, world: World, quick: None
) -> None:
    admin = as_user("admin-perm")

    def accept(external_id: str) -> None:
        incident = world.incidents[external_id]
        with web_app.state.sessions() as session:
            version = get_incident(session, incident, SystemClock()).version
        answer = admin.post(f"/ui/incidents/{incident}/decision", follow_redirects=False,
                            data={"csrf": csrf_of(admin.get("/ui/queue").text), "action": "accept",
                                  "version": str(version)})
        assert answer.status_code == 303, answer.text

    with as_user("perm-city-watch").stream("GET", STREAM) as response:
        feed = Feed(response)
        before, _ = feed.next_stats()
        assert before["rows"][0]["accepted_unchanged"]["topic"] is None  # nothing decided yet

        accept(HEATING[0])  # Березники: not the city of Perm's
        feed.heartbeats(3)  # at least two polls after the decision, and no event

        accept(LIGHTS[0])
        after, _ = feed.next_stats()
    [row] = after["rows"]
    assert row["accepted_unchanged"] == {"topic": 1.0, "agency": 1.0, "municipality": 1.0}
    assert (row["registered"], row["open"]) == (2, 2)


@pytest.fixture(scope="module")
def revoked(web_app: FastAPI, world: World) -> str:
    """The cookie of a session whose token was revoked after the login."""
    clock = SystemClock()
    with web_app.state.sessions() as session:
        user = create_user(session, "бывший наблюдатель", "federal", clock)
        token = issue_token(session, user.id, clock)
    client = TestClient(web_app, follow_redirects=False)
    assert login(client, token).status_code == 303
    with web_app.state.sessions() as session:
        revoke_token(session, token, clock)
    return client.cookies[SESSION_COOKIE]


@pytest.fixture
def cookie_client(web_app: FastAPI, started: TestClient) -> Iterator[Callable[[str | None], TestClient]]:
    opened: list[TestClient] = []

    def make(value: str | None) -> TestClient:
        client = TestClient(web_app, follow_redirects=False, cookies={SESSION_COOKIE: value} if value else None)
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.close()


@pytest.mark.parametrize("cookie", ["none", "unknown", "revoked"])
def test_without_a_live_session_the_feed_is_401_not_a_redirect(
    cookie_client: Callable[[str | None], TestClient], revoked: str, cookie: str
) -> None:
    value = {"none": None, "unknown": "no-such-token", "revoked": revoked}[cookie]
    answer = cookie_client(value).get(STREAM)
    assert answer.status_code == 401
    assert "location" not in answer.headers
    assert not answer.headers["content-type"].startswith("text/event-stream")
    assert "войдите снова" in answer.text


def test_a_role_without_statistics_is_403(as_user: AsUser) -> None:
    answer = as_user("data-team").get(STREAM)
    assert answer.status_code == 403
    assert not answer.headers["content-type"].startswith("text/event-stream")

"""`GET /v1/stats` (every field, the 422 cases, the scope) and the live feed `GET /v1/stats/stream`
over a real two-worker server: events when the counters change, heartbeats between, nothing for a
caller whose counters did not change, and the stream ends on the server when the client goes."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from model.region import Region
from serving.app import create_app
from serving.database import make_engine, make_sessions
from serving.deps import get_clock
from serving.store import ManualClock, SystemClock, create_user, decide, get_incident, ingest_posts, issue_token
from tests.serving.conftest import ADMIN, make_settings
from tests.serving.server import running_server
from tests.serving.store.conftest import T0, FakeModel, post
from training.train import TrainResult

AUTH = {"Authorization": f"Bearer {ADMIN}"}
POTHOLE = "яма на дороге у дома номер {n}"  # the fake model: roads, municipality, Пермь (57701000)
HEATING = "батареи холодные в квартире номер {n}"  # housing, housing_inspection, Березники (57708000)


def register(sessions: Any, regions: dict[str, Region], clock: Any, template: str, n: int) -> int:
    model = FakeModel()
    text = template.format(n=n)
    with sessions() as session:
        result = ingest_posts(session, [post(f"s{n}", text, clock.now())], model.predict, model.rules, clock, regions)
    return result.incidents[0].incident_id


# ---- GET /v1/stats ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def stats_app(trained: TrainResult, regions: dict[str, Region],
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, FastAPI, ManualClock]]:
    app = create_app(make_settings(trained.bundle.parent, tmp_path_factory.mktemp("stats")))
    clock = ManualClock(T0)
    app.dependency_overrides[get_clock] = lambda: clock
    with TestClient(app) as client:
        sessions = app.state.sessions
        first = register(sessions, regions, clock, POTHOLE, 1)
        register(sessions, regions, clock, HEATING, 2)
        clock.set(T0 + timedelta(hours=1))
        with sessions() as session:
            decide(session, first, "accept", get_incident(session, first, clock).version, "admin", clock)
        clock.set(T0 + timedelta(hours=30))  # both past their deadline, neither answered
        yield client, app, clock


def test_stats_every_field(stats_app: tuple[TestClient, FastAPI, ManualClock]) -> None:
    client, _, clock = stats_app
    response = client.get("/v1/stats", params={"group_by": "municipality"}, headers=AUTH)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["group_by"] == "municipality" and body["since"] is None and body["until"] is None
    assert datetime.fromisoformat(body["generated_at"]) == clock.now()
    assert body["rows"] == [
        {"key": "57701000", "registered": 1, "answered": 0, "answered_in_time": 0, "overdue_now": 1, "dismissed": 0,
         "open": 1, "share_in_time": None, "median_hours_to_answer": None, "p90_hours_to_answer": None,
         "accepted_unchanged": {"topic": 1.0, "agency": 1.0, "municipality": 1.0}},
        {"key": "57708000", "registered": 1, "answered": 0, "answered_in_time": 0, "overdue_now": 1, "dismissed": 0,
         "open": 1, "share_in_time": None, "median_hours_to_answer": None, "p90_hours_to_answer": None,
         "accepted_unchanged": {"topic": None, "agency": None, "municipality": None}},
    ]
    later = client.get("/v1/stats", params={"since": (T0 + timedelta(minutes=1)).isoformat()}, headers=AUTH)
    assert later.json()["rows"][0]["registered"] == 0
    days = client.get("/v1/stats", params={"group_by": "day"}, headers=AUTH).json()["rows"]
    assert [(row["key"], row["registered"]) for row in days] == [("2026-11-28", 2)]


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"group_by": "week"}, "group_by", "pattern"),
        ({"since": "2026-11-28T10:00:00"}, "since", "timezone"),
        ({"until": "вчера"}, "until", "datetime"),
        ({"since": "2026-11-29T00:00:00+05:00", "until": "2026-11-28T00:00:00+05:00"}, "until", "later than since"),
        ({"region": "moscow"}, "region", "unknown region 'moscow'"),
        ({"region": "x" * 65}, "region", "at most 64"),
        ({"agency": "police"}, "agency", "unknown agency 'police'"),
        ({"region": "perm-krai", "municipality": "65701000"}, "municipality", "not an OKTMO code of perm-krai"),
    ],
)
def test_bad_parameters_are_422_naming_them(stats_app: tuple[TestClient, FastAPI, ManualClock],
                                            params: dict[str, str], field: str, message: str) -> None:
    client, _, _ = stats_app
    for path in ("/v1/stats", "/v1/stats/stream"):
        response = client.get(path, params=params, headers=AUTH)
        assert response.status_code == 422, response.text
        [problem] = response.json()["detail"]
        assert problem["loc"] == ["query", field]
        assert message in problem["msg"]


def test_a_filter_outside_the_scope_is_empty(stats_app: tuple[TestClient, FastAPI, ManualClock]) -> None:
    client, app, clock = stats_app
    with app.state.sessions() as session:
        user = create_user(session, "Пермь", "municipal", clock, "perm-krai", municipality="57701000")
        token = issue_token(session, user.id, clock)
    mine = {"Authorization": f"Bearer {token}"}
    rows = client.get("/v1/stats", params={"group_by": "municipality"}, headers=mine).json()["rows"]
    assert [row["key"] for row in rows] == ["57701000"]
    outside = client.get("/v1/stats", params={"municipality": "57708000"}, headers=mine)
    assert outside.status_code == 200 and outside.json()["rows"] == []


def test_the_stream_ends_after_its_lifetime(stats_app: tuple[TestClient, FastAPI, ManualClock],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    client, app, _ = stats_app
    monkeypatch.setattr(app.state.settings, "stats_poll_seconds", 0.05)
    monkeypatch.setattr(app.state.settings, "stats_stream_seconds", 0.3)
    response = client.get("/v1/stats/stream", headers=AUTH)  # returns only because the stream ends
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.text.startswith("retry: 50\n\nevent: stats\ndata: {")
    assert response.text.count("event: stats") == 1 and ": heartbeat" in response.text
    assert response.text.endswith('event: end\ndata: {"reason": "lifetime"}\n\n')


# ---- GET /v1/stats/stream over a real server --------------------------------------------------

class Feed:
    """An SSE client in a thread: `stats` events go to a queue, heartbeats are counted."""

    def __init__(self, url: str, token: str) -> None:
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.heartbeats = 0
        self.status: int | None = None
        self._client = httpx.Client(base_url=url, timeout=httpx.Timeout(30, read=10))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(token,), daemon=True)
        self._thread.start()

    def _run(self, token: str) -> None:
        try:
            self._read(token)
        except httpx.HTTPError:
            if not self._stop.is_set():  # closing the client from the test ends the read with an error
                raise

    def _read(self, token: str) -> None:
        with self._client.stream("GET", "/v1/stats/stream", headers={"Authorization": f"Bearer {token}"}) as response:
            self.status = response.status_code
            event = None
            for line in response.iter_lines():
                if line.startswith(": heartbeat"):
                    self.heartbeats += 1
                elif line.startswith("event: "):
                    event = line.removeprefix("event: ")
                elif line.startswith("data: ") and event == "stats":
                    self.events.put(json.loads(line.removeprefix("data: ")))

    def next(self, timeout: float = 15) -> dict[str, Any]:
        return self.events.get(timeout=timeout)

    def close(self) -> None:
        self._stop.set()
        self._client.close()
        self._thread.join(10)


@pytest.fixture(scope="module")
def server(trained: TrainResult, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    var = tmp_path_factory.mktemp("stream")
    env = {"OTKLIK_MODELS_DIR": str(trained.bundle.parent), "OTKLIK_ADMIN_TOKEN": ADMIN, "OTKLIK_ENV": "test",
           "OTKLIK_VAR_DIR": str(var), "OTKLIK_STATS_POLL_SECONDS": "0.2"}
    with running_server(env, var / "server.log", workers=2) as url:
        yield url, var


def test_the_feed_pushes_each_change_to_the_callers_whose_counters_changed(
    server: tuple[str, Path], regions: dict[str, Region]
) -> None:
    url, var = server
    engine = make_engine(f"sqlite:///{var / 'otklik.db'}")  # the server's store: the source of truth
    sessions = make_sessions(engine)
    clock = SystemClock()
    with sessions() as session:
        user = create_user(session, "Пермь", "municipal", clock, "perm-krai", municipality="57701000")
        municipal_token = issue_token(session, user.id, clock)
    admin, municipal = Feed(url, ADMIN), Feed(url, municipal_token)
    try:
        assert admin.next()["rows"][0]["registered"] == 0
        assert municipal.next()["rows"][0]["registered"] == 0
        assert (admin.status, municipal.status) == (200, 200)

        register(sessions, regions, clock, HEATING, 1)  # Березники: not the municipal caller's
        assert admin.next()["rows"][0]["registered"] == 1
        pothole = register(sessions, regions, clock, POTHOLE, 2)  # Пермь: both see it
        assert admin.next()["rows"][0]["registered"] == 2
        assert municipal.next()["rows"][0]["registered"] == 1  # its first change: the Березники post was not one

        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN}"}) as c:
            accepted = c.post(f"/v1/incidents/{pothole}/decision", json={"action": "accept", "version": 1})
            assert accepted.status_code == 200, accepted.text
            [row] = municipal.next()["rows"]
            assert row["accepted_unchanged"] == {"topic": 1.0, "agency": 1.0, "municipality": 1.0}
            answered = c.post(f"/v1/incidents/{pothole}/response", json={"text": "Яму заделаем до пятницы"})
            assert answered.status_code == 200, answered.text
        [row] = municipal.next()["rows"]
        assert (row["answered"], row["answered_in_time"], row["open"]) == (1, 1, 0)
        before = municipal.heartbeats
        time.sleep(1)  # five polls with nothing new: heartbeats only
        assert municipal.heartbeats > before and municipal.events.empty()
    finally:
        admin.close()
        municipal.close()
        engine.dispose()
    log = var / "server.log"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and log.read_text().count('"stats stream ended"') < 2:
        time.sleep(0.2)
    assert log.read_text().count('"stats stream ended"') == 2  # both streams stopped when their clients went

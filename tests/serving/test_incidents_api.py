"""The incident API of issue 6 with the real app and the real trained bundle, on SQLite and on
PostgreSQL (each test gets an empty store; the PostgreSQL variant skips with a reason when the
server does not answer)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from threading import Barrier
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from serving.database import make_engine
from serving.deps import get_clock
from serving.store import ManualClock, create_user, decisions_of, issue_token
from tests.serving.conftest import ADMIN
from tests.serving.server import running_server
from tests.serving.store.conftest import Db, migrated_postgres, migrated_sqlite, postgres  # noqa: F401
from tests.serving.store.conftest import db as db
from training.train import TrainResult

T0 = datetime.fromisoformat("2026-11-28T10:00:00+05:00")
YEKATERINBURG = ZoneInfo("Asia/Yekaterinburg")
POTHOLE = "На Гайве огромная яма на дороге, третью неделю никто не чинит!!!"  # Perm, roads
HEATING = "Третий день батареи холодные в Березниках, УК трубку не берёт"  # Berezniki, housing
GARBAGE_EKB = "В Екатеринбурге на Уралмаше вторую неделю не вывозят мусор, контейнеры переполнены"
AD = "Продаю велосипед, почти новый, недорого"  # no rule matches: stored, not registered
NO_PLACE = "Яма на дороге третью неделю, никто не чинит"


def wire(external_id: str, text: str, region: str | None = "perm-krai", **extra: Any) -> dict[str, Any]:
    out = {"network": "vk", "external_id": external_id, "text": text, "published_at": T0.isoformat(), **extra}
    if region is not None:
        out["region"] = region
    return out


@dataclass
class Api:
    client: TestClient
    db: Db
    clock: ManualClock
    admin: dict[str, str]

    def user(self, name: str, role: str, **scope: str) -> dict[str, str]:
        """The Authorization header of a new user of `role` with `scope` (region, agency, municipality)."""
        with self.db.session() as s:
            user = create_user(s, name, role, self.clock, **scope)
            token = issue_token(s, user.id, self.clock)
        return {"Authorization": f"Bearer {token}"}

    def ingest(self, posts: list[dict[str, Any]], headers: dict[str, str] | None = None) -> Any:
        r = self.client.post("/v1/posts", json={"posts": posts}, headers=headers or self.admin)
        assert r.status_code == 200, r.text
        return r.json()

    def incident(self, incident_id: int, headers: dict[str, str] | None = None) -> httpx.Response:
        return self.client.get(f"/v1/incidents/{incident_id}", headers=headers or self.admin)

    def decide(self, incident_id: int, headers: dict[str, str] | None = None, **body: Any) -> httpx.Response:
        return self.client.post(f"/v1/incidents/{incident_id}/decision", json=body, headers=headers or self.admin)

    def respond(self, incident_id: int, headers: dict[str, str], **body: Any) -> httpx.Response:
        return self.client.post(f"/v1/incidents/{incident_id}/response", json=body, headers=headers)

    def queue(self, headers: dict[str, str] | None = None, **params: Any) -> httpx.Response:
        return self.client.get("/v1/queue", params=params, headers=headers or self.admin)


@pytest.fixture
def api(app: FastAPI, client: TestClient, db: Db) -> Iterator[Api]:
    """The module's app (real bundle) pointed at this test's empty store, with a hand-driven clock."""
    clock = ManualClock(T0)
    saved = app.state.engine, app.state.sessions
    app.state.engine, app.state.sessions = db.engine, db.sessions
    app.dependency_overrides[get_clock] = lambda: clock
    try:
        yield Api(client, db, clock, {"Authorization": f"Bearer {ADMIN}"})
    finally:
        app.state.engine, app.state.sessions = saved
        app.dependency_overrides.clear()


def detail(r: httpx.Response) -> str:
    return json.dumps(r.json()["detail"], ensure_ascii=False)


# ---- POST /v1/posts -------------------------------------------------------------------------

def test_ingest_stores_predicts_registers_and_answers_in_the_wire_format(api: Api) -> None:
    body = api.ingest([wire("-1_1", POTHOLE, url="https://vk.com/wall-1_1", author="Ирина"), wire("-1_2", AD)])
    assert body["created"] == ["-1_1", "-1_2"] and body["duplicates"] == []
    [registered] = body["incidents"]
    assert set(registered) == {"external_id", "incident_id"} and registered["external_id"] == "-1_1"

    r = api.incident(registered["incident_id"])
    assert r.status_code == 200, r.text
    got = r.json()
    assert set(got) == {"id", "version", "status", "post", "registered_at", "deadline", "overdue", "suggested",
                        "final", "answered_at", "sla_met"}
    assert (got["id"], got["version"], got["status"]) == (registered["incident_id"], 1, "new")
    assert got["post"] == {"network": "vk", "external_id": "-1_1", "url": "https://vk.com/wall-1_1",
                           "text": POTHOLE, "published_at": "2026-11-28T10:00:00+05:00"}
    # times in the region's zone (Asia/Yekaterinburg, +05:00), deadline = registration + 24 h
    assert got["registered_at"] == api.clock.now().astimezone(YEKATERINBURG).isoformat()
    assert got["deadline"] == (api.clock.now() + timedelta(hours=24)).astimezone(YEKATERINBURG).isoformat()
    assert got["registered_at"].endswith("+05:00")
    assert got["overdue"] is False and got["final"] is None and got["answered_at"] is None and got["sla_met"] is None
    s = got["suggested"]
    assert (s["topic"], s["agency"], s["municipality"]) == ("roads", "municipality", "57701000")
    assert s["body"] and isinstance(s["needs_review"], bool)
    assert set(s["scores"]) == {"relevance", "topic", "agency"}
    # [[code, score], ...]: the suggestion first, then the runners-up the card offers
    agencies = s["scores"]["agency"]
    assert [len(entry) for entry in agencies] == [2, 2, 2] and agencies[0][0] == "municipality"
    assert s["explanation"]["rules"] and s["explanation"]["place"]  # registered posts carry the explanation


def test_replaying_a_batch_creates_nothing_and_names_the_duplicates(api: Api) -> None:
    batch = [wire("-2_1", POTHOLE), wire("-2_2", HEATING), wire("-2_3", AD)]
    first = api.ingest(batch)
    again = api.ingest(batch)
    assert again == {"created": [], "duplicates": ["-2_1", "-2_2", "-2_3"], "incidents": []}
    assert len(first["incidents"]) == 2
    assert (api.db.count("posts"), api.db.count("incidents")) == (3, 2)


def test_a_post_without_region_is_routed_by_its_toponyms_or_refused(api: Api) -> None:
    body = api.ingest([wire("-3_1", GARBAGE_EKB, region=None), wire("-3_2", POTHOLE, region=None)])
    ekb, perm = (api.incident(r["incident_id"]).json() for r in body["incidents"])
    assert ekb["suggested"]["municipality"] == "65701000" and perm["suggested"]["municipality"] == "57701000"

    r = api.client.post("/v1/posts", json={"posts": [wire("-3_3", POTHOLE), wire("-3_4", NO_PLACE, region=None)]},
                        headers=api.admin)
    assert r.status_code == 422
    [problem] = r.json()["detail"]
    assert problem["loc"] == ["body", "posts", 1, "region"] and "-3_4" in problem["msg"]
    assert api.db.count("posts") == 2  # the whole batch was refused, nothing of it stored


@pytest.mark.parametrize(
    ("post", "loc", "words"),
    [
        ({"text": ""}, ["body", "posts", 0, "text"], "empty"),
        ({"text": "я" * 2001}, ["body", "posts", 0, "text"], "limit is 2000"),
        ({"region": "mars"}, ["body", "posts", 0, "region"], "kursk-oblast, perm-krai, sverdlovsk-oblast"),
        ({"external_id": "x" * 129}, ["body", "posts", 0, "external_id"], "at most 128"),
        ({"url": "https://vk.com/" + "h" * 2034}, ["body", "posts", 0, "url"], "the limit is 2048"),
        ({"author": "a" * 257}, ["body", "posts", 0, "author"], "at most 256"),
        ({"published_at": "2026-11-28T10:00:00"}, ["body", "posts", 0, "published_at"], "timezone"),
        ({"network": "myspace"}, ["body", "posts", 0, "network"], "'vk'"),
        ({"likes": 3}, ["body", "posts", 0, "likes"], "Extra inputs"),
    ],
)
def test_a_bad_post_is_422_naming_the_field_and_stores_nothing(
    api: Api, post: dict[str, Any], loc: list[Any], words: str
) -> None:
    r = api.client.post("/v1/posts", json={"posts": [{**wire("-4_1", POTHOLE), **post}]}, headers=api.admin)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == loc and words in detail(r)
    assert api.db.count("posts") == 0


def test_batch_size_limits(api: Api) -> None:
    r = api.client.post("/v1/posts", json={"posts": []}, headers=api.admin)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "posts"]
    r = api.client.post("/v1/posts", json={"posts": [wire(f"-5_{i}", AD) for i in range(51)]}, headers=api.admin)
    assert r.status_code == 422 and "51 posts in one request; the limit is 50" in detail(r)
    assert api.db.count("posts") == 0


def test_who_may_ingest_and_where(api: Api) -> None:
    ekb_admin = api.user("ekb", "regional_admin", region="sverdlovsk-oblast")
    r = api.client.post("/v1/posts", json={"posts": [wire("-6_1", POTHOLE)]}, headers=ekb_admin)
    assert r.status_code == 403 and "'perm-krai'" in detail(r) and "'sverdlovsk-oblast'" in detail(r)
    # without a region, a regional administrator's post goes into its own region
    body = api.ingest([wire("-6_2", GARBAGE_EKB, region=None)], headers=ekb_admin)
    assert len(body["incidents"]) == 1
    agency = api.user("roads", "agency", region="perm-krai", agency="municipality")
    r = api.client.post("/v1/posts", json={"posts": [wire("-6_3", POTHOLE)]}, headers=agency)
    assert r.status_code == 403 and "may not ingest" in detail(r)
    r = api.client.post("/v1/posts", json={"posts": [wire("-6_4", POTHOLE)]})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    r = api.client.post("/v1/posts", json={"posts": [wire("-6_5", POTHOLE)]}, headers={"Authorization": "Bearer no"})
    assert r.status_code == 401 and "unknown or revoked token" in detail(r)
    assert api.db.count("posts") == 1


# ---- GET /v1/queue and /v1/incidents/{id} ----------------------------------------------------

def registered(api: Api, n: int, text: str = POTHOLE, region: str = "perm-krai", step: timedelta = timedelta(0),
               prefix: str = "-7") -> list[int]:
    """`n` incidents, one a batch, the clock moved by `step` after each (so deadlines differ)."""
    ids = []
    for i in range(n):
        # different numbers keep the posts from being near-duplicates of each other
        body = api.ingest([wire(f"{prefix}_{i}", f"{text} Дом {i + 1}", region=region)])
        ids.append(body["incidents"][0]["incident_id"])
        api.clock.advance(step)
    return ids


def test_queue_pages_by_deadline_with_a_cursor(api: Api) -> None:
    ids = registered(api, 5, step=timedelta(minutes=1))
    first = api.queue(limit=2)
    assert first.status_code == 200, first.text
    page = first.json()
    assert set(page) == {"items", "next_cursor"}
    assert [i["id"] for i in page["items"]] == ids[:2] and page["next_cursor"]
    second = api.queue(limit=2, cursor=page["next_cursor"]).json()
    third = api.queue(limit=2, cursor=second["next_cursor"]).json()
    assert [i["id"] for i in second["items"]] == ids[2:4]
    assert [i["id"] for i in third["items"]] == ids[4:] and third["next_cursor"] is None
    page = api.queue(order="uncertainty", limit=3).json()
    rest = api.queue(order="uncertainty", limit=3, cursor=page["next_cursor"]).json()
    assert sorted(i["id"] for i in page["items"] + rest["items"]) == ids and rest["next_cursor"] is None


def test_queue_filters(api: Api) -> None:
    [pothole] = registered(api, 1)
    [heating] = registered(api, 1, text=HEATING, prefix="-8")
    [ekb] = registered(api, 1, text=GARBAGE_EKB, region="sverdlovsk-oblast", prefix="-9")
    assert api.decide(heating, action="dismiss", version=1, reason="Не жалоба").status_code == 200

    def ids(**params: Any) -> list[int]:
        r = api.queue(**params)
        assert r.status_code == 200, r.text
        return sorted(i["id"] for i in r.json()["items"])

    assert ids() == sorted([pothole, heating, ekb])
    assert ids(region="sverdlovsk-oblast") == [ekb]
    assert ids(status="new") == sorted([pothole, ekb])
    assert ids(status="new,dismissed") == ids(status=["new", "dismissed"]) == sorted([pothole, heating, ekb])
    assert ids(topic="roads") == [pothole]
    assert ids(agency="waste_operator") == [ekb]
    assert ids(municipality="57701000") == [pothole]
    assert ids(overdue="true") == []
    api.clock.advance(timedelta(hours=24, seconds=1))
    assert ids(overdue="true") == sorted([pothole, ekb])  # dismissed is closed: never overdue
    assert api.incident(pothole).json()["overdue"] is True


def test_needs_review_filter_splits_the_queue(api: Api) -> None:
    ids = registered(api, 2) + registered(api, 1, text="Нижний Тагил: на Вагонке огромные ямы на дороге", prefix="-10",
                                          region="sverdlovsk-oblast")
    flags = {i["id"]: i["suggested"]["needs_review"] for i in api.queue().json()["items"]}
    assert set(flags) == set(ids)
    for value in (True, False):
        got = {i["id"] for i in api.queue(needs_review=str(value).lower()).json()["items"]}
        assert got == {i for i, flag in flags.items() if flag is value}


@pytest.mark.parametrize(
    ("params", "status", "loc", "words"),
    [
        ({"status": "open"}, 422, ["query", "status"], "unknown status 'open'"),
        ({"limit": 0}, 422, ["query", "limit"], "greater than or equal to 1"),
        ({"limit": 501}, 422, ["query", "limit"], "less than or equal to 500"),
        ({"order": "random"}, 422, ["query", "order"], "'deadline' or 'uncertainty'"),
        ({"overdue": "maybe"}, 422, ["query", "overdue"], "valid boolean"),
        ({"cursor": "not-a-cursor"}, 400, None, "not one this queue made"),
    ],
)
def test_bad_queue_parameters(api: Api, params: dict[str, Any], status: int, loc: list[str] | None,
                              words: str) -> None:
    r = api.queue(**params)
    assert r.status_code == status, r.text
    if loc is not None:
        assert r.json()["detail"][0]["loc"] == loc
    assert words in detail(r)


def test_a_cursor_of_the_other_order_is_400(api: Api) -> None:
    registered(api, 2)
    cursor = api.queue(limit=1).json()["next_cursor"]
    r = api.queue(order="uncertainty", cursor=cursor)
    assert r.status_code == 400 and "pages the queue by deadline" in detail(r)


def test_scope_a_sverdlovsk_admin_does_not_see_perm(api: Api) -> None:
    [perm] = registered(api, 1)
    [ekb] = registered(api, 1, text=GARBAGE_EKB, region="sverdlovsk-oblast", prefix="-11")
    ekb_admin = api.user("ekb", "regional_admin", region="sverdlovsk-oblast")
    assert [i["id"] for i in api.queue(ekb_admin).json()["items"]] == [ekb]
    assert api.queue(ekb_admin, region="perm-krai").json() == {"items": [], "next_cursor": None}
    r = api.incident(perm, ekb_admin)
    assert r.status_code == 404 and detail(r) == f'"no incident {perm}"'
    assert api.incident(ekb, ekb_admin).status_code == 200
    r = api.decide(perm, ekb_admin, action="accept", version=1)
    assert r.status_code == 404
    assert api.incident(perm).json()["version"] == 1  # untouched
    # an agency sees an incident once it is routed to it, in its region; a municipal user its municipality
    waste = api.user("waste", "agency", region="sverdlovsk-oblast", agency="waste_operator")
    assert api.queue(waste).json()["items"] == [] and api.incident(ekb, waste).status_code == 404
    assert api.decide(ekb, ekb_admin, action="accept", version=1).status_code == 200
    assert [i["id"] for i in api.queue(waste).json()["items"]] == [ekb]
    assert api.queue(waste, agency="municipality").json()["items"] == []
    perm_city = api.user("perm-city", "municipal", region="perm-krai", municipality="57701000")
    assert [i["id"] for i in api.queue(perm_city).json()["items"]] == [perm]
    assert api.incident(ekb, perm_city).status_code == 404
    ml = api.user("ml", "ml")
    assert api.queue(ml).status_code == 403 and "may not read incidents" in detail(api.queue(ml))


def test_unknown_incident_is_404(api: Api) -> None:
    for r in (api.incident(999), api.decide(999, action="accept", version=1)):
        assert r.status_code == 404 and detail(r) == '"no incident 999"'
    assert api.client.get("/v1/incidents/abc", headers=api.admin).status_code == 422
    assert api.client.get("/v1/queue").status_code == 401


# ---- decisions and responses -------------------------------------------------------------------

def test_accept_then_respond_in_time_closes_the_incident(api: Api) -> None:
    [incident] = registered(api, 1)
    admin = api.user("perm", "regional_admin", region="perm-krai")
    r = api.decide(incident, admin, action="accept", version=1)
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["status"], got["version"]) == ("routed", 2)
    assert got["final"] == {"topic": "roads", "agency": "municipality", "municipality": "57701000"}
    agency = api.user("perm-admin", "agency", region="perm-krai", agency="municipality")
    api.clock.advance(timedelta(hours=23))
    r = api.respond(incident, agency, text="Яму заделаем до пятницы.", url="https://vk.com/wall-1_99")
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["status"], got["version"], got["sla_met"], got["overdue"]) == ("answered", 3, True, False)
    assert got["answered_at"] == api.clock.now().astimezone(YEKATERINBURG).isoformat()
    with api.db.session() as s:
        log = decisions_of(s, incident)
    assert [(d.action, d.actor) for d in log] == [("accept", "perm"), ("respond", "perm-admin")]


def test_a_late_answer_misses_the_sla(api: Api) -> None:
    [incident] = registered(api, 1)
    api.decide(incident, action="accept", version=1)
    api.clock.advance(timedelta(hours=25))
    assert api.incident(incident).json()["overdue"] is True
    agency = api.user("late", "agency", region="perm-krai", agency="municipality")
    got = api.respond(incident, agency, text="Сделано.").json()
    assert (got["sla_met"], got["overdue"]) == (False, False)


def test_correct_dismiss_and_reassign(api: Api) -> None:
    a, b = registered(api, 2)
    got = api.decide(a, action="correct", version=1, agency="transport_ministry").json()
    assert got["final"] == {"topic": "roads", "agency": "transport_ministry", "municipality": "57701000"}
    agency = api.user("transport", "agency", region="perm-krai", agency="transport_ministry")
    r = api.decide(a, agency, action="reassign", version=2, reason="Не наша дорога")
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["final"]) == ("new", None)
    r = api.decide(a, agency, action="reassign", version=3, reason="ещё раз")
    assert r.status_code == 404  # back in the queue, routed to no one: outside the agency's scope now
    got = api.decide(b, action="dismiss", version=1, reason="Не жалоба").json()
    assert got["status"] == "dismissed"


@pytest.mark.parametrize(
    ("body", "loc", "words"),
    [
        ({"action": "correct", "version": 1, "topic": "weather"}, ["body", "topic"], "unknown topic 'weather'"),
        ({"action": "correct", "version": 1, "agency": "nasa"}, ["body", "agency"], "unknown agency 'nasa'"),
        ({"action": "correct", "version": 1, "municipality": "1"}, ["body", "municipality"], "not an OKTMO code"),
        ({"action": "correct", "version": 1}, ["body", "action"], "needs at least one of"),
        ({"action": "dismiss", "version": 1}, ["body", "reason"], "needs a reason"),
        ({"action": "accept", "version": 1, "topic": "roads"}, ["body", "topic"], "takes no labels"),
        ({"action": "approve", "version": 1}, ["body", "action"], "'accept', 'correct', 'dismiss' or 'reassign'"),
        ({"action": "accept"}, ["body", "version"], "Field required"),
        ({"action": "accept", "version": 0}, ["body", "version"], "greater than or equal to 1"),
        ({"action": "dismiss", "version": 1, "reason": "x" * 2001}, ["body", "reason"], "at most 2000"),
        ({"action": "accept", "version": 1, "note": "x"}, ["body", "note"], "Extra inputs"),
    ],
)
def test_a_bad_decision_is_422_naming_the_field(api: Api, body: dict[str, Any], loc: list[str], words: str) -> None:
    [incident] = registered(api, 1)
    r = api.decide(incident, **body)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == loc and words in detail(r)
    assert api.incident(incident).json()["version"] == 1


def test_a_stale_version_is_409_with_the_current_state(api: Api) -> None:
    [incident] = registered(api, 1)
    assert api.decide(incident, action="accept", version=1).status_code == 200
    r = api.decide(incident, action="dismiss", version=1, reason="поздно")
    assert r.status_code == 409
    body = r.json()
    assert set(body) == {"detail", "current"}
    assert "version 2" in body["detail"] and "against version 1" in body["detail"]
    assert (body["current"]["version"], body["current"]["status"]) == (2, "routed")


def test_an_illegal_transition_is_409_with_the_allowed_actions(api: Api) -> None:
    [incident] = registered(api, 1)
    api.decide(incident, action="dismiss", version=1, reason="реклама")
    r = api.decide(incident, action="accept", version=2)
    assert r.status_code == 409
    body = r.json()
    assert body["allowed_actions"] == [] and body["current"]["status"] == "dismissed"
    assert "'accept' is not possible" in body["detail"]
    [other] = registered(api, 1, text=HEATING, prefix="-12")
    r = api.respond(other, api.admin, text="Ответ до решения")
    assert r.status_code == 409
    assert r.json()["allowed_actions"] == ["accept", "correct", "dismiss"]


def test_who_may_decide_what(api: Api) -> None:
    [incident] = registered(api, 1)
    agency = api.user("a", "agency", region="perm-krai", agency="municipality")
    r = api.decide(incident, agency, action="accept", version=1)
    assert r.status_code == 403 and "may not accept" in detail(r)
    federal = api.user("f", "federal")
    for action in ("reassign", "dismiss"):  # a federal supervisor decides nothing: said without naming one action
        r = api.decide(incident, federal, action=action, version=1, reason="x")
        assert r.status_code == 403 and "'federal' may not decide on incidents" in detail(r), r.text
    admin = api.user("p", "regional_admin", region="perm-krai")
    r = api.respond(incident, admin, text="Ответ")
    assert r.status_code == 403 and "may not respond" in detail(r)


@pytest.mark.parametrize(
    ("body", "loc", "words"),
    [
        ({"text": "   "}, ["body", "text"], "empty"),
        ({"text": ""}, ["body", "text"], "at least 1 character"),
        ({"text": "я" * 2001}, ["body", "text"], "limit is 2000"),
        ({"text": "ok", "url": "https://vk.com/" + "h" * 2034}, ["body", "url"], "the limit is 2048"),
        ({"text": "ok", "photo": "x"}, ["body", "photo"], "Extra inputs"),
    ],
)
def test_a_bad_response_is_422_naming_the_field(api: Api, body: dict[str, Any], loc: list[str], words: str) -> None:
    [incident] = registered(api, 1)
    api.decide(incident, action="accept", version=1)
    agency = api.user("a", "agency", region="perm-krai", agency="municipality")
    r = api.respond(incident, agency, **body)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == loc and words in detail(r)
    assert api.incident(incident).json()["status"] == "routed"


# ---- 20 concurrent decisions over real HTTP -----------------------------------------------------

@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_twenty_concurrent_decisions_one_winner(
    backend: str, trained: TrainResult, tmp_path: Any, request: pytest.FixtureRequest
) -> None:
    url = (f"sqlite:///{tmp_path / 'otklik.db'}" if backend == "sqlite"
           else request.getfixturevalue("migrated_postgres"))
    env = {"OTKLIK_MODELS_DIR": str(trained.bundle.parent), "OTKLIK_ADMIN_TOKEN": ADMIN, "OTKLIK_ENV": "test",
           "OTKLIK_VAR_DIR": str(tmp_path), "OTKLIK_DATABASE_URL": url}
    auth = {"Authorization": f"Bearer {ADMIN}"}
    with running_server(env, tmp_path / "server.log", workers=2) as base, httpx.Client(base_url=base, timeout=30) as c:
        r = c.post("/v1/posts", headers=auth, json={"posts": [wire(f"-13_{backend}", POTHOLE)]})
        assert r.status_code == 200, r.text
        incident = r.json()["incidents"][0]["incident_id"]
        start = Barrier(20)

        def one(i: int) -> httpx.Response:
            with httpx.Client(base_url=base, timeout=30) as own:
                start.wait()
                body = ({"action": "accept", "version": 1} if i % 2 else
                        {"action": "dismiss", "version": 1, "reason": f"администратор {i}"})
                return own.post(f"/v1/incidents/{incident}/decision", json=body, headers=auth)

        with ThreadPoolExecutor(20) as pool:
            answers = list(pool.map(one, range(20)))
        codes = sorted(a.status_code for a in answers)
        assert codes == [200] + [409] * 19, [a.text for a in answers if a.status_code not in (200, 409)]
        winner = next(a.json() for a in answers if a.status_code == 200)
        for a in answers:
            if a.status_code == 409:
                assert a.json()["current"]["version"] == 2 and a.json()["current"]["status"] == winner["status"]
                assert "version 1" in a.json()["detail"]
        assert c.get(f"/v1/incidents/{incident}", headers=auth).json()["version"] == 2
    engine = make_engine(url)
    with engine.connect() as conn:  # and the audit log has the winner's decision only
        logged = conn.execute(text("SELECT action FROM decisions WHERE incident_id = :i"), {"i": incident}).all()
    engine.dispose()
    assert [a for (a,) in logged] == ["accept" if winner["status"] == "routed" else "dismiss"]

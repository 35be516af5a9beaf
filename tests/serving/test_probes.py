"""The probes an outside tester broke the service with, each kept: bad input is a 4xx naming the field,
never a 500, and the body of every answer is valid JSON in UTF-8 that does not repeat the input.

On SQLite and on PostgreSQL (NUL bytes broke only PostgreSQL), with the real app and bundle."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from serving.store import ManualClock, get_incident, ingest_posts
from serving.store.monitoring import predict_fn, rules_fn
from tests.serving.store.conftest import Db, migrated_postgres, migrated_sqlite, postgres  # noqa: F401
from tests.serving.store.conftest import db as db
from tests.serving.store.conftest import post as store_post
from tests.serving.test_incidents_api import POTHOLE, T0, Api, wire
from tests.serving.test_incidents_api import api as api
from tests.web.conftest import login

MAX_ID = 2**63 - 1  # the store's ids are signed 64-bit integers
SURROGATE = "\ud800"
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"


def valid_json(r: httpx.Response) -> Any:
    """The body, checked to be strict JSON in UTF-8 (no NaN, no lone surrogate)."""
    text = r.content.decode("utf-8")
    return json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in the answer: {text[:200]}"))


def loc_of(r: httpx.Response) -> list[list[Any]]:
    assert r.status_code == 422, r.text
    return [p["loc"] for p in valid_json(r)["detail"]]


def raw_post(api: Api, path: str, body: str) -> httpx.Response:
    """A body the JSON encoder of the client would refuse to write (NaN, a lone surrogate escape)."""
    return api.client.post(path, content=body.encode(), headers={**api.admin, "Content-Type": "application/json"})


def signed_in(app: FastAPI, api: Api) -> TestClient:
    """A browser with the operator's session (no lifespan: the module's app is running already)."""
    browser = TestClient(app)
    login(browser, api.admin["Authorization"].removeprefix("Bearer "))
    return browser


def registered(api: Api, text: str = POTHOLE) -> int:
    body = api.ingest([wire(f"-probe-{abs(hash(text))}", text)])
    return int(body["incidents"][0]["incident_id"])


# ---- published_at ------------------------------------------------------------------------------

@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59Z", "9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00",
                                    "1999-12-31T23:59:59Z", "2026-12-01T00:00:00+05:00"])
def test_published_at_outside_2000_to_tomorrow_is_422_naming_it(api: Api, moment: str) -> None:
    r = api.client.post("/v1/posts", json={"posts": [wire("-p_1", POTHOLE, published_at=moment)]}, headers=api.admin)
    assert loc_of(r) == [["body", "posts", 0, "published_at"]]
    assert api.db.count("posts") == 0
    # the store's clock is 2026-11-28T10:00+05:00: a day later is the last moment taken
    r = api.client.post("/v1/posts", json={"posts": [wire("-p_2", POTHOLE, published_at="2026-11-29T10:00:00+05:00")]},
                        headers=api.admin)
    assert r.status_code == 200, r.text


def test_an_incident_stored_with_a_year_9999_post_still_shows_and_takes_decisions(api: Api, app: FastAPI) -> None:
    """Stored before the rule (by a replay of an old database, say): the queue, the incident, a decision
    and the pages answer; the time is shown in UTC, the one zone it has."""
    predictor = app.state.models.current
    far = datetime.fromisoformat("9999-12-31T23:59:59+00:00")
    with api.db.session() as session:
        result = ingest_posts(session, [store_post("-far", POTHOLE, far)], predict_fn(predictor),
                              rules_fn(predictor), api.clock, predictor.bundle.regions)
    [incident] = [r.incident_id for r in result.incidents]
    page = api.queue()
    assert page.status_code == 200 and page.json()["items"][0]["post"]["published_at"] == "9999-12-31T23:59:59+00:00"
    assert api.incident(incident).status_code == 200
    assert api.decide(incident, action="accept", version=1).status_code == 200
    browser = signed_in(app, api)
    assert browser.get("/ui/queue", params={"status": "all"}).status_code == 200
    assert browser.get(f"/ui/incidents/{incident}").status_code == 200


# ---- ids ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("incident_id", [MAX_ID + 1, MAX_ID, 2**64, 10**30, 0, -1])
def test_an_id_beyond_63_bits_is_404_on_every_incident_route_and_page(api: Api, app: FastAPI, incident_id: int) -> None:
    assert api.incident(incident_id).status_code == 404
    assert api.decide(incident_id, action="accept", version=1).status_code == 404
    assert api.respond(incident_id, api.admin, text="Ответ").status_code == 404
    assert signed_in(app, api).get(f"/ui/incidents/{incident_id}").status_code == 404


def test_a_version_beyond_63_bits_is_422(api: Api) -> None:
    incident = registered(api)
    assert loc_of(api.decide(incident, action="accept", version=2**63)) == [["body", "version"]]


# ---- numbers that are not finite -----------------------------------------------------------------

@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"])
@pytest.mark.parametrize("path", ["/v1/predict", "/v1/posts", "/v1/incidents/1/decision", "/v1/incidents/1/response"])
def test_a_number_that_is_not_finite_is_422_without_echoing_it(api: Api, number: str, path: str) -> None:
    r = raw_post(api, path, f'{{"version": {number}, "posts": [{{"id": {number}}}]}}')
    assert r.status_code == 422
    body = valid_json(r)
    assert "finite" in json.dumps(body) and number.lstrip("-") not in r.text


def test_a_non_finite_number_in_a_field_that_fails_validation_is_not_echoed(api: Api) -> None:
    incident = registered(api)
    r = raw_post(api, f"/v1/incidents/{incident}/decision", '{"action": "accept", "version": 1, "extra": 1e400}')
    assert r.status_code == 422 and "inf" not in r.text.lower()


# ---- lone surrogates and NUL bytes -------------------------------------------------------------

@pytest.mark.parametrize("bad", [SURROGATE, "\x00"], ids=["surrogate", "nul"])
@pytest.mark.parametrize("field", ["external_id", "text", "url", "author", "region"])
def test_a_post_field_that_is_not_clean_unicode_is_422_naming_it(api: Api, bad: str, field: str) -> None:
    value = {"external_id": f"-1_{bad}", "text": f"{POTHOLE}{bad}", "url": f"https://vk.com/{bad}",
             "author": f"Ирина{bad}", "region": f"perm{bad}"}[field]
    body = json.dumps({"posts": [{**wire("-s_1", POTHOLE), field: value}]})  # \ud800 and \u0000 escapes
    assert loc_of(raw_post(api, "/v1/posts", body)) == [["body", "posts", 0, field]]
    assert api.db.count("posts") == 0


@pytest.mark.parametrize("bad", [SURROGATE, "\x00"], ids=["surrogate", "nul"])
@pytest.mark.parametrize("field", ["id", "text", "region"])
def test_a_predict_field_that_is_not_clean_unicode_is_422_naming_it(api: Api, bad: str, field: str) -> None:
    post = {"id": "1", "text": POTHOLE, field: f"x{bad}"}
    assert loc_of(raw_post(api, "/v1/predict", json.dumps({"posts": [post]}))) == [["body", "posts", 0, field]]


@pytest.mark.parametrize("bad", [SURROGATE, "\x00"], ids=["surrogate", "nul"])
def test_a_reason_or_an_answer_that_is_not_clean_unicode_is_422_naming_it(api: Api, bad: str) -> None:
    incident = registered(api)
    body = json.dumps({"action": "dismiss", "version": 1, "reason": f"Реклама{bad}"})
    assert loc_of(raw_post(api, f"/v1/incidents/{incident}/decision", body)) == [["body", "reason"]]
    assert api.decide(incident, action="accept", version=1).status_code == 200
    for field in ("text", "url"):
        answer = {"text": "Отремонтируем", "url": "https://vk.com/wall-1_2", field: f"https://x/{bad}"}
        assert loc_of(raw_post(api, f"/v1/incidents/{incident}/response", json.dumps(answer))) == [["body", field]]


def test_an_unknown_field_named_with_a_lone_surrogate_is_422_in_valid_utf8(api: Api) -> None:
    r = raw_post(api, "/v1/predict", '{"posts": [{"id": "1", "text": "яма", "\\ud800": 1}]}')
    assert r.status_code == 422 and valid_json(r)["detail"][0]["loc"][:3] == ["body", "posts", 0]


@pytest.mark.parametrize("name", ["region", "topic", "agency", "municipality", "cursor"])
def test_a_nul_byte_in_a_queue_filter_is_422(api: Api, app: FastAPI, name: str) -> None:
    assert loc_of(api.queue(**{name: "perm\x00"})) == [["query", name]]
    assert signed_in(app, api).get("/ui/queue", params={name: "perm\x00"}).status_code == 422


# ---- text without a visible character ----------------------------------------------------------

def test_a_text_of_zero_width_characters_only_is_422(api: Api) -> None:
    r = api.client.post("/v1/posts", json={"posts": [wire("-z_1", ZERO_WIDTH)]}, headers=api.admin)
    assert loc_of(r) == [["body", "posts", 0, "text"]] and "no visible character" in r.text
    r = api.client.post("/v1/predict", json={"posts": [{"id": "1", "text": ZERO_WIDTH + " \u00a0"}]})
    assert loc_of(r) == [["body", "posts", 0, "text"]]
    incident = registered(api)
    assert api.decide(incident, action="accept", version=1).status_code == 200
    assert loc_of(api.respond(incident, api.admin, text=ZERO_WIDTH)) == [["body", "text"]]


def test_the_text_limit_is_the_setting_everywhere(api: Api, app: FastAPI) -> None:
    limit = app.state.settings.max_text_chars
    ok, over = "я" * limit, "я" * (limit + 1)
    assert api.client.post("/v1/predict", json={"posts": [{"id": "1", "text": ok}]}).status_code == 200
    r = api.client.post("/v1/predict", json={"posts": [{"id": "1", "text": over}]})
    assert loc_of(r) == [["body", "posts", 0, "text"]] and f"the limit is {limit}" in r.text
    r = api.client.post("/v1/posts", json={"posts": [wire("-l_1", over)]}, headers=api.admin)
    assert loc_of(r) == [["body", "posts", 0, "text"]] and f"the limit is {limit}" in r.text


# ---- links -------------------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["javascript:alert(document.cookie)", "JavaScript:alert(1)",
                                 "data:text/html,<script>alert(1)</script>", "vbscript:x", "//evil.example/x",
                                 "https://", "ftp://example.org/x"])
def test_only_http_links_are_taken_for_posts_and_answers(api: Api, url: str) -> None:
    r = api.client.post("/v1/posts", json={"posts": [wire("-u_1", POTHOLE, url=url)]}, headers=api.admin)
    assert loc_of(r) == [["body", "posts", 0, "url"]] and "http:// or https://" in r.text
    incident = registered(api)
    assert api.decide(incident, action="accept", version=1).status_code == 200
    assert loc_of(api.respond(incident, api.admin, text="Отремонтируем", url=url)) == [["body", "url"]]


def test_a_stored_javascript_link_is_not_rendered_as_a_link(api: Api, app: FastAPI) -> None:
    predictor = app.state.models.current
    with api.db.session() as session:
        result = ingest_posts(session, [store_post("-js", POTHOLE, T0, url="javascript:alert(1)")],
                              predict_fn(predictor), rules_fn(predictor), api.clock, predictor.bundle.regions)
        incident = get_incident(session, result.incidents[0].incident_id, ManualClock(T0))
    page = signed_in(app, api).get(f"/ui/incidents/{incident.id}")
    assert page.status_code == 200 and "javascript:" not in page.text and 'class="post-link"' not in page.text


# ---- statistics and JSON itself ----------------------------------------------------------------

@pytest.mark.parametrize("name", ["since", "until"])
@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00"])
def test_a_stats_window_without_a_utc_equivalent_is_422_naming_it(api: Api, name: str, moment: str) -> None:
    r = api.client.get("/v1/stats", params={name: moment}, headers=api.admin)
    assert loc_of(r) == [["query", name]] and "UTC" in r.text


def test_json_nested_100000_deep_says_what_and_where(api: Api) -> None:
    r = raw_post(api, "/v1/predict", "[" * 100_000 + "]" * 100_000)
    assert r.status_code == 422
    [problem] = valid_json(r)["detail"]
    assert problem["loc"] == ["body", 500] and "nested more than 500 levels deep (at character 500)" in problem["msg"]


def test_broken_json_says_where(api: Api) -> None:
    r = raw_post(api, "/v1/predict", '{"posts": [{"id": "1",, "text": "яма"}]}')
    [problem] = valid_json(r)["detail"]
    assert problem["loc"] == ["body", 22] and "line 1, column 23" in problem["msg"]

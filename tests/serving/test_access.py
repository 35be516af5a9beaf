"""Who may do what: every route of the OpenAPI schema called with every role, against a table.

The table below is the access policy written out. A route the table does not list fails the test
(so a new route cannot ship without a rule), and so does a table entry for a route that no longer
exists. Tokens are real (users and tokens made in the app's store); incidents are registered with
the store's fake model so that each one's region, agency and municipality are known exactly.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from model.region import Region
from serving.app import create_app
from serving.store import (
    SystemClock,
    create_user,
    decide,
    get_incident,
    ingest_posts,
    issue_token,
    revoke_token,
)
from tests.serving.conftest import ADMIN, make_settings
from tests.serving.store.conftest import FakeModel, post
from training.train import TrainResult

# Routes open to anyone (the predict endpoint only outside production; checked below), and the web
# pages that come before a session or only end it; every other web page names its permission too.
PUBLIC = {"/health", "/ready", "/metrics", "/v1/predict"}
PUBLIC_PAGES = {"/", "/ui", "/ui/login", "/ui/logout"}

ROLES = ("anonymous", "revoked", "admin", "federal", "regional_admin", "outsider", "agency", "municipal", "ml")
# role -> (user role, region, agency, municipality); `outsider` administers another region.
USERS = {
    "federal": ("federal", None, None, None),
    "regional_admin": ("regional_admin", "perm-krai", None, None),
    "outsider": ("regional_admin", "sverdlovsk-oblast", None, None),
    "agency": ("agency", "perm-krai", "municipality", None),
    "municipal": ("municipal", "perm-krai", None, "57701000"),
    "ml": ("ml", None, None, None),
}
POTHOLE = "яма на дороге у дома номер {n}"  # the fake model: roads, agency municipality, Пермь (57701000)
HEATING = "батареи холодные в квартире номер {n}"  # housing, housing_inspection, Березники (57708000)


def expect(default: int, **by_role: int) -> dict[str, int]:
    """Expected status per role: `default` for a signed-in role not named, 401 for no or a revoked token."""
    table = {role: default for role in ROLES}
    table.update(anonymous=401, revoked=401)
    table.update(by_role)
    return table


# (method, path) -> expected status for each role. 404: the incident is outside the role's scope;
# 403: the role may not do this at all (said before looking at any incident).
TABLE: dict[tuple[str, str], dict[str, int]] = {
    ("GET", "/health"): expect(200, anonymous=200, revoked=200),
    ("GET", "/ready"): expect(200, anonymous=200, revoked=200),
    ("POST", "/v1/predict"): expect(200, anonymous=200, revoked=200),  # open outside production
    ("GET", "/v1/model"): expect(200),
    ("POST", "/v1/model/reload"): expect(403, admin=200, regional_admin=200, outsider=200, ml=200),
    # The post is for perm-krai: the other region's administrator may ingest only into its own.
    ("POST", "/v1/posts"): expect(403, admin=200, regional_admin=200),
    ("GET", "/v1/queue"): expect(200, ml=403),
    ("GET", "/v1/incidents/{incident_id}"): expect(200, outsider=404, ml=403),  # a routed pothole of Пермь
    ("POST", "/v1/incidents/{incident_id}/decision"): expect(403, admin=200, regional_admin=200, outsider=404),
    ("POST", "/v1/incidents/{incident_id}/response"): expect(403, admin=200, agency=200),
    ("GET", "/v1/stats"): expect(200, ml=403),
    ("GET", "/v1/stats/stream"): expect(200, ml=403),
}


@dataclass
class World:
    client: TestClient
    app: FastAPI
    tokens: dict[str, str]
    regions: dict[str, Region]
    counter: Iterator[int]

    def headers(self, role: str) -> dict[str, str]:
        token = self.tokens.get(role)
        return {"Authorization": f"Bearer {token}"} if token else {}

    def incident(self, template: str, action: str | None = None) -> int:
        """A new incident of the fake model (status new), accepted when `action` is "accept"."""
        model = FakeModel()
        clock = SystemClock()
        text = template.format(n=next(self.counter))
        with self.app.state.sessions() as session:
            result = ingest_posts(session, [post(f"x{text}", text, clock.now())], model.predict, model.rules, clock,
                                  self.regions)
            incident_id = result.incidents[0].incident_id
            if action is not None:
                decide(session, incident_id, action, get_incident(session, incident_id, clock).version, "setup",
                       clock)
        return incident_id

    def version(self, incident_id: int) -> int:
        with self.app.state.sessions() as session:
            return get_incident(session, incident_id, SystemClock()).version


@pytest.fixture(scope="module")
def world(
    trained: TrainResult, regions: dict[str, Region], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    app = create_app(make_settings(trained.bundle.parent, tmp_path_factory.mktemp("access"), stats_poll_seconds=0.05))
    with TestClient(app) as client:
        clock = SystemClock()
        tokens = {"admin": ADMIN}
        with app.state.sessions() as session:
            for role, (user_role, region, agency, municipality) in USERS.items():
                user = create_user(session, role, user_role, clock, region, agency, municipality)
                tokens[role] = issue_token(session, user.id, clock)
            gone = create_user(session, "gone", "federal", clock)
            tokens["revoked"] = issue_token(session, gone.id, clock)
            revoke_token(session, tokens["revoked"], clock)
        yield World(client, app, tokens, regions, itertools.count())


def call(world: World, method: str, path: str, role: str) -> int:
    """Call the route as `role` with a valid minimal request; the status code."""
    c, headers = world.client, world.headers(role)
    n = next(world.counter)
    if path == "/v1/predict":
        return c.post(path, json={"posts": [{"id": "1", "text": "яма на дороге"}]}, headers=headers).status_code
    if path == "/v1/posts":
        body: dict[str, Any] = {"posts": [{"network": "vk", "external_id": f"audit-{n}", "text": "Доброе утро всем",
                           "published_at": "2026-11-28T10:00:00+05:00", "region": "perm-krai"}]}
        return c.post(path, json=body, headers=headers).status_code
    if path == "/v1/incidents/{incident_id}":
        return c.get(f"/v1/incidents/{world.incident(POTHOLE, 'accept')}", headers=headers).status_code
    if path == "/v1/incidents/{incident_id}/decision":
        incident = world.incident(POTHOLE)
        body = {"action": "accept", "version": world.version(incident)}
        return c.post(f"/v1/incidents/{incident}/decision", json=body, headers=headers).status_code
    if path == "/v1/incidents/{incident_id}/response":
        incident = world.incident(POTHOLE, "accept")
        return c.post(f"/v1/incidents/{incident}/response", json={"text": "Отремонтируем"},
                      headers=headers).status_code
    if path == "/v1/stats/stream":
        with c.stream("GET", path, headers=headers) as response:
            if response.status_code == 200:
                first = next(line for line in response.iter_lines() if line.startswith("event:"))
                assert first == "event: stats"
            return response.status_code
    return c.request(method, path, headers=headers).status_code


def schema_routes(app: FastAPI) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in app.openapi()["paths"].items() for method in item}


def test_the_table_covers_exactly_the_schema(world: World) -> None:
    routes = schema_routes(world.app)
    assert routes - TABLE.keys() == set(), "routes without an access rule: add them to TABLE"
    assert TABLE.keys() - routes == set(), "TABLE lists routes the app no longer has"


@pytest.mark.parametrize(("route", "role"), [(route, role) for route in TABLE for role in ROLES],
                         ids=lambda value: value if isinstance(value, str) else " ".join(value))
def test_every_route_with_every_role(world: World, route: tuple[str, str], role: str) -> None:
    method, path = route
    assert call(world, method, path, role) == TABLE[route][role]


def api_routes(app: FastAPI) -> list[APIRoute]:
    return [context.original_route for context in iter_route_contexts(app.routes)
            if isinstance(context.original_route, APIRoute)]


def test_every_route_names_one_permission(world: World) -> None:
    """The rule lives in one dependency per route (serving.auth.allow), not in the route's body."""
    for route in api_routes(world.app):
        permissions = [dep.call.permission for dep in route.dependant.dependencies  # type: ignore[union-attr]
                       if hasattr(dep.call, "permission")]
        if route.path in (PUBLIC | PUBLIC_PAGES) - {"/v1/predict"}:
            assert permissions == [], route.path
        else:
            assert len(permissions) == 1, f"{route.path}: {permissions or 'no serving.auth.allow(...) dependency'}"


def test_predict_needs_a_token_in_production(trained: TrainResult, tmp_path: Path) -> None:
    settings = make_settings(trained.bundle.parent, tmp_path)
    settings.env = "production"
    body = {"posts": [{"id": "1", "text": "яма на дороге"}]}
    with TestClient(create_app(settings)) as client:
        assert client.post("/v1/predict", json=body).status_code == 401
        assert client.post("/v1/predict", json=body, headers={"Authorization": f"Bearer {ADMIN}"}).status_code == 200


# ---- scopes -----------------------------------------------------------------------------------

def queue_ids(world: World, role: str, **params: Any) -> set[int]:
    response = world.client.get("/v1/queue", params={"limit": 500, **params}, headers=world.headers(role))
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["items"]}


def get_status(world: World, role: str, incident_id: int) -> int:
    return world.client.get(f"/v1/incidents/{incident_id}", headers=world.headers(role)).status_code


@pytest.fixture(scope="module")
def scoped(world: World) -> dict[str, int]:
    """A new and a routed pothole (Пермь, agency municipality), a routed heating (Березники, housing inspection)."""
    return {
        "new_pothole": world.incident(POTHOLE),
        "routed_pothole": world.incident(POTHOLE, "accept"),
        "routed_heating": world.incident(HEATING, "accept"),
    }


def test_agency_sees_only_incidents_routed_to_it(world: World, scoped: dict[str, int]) -> None:
    seen = queue_ids(world, "agency")
    assert scoped["routed_pothole"] in seen
    assert scoped["new_pothole"] not in seen  # not routed yet: the model's suggestion is not a route
    assert scoped["routed_heating"] not in seen  # routed to the housing inspection
    assert get_status(world, "agency", scoped["routed_pothole"]) == 200
    assert get_status(world, "agency", scoped["new_pothole"]) == 404
    assert get_status(world, "agency", scoped["routed_heating"]) == 404
    assert queue_ids(world, "agency", status="new") == set()
    assert queue_ids(world, "agency", agency="housing_inspection") == set()


def test_municipal_sees_only_its_municipality(world: World, scoped: dict[str, int]) -> None:
    seen = queue_ids(world, "municipal")
    assert {scoped["new_pothole"], scoped["routed_pothole"]} <= seen
    assert scoped["routed_heating"] not in seen
    assert get_status(world, "municipal", scoped["routed_heating"]) == 404
    assert queue_ids(world, "municipal", municipality="57708000") == set()


def test_other_region_is_404_and_empty(world: World, scoped: dict[str, int]) -> None:
    for incident in scoped.values():
        assert get_status(world, "outsider", incident) == 404
        assert get_status(world, "federal", incident) == 200
    assert queue_ids(world, "outsider") == set()
    assert queue_ids(world, "outsider", region="perm-krai") == set()


def test_forbidden_action_in_scope_is_403(world: World) -> None:
    def decision(role: str, incident: int, action: str, **extra: Any) -> Any:
        body = {"action": action, "version": world.version(incident), **extra}
        return world.client.post(f"/v1/incidents/{incident}/decision", json=body, headers=world.headers(role))

    fresh = world.incident(POTHOLE)
    assert get_status(world, "municipal", fresh) == 200  # in its scope, and still
    assert decision("municipal", fresh, "accept").status_code == 403
    routed = world.incident(POTHOLE, "accept")
    assert decision("agency", routed, "accept").status_code == 403  # the agency may only send it back
    assert world.client.post(f"/v1/incidents/{routed}/response", json={"text": "Ответ"},
                             headers=world.headers("municipal")).status_code == 403
    sent_back = decision("agency", routed, "reassign", reason="не наша дорога, региональная")
    assert sent_back.status_code == 200, sent_back.text
    assert sent_back.json()["status"] == "new"
    assert get_status(world, "agency", routed) == 404  # back in the queue: no longer routed to the agency


def test_stats_follow_the_scope(world: World, scoped: dict[str, int]) -> None:
    def rows(role: str, **params: Any) -> list[dict[str, Any]]:
        response = world.client.get("/v1/stats", params=params, headers=world.headers(role))
        assert response.status_code == 200, response.text
        return list(response.json()["rows"])

    assert {row["key"] for row in rows("municipal", group_by="municipality")} == {"57701000"}
    assert rows("municipal", group_by="municipality", municipality="57708000") == []
    assert rows("outsider", group_by="region") == []
    assert {row["key"] for row in rows("agency", group_by="agency")} == {"municipality"}
    [mine] = rows("agency")
    assert mine["dismissed"] == 0 and mine["registered"] == mine["open"] + mine["answered"]
    everything = {row["key"]: row["registered"] for row in rows("federal", group_by="agency")}
    assert everything["municipality"] > mine["registered"]  # the new potholes count for the region, not the agency
    assert {"housing_inspection", "municipality"} <= everything.keys()

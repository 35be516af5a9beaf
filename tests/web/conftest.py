"""The pages' test world: a store with incidents registered by the real model, and one user per role.

`seed` writes through the store (as `otklik ingest` and `otklik token create` do), so the same
world serves the fast TestClient tests and the browser tests against a real `otklik serve`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from model.predictor import Predictor
from serving.app import create_app
from serving.database import scratch_schema
from serving.ingest import IncomingPost, ingest
from serving.store import Clock, SystemClock, create_user, issue_token
from tests.serving.conftest import ADMIN, make_settings
from tests.serving.store.conftest import PG_URL, postgres_problem
from training.train import TrainResult

# (external id, text): what each becomes with the trained model, checked by the tests that use them.
POTHOLE = ("-1_101", "На Гайве огромная яма на дороге, третью неделю никто не чинит!!!")  # roads, Пермь
HEATING = ("-1_102", "Третий день батареи холодные в Березниках, УК трубку не берёт")  # housing_inspection
DUMP = ("-1_103", "В Соликамске за гаражами стихийная свалка, мусор горит и воняет на весь район")
LIGHTS = ("-1_104", "В Перми на улице Ленина третью неделю не горят фонари, вечером страшно идти")
POSTS = (POTHOLE, HEATING, DUMP, LIGHTS)
PERM = "perm-krai"
PERM_CITY = "57701000"
BEREZNIKI = "57708000"

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
NONCE = re.compile(r'name="nonce" value="([^"]+)"')


@dataclass(frozen=True)
class World:
    incidents: dict[str, int]  # external id -> incident id
    tokens: dict[str, str]  # user -> token


def seed(sessions: sessionmaker[Session], predictor: Predictor, clock: Clock) -> World:
    """Register POSTS as incidents (published an hour ago) and make one user of each role."""
    published = clock.now() - timedelta(hours=1)
    posts = [IncomingPost(network="vk", external_id=eid, text=text, published_at=published,
                          url=f"https://vk.com/wall{eid}", author="Ирина", region=PERM) for eid, text in POSTS]
    result = ingest(sessions, predictor, clock, posts)
    incidents = {r.post.external_id: r.incident_id for r in result.incidents}
    assert set(incidents) == {eid for eid, _ in POSTS}, "every seed post must become an incident"
    users = {
        "admin-perm": ("regional_admin", {"region": PERM}),
        "admin-sverdlovsk": ("regional_admin", {"region": "sverdlovsk-oblast"}),
        "perm-city": ("agency", {"region": PERM, "agency": "municipality"}),
        "zhilnadzor": ("agency", {"region": PERM, "agency": "housing_inspection"}),
        "perm-city-watch": ("municipal", {"region": PERM, "municipality": PERM_CITY}),
        "minister": ("federal", {}),
        "data-team": ("ml", {}),
    }
    tokens = {}
    with sessions() as session:
        for name, (role, scope) in users.items():
            user = create_user(session, name, role, clock, region=scope.get("region"), agency=scope.get("agency"),
                               municipality=scope.get("municipality"))
            tokens[name] = issue_token(session, user.id, clock)
    return World(incidents, tokens)


def login(client: httpx.Client | TestClient, token: str) -> httpx.Response:
    """Log in through the form (its nonce cookie included); the answer after the redirects."""
    page = client.get("/ui/login")
    nonce = NONCE.search(page.text)
    assert nonce, page.text
    return client.post("/ui/login", data={"token": token, "nonce": nonce.group(1)})


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An empty database for the module: a SQLite file, or a fresh schema in PostgreSQL's `test`."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('web-db') / 'otklik.db'}"
        return
    problem = postgres_problem()
    if problem:
        pytest.skip(problem)
    with scratch_schema(PG_URL, "otklik_web") as url:
        yield url


@pytest.fixture(scope="module")
def web_app(trained: TrainResult, tmp_path_factory: pytest.TempPathFactory, database_url: str) -> FastAPI:
    return create_app(make_settings(trained.bundle.parent, tmp_path_factory.mktemp("web-var"),
                                    database_url=database_url))


@pytest.fixture(scope="module")
def started(web_app: FastAPI) -> Iterator[TestClient]:
    """The app after its start-up (schema migrated, model loaded); this client has no session."""
    with TestClient(web_app, follow_redirects=False) as client:
        yield client


@pytest.fixture(scope="module")
def world(started: TestClient, web_app: FastAPI, predictor: Predictor) -> World:
    return seed(web_app.state.sessions, predictor, SystemClock())


@pytest.fixture
def as_user(started: TestClient, web_app: FastAPI, world: World) -> Iterator[object]:
    """as_user(name) -> a client logged in as that user (`admin`: the operator's token)."""
    opened: list[TestClient] = []

    def make(name: str) -> TestClient:
        client = TestClient(web_app, follow_redirects=False)
        opened.append(client)
        answer = login(client, ADMIN if name == "admin" else world.tokens[name])
        assert answer.status_code == 303, answer.text
        return client

    yield make
    for client in opened:
        client.close()

"""Property-based API check: schemathesis drives every operation of /openapi.json with the token of
every role, on SQLite and on PostgreSQL; nothing answers 5xx.

The app is the real one (`create_app`) serving the session bundle, so /v1/predict runs the model on
whatever schemathesis generates: valid posts, wrong types, missing fields, odd Unicode. A few examples
per operation run in every `make test`; the `slow` variant runs many more.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis.checks import not_a_server_error
from schemathesis.schemas import BaseSchema

from serving.app import create_app
from serving.database import scratch_schema
from serving.store import SystemClock, create_user, issue_token
from tests.serving.conftest import ADMIN, make_settings
from tests.serving.store.conftest import PG_URL, postgres_problem
from training.train import TrainResult

# role -> the scope of its user (the operator's token needs no user)
USERS: dict[str, dict[str, str]] = {
    "federal": {},
    "regional_admin": {"region": "perm-krai"},
    "agency": {"region": "perm-krai", "agency": "municipality"},
    "municipal": {"region": "perm-krai", "municipality": "57701000"},
    "ml": {},
}
QUICK, LONG = 3, 100  # examples per operation; seeded, so a failure reproduces
RELOADS = 1  # a reload reads the bundle again (seconds): one example, whatever the run


@dataclass
class World:
    app: FastAPI
    headers: list[dict[str, str]]  # one Authorization per role, the operator's first


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, trained: TrainResult,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    var: Path = tmp_path_factory.mktemp("schemathesis-var")
    with _database(request.param, var) as url:
        app = create_app(make_settings(trained.bundle.parent, var, database_url=url, max_text_chars=2000, max_posts=50,
                                       max_body_bytes=200_000, stats_stream_seconds=0.05, stats_poll_seconds=0.02))
        headers = [{"Authorization": f"Bearer {ADMIN}"}]
        yield World(app, headers)


@contextmanager
def _database(kind: str, var: Path) -> Iterator[str]:
    """The module's database: a SQLite file, or a fresh schema in PostgreSQL's `test` (skipped without it)."""
    if kind == "sqlite":
        yield f"sqlite:///{var / 'otklik.db'}"
        return
    if (problem := postgres_problem()) is not None:
        pytest.skip(problem)
    with scratch_schema(PG_URL, "otklik_fuzz") as url:
        yield url


def _schema(world: World, examples: int, coverage: bool) -> BaseSchema:
    config = {
        "seed": 20241,
        "generation": {"mode": "all", "max-examples": examples, "deterministic": False},
        # the coverage phase adds every boundary of every parameter: dozens of cases per operation
        "phases": {"stateful": {"enabled": False}, "coverage": {"enabled": coverage}},
        "operations": [{"include-path": "/v1/model/reload", "generation": {"max-examples": RELOADS}}],
    }
    # Loading the schema starts the app's lifespan: the store is migrated and the bundle loaded.
    schema = schemathesis.openapi.from_asgi("/openapi.json", world.app, config=schemathesis.Config.from_dict(config))
    if len(world.headers) == 1:  # users of every role, made once the store is migrated
        clock = SystemClock()
        with world.app.state.sessions() as session:
            for role, scope in USERS.items():
                user = create_user(session, role, role, clock, **scope)
                world.headers.append({"Authorization": f"Bearer {issue_token(session, user.id, clock)}"})
    return schema


@pytest.fixture(scope="module")
def api_schema(world: World) -> BaseSchema:
    return _schema(world, QUICK, coverage=False)


@pytest.fixture(scope="module")
def long_schema(world: World) -> BaseSchema:
    return _schema(world, LONG, coverage=True)


schema = schemathesis.pytest.from_fixture("api_schema")
long = schemathesis.pytest.from_fixture("long_schema")


def test_schema_lists_the_api(api_schema: BaseSchema) -> None:
    """The property test below covers what /openapi.json lists: make sure the API is there."""
    paths = api_schema.raw_schema["paths"]
    listed = {f"{method.upper()} {path}" for path, operations in paths.items() for method in operations}
    assert {"POST /v1/predict", "GET /v1/model", "POST /v1/model/reload", "POST /v1/posts", "GET /v1/queue",
            "GET /v1/incidents/{incident_id}", "POST /v1/incidents/{incident_id}/decision",
            "POST /v1/incidents/{incident_id}/response", "GET /v1/stats", "GET /v1/stats/stream", "GET /health",
            "GET /ready"} <= listed


def _every_role(case: schemathesis.Case, world: World) -> None:
    for headers in world.headers:
        case.call_and_validate(headers=headers, checks=[not_a_server_error])


@schema.parametrize()
def test_no_operation_answers_5xx_for_any_role(case: schemathesis.Case, world: World) -> None:
    _every_role(case, world)


@pytest.mark.slow
@long.parametrize()
def test_no_operation_answers_5xx_for_any_role_long(case: schemathesis.Case, world: World) -> None:
    _every_role(case, world)

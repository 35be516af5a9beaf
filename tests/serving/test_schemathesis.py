"""Property-based API check: schemathesis drives every operation of /openapi.json; nothing answers 5xx.

The app is the real one (`create_app`) serving the session bundle, so /v1/predict runs the model on
whatever schemathesis generates: valid posts, wrong types, missing fields, odd Unicode.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.schemas import BaseSchema

from serving.app import create_app
from tests.serving.conftest import ADMIN, make_settings
from training.train import TrainResult

# Bounded so the whole module runs in well under a minute on a shared 2-core machine; the seed makes
# a failure reproducible.
CONFIG = {
    "seed": 20241,
    "generation": {"mode": "all", "max-examples": 25, "deterministic": False},
    "phases": {"stateful": {"enabled": False}},
}


@pytest.fixture(scope="module")
def api_schema(trained: TrainResult, tmp_path_factory: pytest.TempPathFactory) -> BaseSchema:
    var: Path = tmp_path_factory.mktemp("schemathesis-var")
    app = create_app(make_settings(trained.bundle.parent, var, max_text_chars=2000, max_posts=50,
                                   max_body_bytes=200_000, stats_stream_seconds=0.5))
    # Loading the schema starts the app's lifespan, so the bundle is loaded before the first case.
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=schemathesis.Config.from_dict(CONFIG))


schema = schemathesis.pytest.from_fixture("api_schema")


def test_schema_lists_the_api(api_schema: BaseSchema) -> None:
    """The property test below covers what /openapi.json lists: make sure the API is there."""
    paths = api_schema.raw_schema["paths"]
    listed = {f"{method.upper()} {path}" for path, operations in paths.items() for method in operations}
    assert {"POST /v1/predict", "GET /v1/model", "POST /v1/model/reload", "GET /health", "GET /ready"} <= listed


@schema.parametrize()
def test_no_operation_answers_5xx(case: schemathesis.Case) -> None:
    # As the operator: with no token every route but the open ones would stop at 401.
    case.call_and_validate(headers={"Authorization": f"Bearer {ADMIN}"}, checks=[not_a_server_error])

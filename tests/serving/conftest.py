from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.settings import Settings
from training.train import TrainResult

ADMIN = "test-admin-token"


def make_settings(models_dir: Path, tmp: Path, **overrides: object) -> Settings:
    return Settings(env="test", var_dir=tmp, models_dir=models_dir, admin_token=ADMIN, **overrides)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def app(trained: TrainResult, tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    return create_app(make_settings(trained.bundle.parent, tmp_path_factory.mktemp("var"),
                                    max_text_chars=2000, max_posts=50, max_body_bytes=200_000))


@pytest.fixture(scope="module")
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c

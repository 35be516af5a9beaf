"""Sources pointed at the fake servers, with quick retries."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from serving.connectors import Backoff, SourceConfig
from tests.serving.store.conftest import (  # noqa: F401  (the store's fixtures, for the loop's tests)
    clock,
    db,
    migrated_postgres,
    migrated_sqlite,
    postgres,
)

FAST = Backoff(attempts=3, initial=0.01, maximum=2.0)
T0 = int(datetime(2026, 11, 28, 5, 0, tzinfo=UTC).timestamp())


def source(network: str, base_url: str, **fields: Any) -> SourceConfig:
    defaults: dict[str, Any] = {"id": f"{network}-test", "token": "tok-1", "region": "perm-krai", "page_size": 3,
                                "reply": True}
    return SourceConfig(network=network, base_url=base_url, **{**defaults, **fields})


@pytest.fixture
def fast() -> Backoff:
    return FAST

"""/ready names a stopped source as a problem but stays 200: the API itself still serves."""

from __future__ import annotations

from datetime import UTC, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from serving.app import create_app
from serving.store import ManualClock, SystemClock, acquire
from serving.store.leases import MONITOR
from serving.store.sources import ensure_source, mark_source
from tests.serving.conftest import make_settings
from tests.serving.store.conftest import T0
from training.train import TrainResult


def test_ready_lists_the_sources_and_names_a_stopped_one(trained: TrainResult, tmp_path: Path) -> None:
    app = create_app(make_settings(trained.bundle.parent, tmp_path))
    with TestClient(app) as client:
        assert client.get("/ready").json()["checks"]["sources"] == {"ok": [], "failing": [], "stopped": []}
        clock = ManualClock(T0)
        with app.state.sessions() as s:
            for source_id in ("vk-perm", "tg-perm", "x-perm"):
                ensure_source(s, source_id, source_id.split("-")[0])
            mark_source(s, "tg-perm", "stopped", clock, "tg-perm: getUpdates: 401 Unauthorized", "f" * 64)
            mark_source(s, "x-perm", "failing", clock, "x-perm: HTTP 503")
        ready = client.get("/ready")
        assert ready.status_code == 200
        body = ready.json()
        assert body["ready"] is True
        assert body["checks"]["sources"] == {"ok": ["vk-perm"], "failing": ["x-perm"], "stopped": ["tg-perm"]}
        assert body["problems"] == ["source tg-perm stopped: tg-perm: getUpdates: 401 Unauthorized"]


def test_ready_shows_which_monitor_holds_the_lease(trained: TrainResult, tmp_path: Path) -> None:
    app = create_app(make_settings(trained.bundle.parent, tmp_path))
    with TestClient(app) as client:
        assert client.get("/ready").json()["checks"]["monitor"] is None  # no monitor has run
        with app.state.sessions() as s:
            assert acquire(s, MONITOR, "host-a:1:aaaaaa", ManualClock(T0), 60)  # long ago: it died
        dead = client.get("/ready").json()["checks"]["monitor"]
        assert dead == {"holder": "host-a:1:aaaaaa", "until": (T0 + timedelta(seconds=60)).astimezone(UTC).isoformat(),
                        "alive": False}
        with app.state.sessions() as s:
            assert acquire(s, MONITOR, "host-b:2:bbbbbb", SystemClock(), 60)
        alive = client.get("/ready")
        assert alive.status_code == 200 and alive.json()["checks"]["monitor"]["alive"] is True
        assert alive.json()["checks"]["monitor"]["holder"] == "host-b:2:bbbbbb"

"""A real `otklik serve` killed with SIGKILL in the middle of `POST /v1/posts` batches, restarted on
the same SQLite file: nothing it answered 200 for is lost, no incident lacks its post or prediction,
a replay of everything creates no duplicates, and every deadline is what it was."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from serving.database import make_engine
from tests.serving.conftest import ADMIN
from tests.serving.server import free_port
from tests.serving.test_incidents_api import HEATING, POTHOLE, wire
from training.train import TrainResult

AUTH = {"Authorization": f"Bearer {ADMIN}"}
ROOT = Path(__file__).resolve().parents[2]
BATCH = 20


@contextmanager
def server(env: dict[str, str], log: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`otklik serve` (one process: SIGKILL hits the process that writes), once it answers /ready."""
    port = free_port()
    with log.open("ab") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "serving.cli", "serve", "--port", str(port)],
                                env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=sink, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, log.read_text(errors="replace")[-2000:]
            try:
                if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server did not become ready"
            time.sleep(0.2)
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(30)


def batch(n: int) -> list[dict[str, Any]]:
    """Posts of batch `n`: about half register incidents, each its own (the numbers differ)."""
    texts = [POTHOLE, HEATING, "Доброе утро всем, кто уже проснулся"]
    return [wire(f"-{n}_{i}", f"{texts[i % 3]} Дом {n * BATCH + i}") for i in range(BATCH)]


def stored(url: str) -> dict[str, Any]:
    engine = make_engine(url)
    with engine.connect() as conn:
        out = {
            "posts": {eid for (eid,) in conn.execute(text("SELECT external_id FROM posts"))},
            "deadlines": dict(conn.execute(text("SELECT id, deadline FROM incidents")).all()),
            # an incident without its post or its prediction would be a half-written one
            "orphans": conn.execute(text(
                "SELECT count(*) FROM incidents i LEFT JOIN posts p ON p.id = i.post_id "
                "LEFT JOIN predictions r ON r.post_id = i.post_id WHERE p.id IS NULL OR r.id IS NULL"
            )).scalar_one(),
            "reposts": conn.execute(text("SELECT count(*) FROM reposts")).scalar_one(),
        }
    engine.dispose()
    return out


def test_kill_9_mid_batch_loses_nothing_accepted(trained: TrainResult, tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'otklik.db'}"
    env = {"OTKLIK_MODELS_DIR": str(trained.bundle.parent), "OTKLIK_ADMIN_TOKEN": ADMIN, "OTKLIK_ENV": "test",
           "OTKLIK_VAR_DIR": str(tmp_path), "OTKLIK_DATABASE_URL": db_url}
    log = tmp_path / "server.log"
    accepted: list[str] = []  # external ids of batches answered 200
    sent: list[int] = []  # batches sent (answered or not)
    failures: list[str] = []
    answered = threading.Event()

    with server(env, log) as (url, proc):

        def feed() -> None:
            with httpx.Client(base_url=url, timeout=60) as c:
                for n in range(1, 1000):
                    sent.append(n)
                    try:
                        r = c.post("/v1/posts", json={"posts": batch(n)}, headers=AUTH)
                    except httpx.HTTPError as exc:  # the server died under this batch
                        failures.append(type(exc).__name__)
                        return
                    if r.status_code != 200:
                        failures.append(f"{r.status_code} {r.text}")
                        return
                    accepted.extend(r.json()["created"] + r.json()["duplicates"])
                    if n >= 3:
                        answered.set()

        feeder = threading.Thread(target=feed)
        started = time.monotonic()
        feeder.start()
        assert answered.wait(120), "no batch was answered"
        per_batch = (time.monotonic() - started) / max(len(sent) - 1, 1)
        time.sleep(per_batch / 2)  # into the middle of the next batch
        os.kill(proc.pid, signal.SIGKILL)
        feeder.join(60)
        assert proc.wait(10) == -signal.SIGKILL

    assert [f for f in failures if f[0].isdigit()] == [], failures  # no answer other than 200 before the kill
    assert failures, "the kill did not interrupt a request in flight"
    before = stored(db_url)
    assert set(accepted) <= before["posts"]  # every answered post survived
    assert before["orphans"] == 0 and before["deadlines"]
    # what is stored is whole batches: the interrupted one is all there or not at all
    last = [p["external_id"] for p in batch(sent[-1])]
    assert set(last) <= before["posts"] or not set(last) & before["posts"]

    with server(env, log) as (url, _), httpx.Client(base_url=url, timeout=60) as c:
        replayed = [c.post("/v1/posts", json={"posts": batch(n)}, headers=AUTH) for n in sent]
        assert all(r.status_code == 200 for r in replayed)
        created = [eid for r in replayed for eid in r.json()["created"]]
        assert set(created) == {p["external_id"] for n in sent for p in batch(n)} - before["posts"]
        again = [c.post("/v1/posts", json={"posts": batch(n)}, headers=AUTH).json() for n in sent]
        assert all(a["created"] == [] and a["incidents"] == [] for a in again)
        for incident_id, deadline in list(before["deadlines"].items())[:5]:
            shown = c.get(f"/v1/incidents/{incident_id}", headers=AUTH).json()["deadline"]
            assert datetime.fromisoformat(shown) == _utc(deadline)

    after = stored(db_url)
    assert after["posts"] == {p["external_id"] for n in sent for p in batch(n)}
    assert after["orphans"] == 0 and after["reposts"] == 0
    assert {i: d for i, d in after["deadlines"].items() if i in before["deadlines"]} == before["deadlines"]


def _utc(stored_deadline: Any) -> datetime:
    """A deadline as SQLite keeps it (UTC, without an offset) as an aware datetime."""
    moment = datetime.fromisoformat(str(stored_deadline))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

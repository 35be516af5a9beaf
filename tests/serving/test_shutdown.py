"""SIGTERM stops a real `otklik serve` within seconds while event streams are open: the API's and the
dashboard's streams each end with an `end` event saying the server is stopping, and the process exits
(one worker, and two behind uvicorn's supervisor). Without it the worker waited for the streams' clients
or their lifetime (300 s by default)."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.serving.conftest import ADMIN
from tests.serving.server import server_process
from tests.web.conftest import login
from training.train import TrainResult


class Stream:
    """The events of one stream, read to its end in a thread."""

    def __init__(self, client: httpx.Client, path: str) -> None:
        self.events: list[tuple[str, Any]] = []
        self.first = threading.Event()
        self._client = client
        self._thread = threading.Thread(target=self._read, args=(path,), daemon=True)
        self._thread.start()

    def _read(self, path: str) -> None:
        with self._client.stream("GET", path) as response:
            assert response.status_code == 200
            event = None
            for line in response.iter_lines():
                if line.startswith("event: "):
                    event = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    self.events.append((str(event), json.loads(line.removeprefix("data: "))))
                    self.first.set()

    def ended(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_ends_the_open_streams_and_stops_the_server_within_seconds(
    trained: TrainResult, tmp_path: Path, workers: int
) -> None:
    env = {"OTKLIK_MODELS_DIR": str(trained.bundle.parent), "OTKLIK_ADMIN_TOKEN": ADMIN, "OTKLIK_ENV": "test",
           "OTKLIK_VAR_DIR": str(tmp_path), "OTKLIK_STATS_POLL_SECONDS": "60",  # the streams wait between polls
           "OTKLIK_SHUTDOWN_SECONDS": "20"}  # uvicorn's graceful timeout is not what ends them
    log = tmp_path / "server.log"
    timeout = httpx.Timeout(10, read=120)
    with server_process(env, log, workers=workers) as (url, proc), \
            httpx.Client(base_url=url, timeout=timeout, headers={"Authorization": f"Bearer {ADMIN}"}) as api, \
            httpx.Client(base_url=url, timeout=timeout, follow_redirects=True) as browser:
        assert login(browser, ADMIN).status_code == 200
        streams = [Stream(api, "/v1/stats/stream"), Stream(browser, "/ui/dashboard/stream")]
        assert all(s.first.wait(30) for s in streams), "the streams did not start"
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the server was still running 30 s after SIGTERM: {log.read_text()[-2000:]}")
        stopped = time.monotonic() - started
        assert all(s.ended(5) for s in streams)
    assert stopped < 5, f"stopped after {stopped:.1f} s"
    # uvicorn ends a graceful shutdown by raising the signal it caught again (the exit status of SIGTERM)
    assert proc.returncode in (0, -signal.SIGTERM), log.read_text()[-2000:]
    assert log.read_text().count('"stats stream ended"') == 2
    for stream in streams:
        assert [name for name, _ in stream.events] == ["stats", "end"]
        assert stream.events[-1][1] == {"reason": "stopping"}

"""The database goes away and comes back: every route that needs it answers 503 with Retry-After and
a JSON problem (the token lookup included), never a 500 or a traceback, and the service recovers by
itself. PostgreSQL sits behind a TCP proxy that the test cuts and restores; SQLite is opened read-only."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import make_url

from serving.app import create_app
from serving.database import make_engine, make_sessions, scratch_schema
from serving.deps import get_clock
from serving.store import SystemClock, create_user, issue_token, upgrade
from tests.serving.conftest import ADMIN, make_settings
from tests.serving.store.conftest import PG_URL, postgres  # noqa: F401
from tests.web.conftest import login
from training.train import TrainResult

POST = {"network": "vk", "external_id": "-1_1", "text": "На Гайве огромная яма на дороге, третью неделю никто не чинит",
        "published_at": "2026-11-28T10:00:00+05:00", "region": "perm-krai"}
# Every operation of the API with a body that would pass its checks: what needs the database must say 503.
CALLS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/v1/model", None),
    ("POST", "/v1/posts", {"posts": [POST]}),
    ("GET", "/v1/queue", None),
    ("GET", "/v1/incidents/1", None),
    ("POST", "/v1/incidents/1/decision", {"action": "accept", "version": 1}),
    ("POST", "/v1/incidents/1/response", {"text": "Отремонтируем до пятницы"}),
    ("GET", "/v1/stats", None),
    ("GET", "/v1/stats/stream", None),
    ("POST", "/v1/model/reload", None),
]
PAGES = ["/ui/queue", "/ui/inbox", "/ui/dashboard", "/ui/incidents/1"]
NO_DATABASE = {"/v1/model", "/v1/model/reload"}  # the operator's token is not looked up in the database


class Proxy:
    """A TCP proxy on 127.0.0.1 to `target`; `cut()` closes the listener and every connection (as a
    network failure would), `restore()` listens again on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._listener: socket.socket | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.restore()

    @property
    def cut_now(self) -> bool:
        return self._listener is None

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        assert self._listener is not None
        with contextlib.suppress(OSError):  # wakes the thread in accept(), which close() alone would not
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._listener = None
        with self._lock:
            for s in self._open:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # closed by cut()
                return
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open |= {client, server}
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)


@dataclass
class Service:
    client: TestClient
    browser: TestClient  # the same app with a regional administrator's session
    headers: dict[str, dict[str, str]]  # role -> Authorization


@contextlib.contextmanager
def start(trained: TrainResult, tmp: Path, url: str, setup_url: str) -> Iterator[Service]:
    """The app on `url`, its store migrated and given a user of each role through `setup_url`."""
    engine = make_engine(setup_url)
    upgrade(engine)
    clock = SystemClock()
    headers = {"admin": {"Authorization": f"Bearer {ADMIN}"}}
    with make_sessions(engine)() as session:
        for role, scope in {"federal": {}, "regional_admin": {"region": "perm-krai"},
                            "agency": {"region": "perm-krai", "agency": "municipality"},
                            "municipal": {"region": "perm-krai", "municipality": "57701000"}, "ml": {}}.items():
            user = create_user(session, role, role, clock, **scope)
            headers[role] = {"Authorization": f"Bearer {issue_token(session, user.id, clock)}"}
    engine.dispose()
    app: FastAPI = create_app(make_settings(trained.bundle.parent, tmp, database_url=url, stats_stream_seconds=0.2,
                                            stats_poll_seconds=0.05))
    with TestClient(app) as client:
        browser = TestClient(app, follow_redirects=False)
        login(browser, headers["regional_admin"]["Authorization"].removeprefix("Bearer "))
        yield Service(client, browser, headers)


def call(client: TestClient, method: str, path: str, body: dict[str, Any] | None,
         headers: dict[str, str]) -> httpx.Response:
    return client.request(method, path, json=body, headers=headers)


def unavailable(r: httpx.Response, where: str) -> None:
    assert r.status_code == 503, f"{where}: {r.status_code} {r.text[:300]}"
    assert r.headers["retry-after"].isdigit(), where
    assert "Traceback" not in r.text and "File \"" not in r.text, where


def api_unavailable(r: httpx.Response, where: str) -> None:
    unavailable(r, where)
    assert "the database is unavailable" in json.loads(r.text)["detail"], where


def everything(service: Service, check_api: Any, check_page: Any) -> None:
    for role, headers in service.headers.items():
        for method, path, body in CALLS:
            if role == "admin" and path in NO_DATABASE:
                continue
            check_api(call(service.client, method, path, body, headers), f"{role} {method} {path}")
    for page in PAGES:
        check_page(service.browser.get(page), f"page {page}")


def answered(r: httpx.Response, where: str) -> None:
    assert r.status_code < 500, f"{where}: {r.status_code} {r.text[:300]}"


@pytest.fixture
def postgres_service(trained: TrainResult, tmp_path: Path, postgres: str) -> Iterator[tuple[Service, Proxy]]:  # noqa: F811
    target = make_url(postgres)
    proxy = Proxy((target.host or "127.0.0.1", target.port or 5432))
    with scratch_schema(postgres, "otklik_faults") as direct:
        proxied = make_url(direct).set(port=proxy.port).render_as_string(hide_password=False)
        try:
            with start(trained, tmp_path, proxied, direct) as service:
                yield service, proxy
        finally:
            if proxy.cut_now:
                proxy.restore()


@pytest.mark.postgres
def test_postgres_cut_every_route_is_503_and_recovers_without_a_restart(
    postgres_service: tuple[Service, Proxy]
) -> None:
    service, proxy = postgres_service
    everything(service, answered, answered)  # warm: the pool holds live connections through the proxy
    proxy.cut()
    everything(service, api_unavailable, unavailable)
    ready = service.client.get("/ready")
    assert ready.status_code == 503 and ready.json()["checks"]["database"] is False
    assert any(p.startswith("database not reachable") for p in ready.json()["problems"])
    assert service.client.get("/health").status_code == 200
    predicted = service.client.post("/v1/predict", json={"posts": [{"id": "1", "text": POST["text"]}]})
    assert predicted.status_code == 200  # the model needs no database
    proxy.restore()
    everything(service, answered, answered)
    assert service.client.get("/ready").json()["ready"] is True
    assert service.client.post("/v1/posts", json={"posts": [POST]}, headers=service.headers["regional_admin"]
                               ).status_code == 200


def test_a_read_only_sqlite_file_is_503_on_writes_and_not_ready(trained: TrainResult, tmp_path: Path) -> None:
    """Opened read-only as SQLite opens a file it may not write (tests run as root, whom permissions
    do not stop, so the URI says it)."""
    path = tmp_path / "otklik.db"
    writable = f"sqlite:///{path}"
    engine = make_engine(writable)
    upgrade(engine)
    engine.dispose()
    read_only = f"sqlite:///file:{path}?mode=ro&uri=true"
    with start(trained, tmp_path, read_only, writable) as service:
        ready = service.client.get("/ready")
        assert ready.status_code == 503 and ready.json()["checks"]["database"] is False
        assert any(p.startswith("database does not take writes") for p in ready.json()["problems"]), ready.json()
        admin = service.headers["regional_admin"]
        assert service.client.get("/v1/queue", headers=admin).status_code == 200  # reading works
        api_unavailable(service.client.post("/v1/posts", json={"posts": [POST]}, headers=admin), "POST /v1/posts")
    assert not (tmp_path / "file:").exists()  # the URI is not taken for a folder


def test_a_fault_is_one_json_log_line_with_the_request_id_and_no_traceback_to_the_client(
    trained: TrainResult, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "otklik.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    with start(trained, tmp_path, f"sqlite:///file:{path}?mode=ro&uri=true", f"sqlite:///{path}") as service:
        admin = service.headers["regional_admin"]
        refused = service.client.post("/v1/posts", json={"posts": [POST]}, headers={**admin, "X-Request-ID": "probe-1"})

        class Broken:
            def now(self) -> Any:
                raise RuntimeError("the clock broke")

        service.client.app.dependency_overrides[get_clock] = Broken  # type: ignore[attr-defined]
        failed = service.client.get("/v1/queue", headers={**admin, "X-Request-ID": "probe-2"})
    assert refused.status_code == 503
    assert failed.status_code == 500 and failed.json() == {
        "detail": "internal error; quote the request id to the operator", "request_id": "probe-2"}
    assert "Traceback" not in failed.text and "clock broke" not in failed.text
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    [unavailable] = [x for x in lines if x["request_id"] == "probe-1" and x["level"] == "warning"]
    assert "readonly database" in unavailable["message"]
    [fault] = [x for x in lines if x["request_id"] == "probe-2" and x["level"] == "error"]
    assert "RuntimeError: the clock broke" in fault["exc"] and fault["path"] == "/v1/queue"

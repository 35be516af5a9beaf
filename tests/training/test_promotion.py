"""Promotion and rollback bookkeeping: the history, the MLflow `champion` alias, telling serving to reload."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from model.bundle import Bundle, BundleError, set_current
from tests.serving.server import free_port
from tests.training.bundles import copy_bundle
from training.promotion import history, http_reload, rollback_target, switch
from training.registry import Registry


@pytest.fixture
def models(tmp_path: Path, bundle: Bundle) -> Path:
    models = tmp_path / "models"
    for n, day in (("A", "01"), ("B", "10"), ("C", "20")):
        copy_bundle(bundle, models, f"bundle-{n}", f"2026-11-{day}T10:00:00+00:00")
    set_current(models, models / "bundle-A")
    return models


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    """A real MLflow registry (SQLite) where bundle-A and bundle-B are registered, bundle-C is not."""
    registry = Registry(f"sqlite:///{tmp_path / 'mlflow.db'}", "otklik")
    registry.client.create_registered_model("otklik")
    for bundle_id in ("bundle-A", "bundle-B"):
        registry.client.create_model_version("otklik", source=(tmp_path / bundle_id).as_uri(),
                                             tags={"bundle_id": bundle_id})
    return registry


def test_a_switch_moves_current_the_alias_and_logs_itself(models: Path, registry: Registry) -> None:
    done = switch(models, models / "bundle-B", "promote", "better on topic", registry)
    assert (done.bundle, done.previous, done.warnings) == ("bundle-B", "bundle-A", ())
    assert (models / "current").resolve().name == "bundle-B"
    assert registry.champion() == "bundle-B" and registry.version_of("bundle-B") == "2"
    assert history(models)[-1] | {"at": None} == {"at": None, "action": "promote", "bundle": "bundle-B",
                                                  "previous": "bundle-A", "reason": "better on topic"}


def test_an_unregistered_bundle_takes_the_alias_away_with_a_warning(models: Path, registry: Registry) -> None:
    switch(models, models / "bundle-B", "promote", "x", registry)
    done = switch(models, models / "bundle-C", "promote", "x", registry)
    assert (models / "current").resolve().name == "bundle-C"  # the registry is bookkeeping: the switch stands
    assert len(done.warnings) == 1 and "bundle-C has no registered version" in done.warnings[0]
    assert registry.champion() is None  # never an alias naming a bundle that does not serve


def test_rollback_targets(models: Path, registry: Registry) -> None:
    assert rollback_target(models, "2", registry) == models / "bundle-B"  # a registry version
    assert rollback_target(models, "bundle-C") == models / "bundle-C"
    switch(models, models / "bundle-C", "promote", "x")
    assert rollback_target(models) == models / "bundle-A"  # what served before the promotion
    set_current(models, models / "bundle-B")  # switched by hand: no history, the next older bundle
    assert rollback_target(models) == models / "bundle-A"
    with pytest.raises(BundleError, match="looks like a registry version"):
        rollback_target(models, "3")
    with pytest.raises(BundleError, match="registry version 9 of 'otklik' does not exist"):
        rollback_target(models, "9", registry)


def test_a_switch_to_a_tampered_bundle_changes_nothing(models: Path) -> None:
    (models / "bundle-B" / "taxonomy.yaml").write_text("changed", encoding="utf-8")
    with pytest.raises(BundleError, match="sha256 mismatch"):
        switch(models, models / "bundle-B", "promote", "x")
    assert (models / "current").resolve().name == "bundle-A" and history(models) == []


class Answer(BaseHTTPRequestHandler):
    status = 200
    seen: ClassVar[list[tuple[str, str | None]]] = []

    def do_POST(self) -> None:
        Answer.seen.append((self.path, self.headers.get("Authorization")))
        body = b'{"detail": "bundle failed verification (still serving bundle-A)"}'
        self.send_response(self.status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fake_server() -> Iterator[tuple[str, type[Answer]]]:
    Answer.seen = []
    server = HTTPServer(("127.0.0.1", 0), Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", Answer
    server.shutdown()
    server.server_close()


def test_reload_is_posted_with_the_admin_token(fake_server: tuple[str, type[Answer]]) -> None:
    url, answer = fake_server
    answer.status = 200
    assert http_reload(url + "/", "secret")() is None
    assert answer.seen == [("/v1/model/reload", "Bearer secret")]


def test_a_refused_or_unreachable_reload_is_a_warning(fake_server: tuple[str, type[Answer]]) -> None:
    url, answer = fake_server
    answer.status = 409
    refused = http_reload(url, "secret")()
    assert refused is not None and "refused the reload (409)" in refused and "still serving bundle-A" in refused
    down = http_reload(f"http://127.0.0.1:{free_port()}", "secret", timeout=2)()
    assert down is not None and "not reached" in down and "loads var/models/current when it starts" in down

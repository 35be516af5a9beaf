"""Hot reload over real HTTP: no request lost, a bad bundle refused, /health alive during a batch."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from model.bundle import META, PIPELINE, Bundle, set_current
from model.predictor import Predictor
from serving.models import ModelHolder
from tests.serving.conftest import ADMIN
from tests.serving.server import running_server

AUTH = {"Authorization": f"Bearer {ADMIN}"}


def renamed_copy(bundle: Bundle, target: Path, new_id: str) -> Path:
    shutil.copytree(bundle.path, target)
    meta = json.loads((target / META).read_text(encoding="utf-8"))
    meta["id"] = new_id
    (target / META).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    return target


@pytest.fixture(scope="module")
def server(bundle: Bundle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Bundle]]:
    models = tmp_path_factory.mktemp("reload-models")
    renamed_copy(bundle, models / "A", "bundle-A")
    renamed_copy(bundle, models / "B", "bundle-B")
    set_current(models, models / "A")
    env = {"OTKLIK_MODELS_DIR": str(models), "OTKLIK_ADMIN_TOKEN": ADMIN, "OTKLIK_ENV": "test",
           "OTKLIK_VAR_DIR": str(tmp_path_factory.mktemp("reload-var"))}
    with running_server(env, models / "server.log") as url:
        yield url, models, bundle


def test_reload_under_concurrent_requests_loses_no_request(server: tuple[str, Path, Bundle]) -> None:
    url, models, _ = server
    post = {"posts": [{"id": "1", "text": "Яма на дороге у школы в Чусовом, машины бьют колёса"}]}
    stop = threading.Event()
    seen: list[tuple[int, str]] = []

    def hammer() -> None:
        with httpx.Client(base_url=url, timeout=30) as c:
            while not stop.is_set():
                r = c.post("/v1/predict", json=post)
                seen.append((r.status_code, r.json().get("model", "")))

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(hammer) for _ in range(4)]
        with httpx.Client(base_url=url, timeout=30) as c:
            for target in ["B", "A", "B", "A", "B"]:
                set_current(models, models / target)
                r = c.post("/v1/model/reload", headers=AUTH)
                assert r.status_code == 200 and r.json()["id"] == f"bundle-{target}"
                time.sleep(0.2)
        stop.set()
        for f in futures:
            f.result()
    assert len(seen) > 20
    assert all(status == 200 for status, _ in seen), [s for s in seen if s[0] != 200][:5]
    assert {model for _, model in seen} == {"bundle-A", "bundle-B"}
    assert httpx.post(f"{url}/v1/predict", json=post).json()["model"] == "bundle-B"


def test_a_tampered_bundle_is_refused_and_the_old_one_stays(server: tuple[str, Path, Bundle]) -> None:
    url, models, bundle = server
    bad = renamed_copy(bundle, models / "bad", "bundle-bad")
    with (bad / PIPELINE).open("ab") as fh:
        fh.write(b"junk")
    before = httpx.get(f"{url}/v1/model", headers=AUTH).json()["id"]
    set_current(models, bad)
    try:
        r = httpx.post(f"{url}/v1/model/reload", headers=AUTH, timeout=30)
        assert r.status_code == 409
        assert "sha256 mismatch" in r.json()["detail"] and f"still serving {before}" in r.json()["detail"]
        assert httpx.get(f"{url}/v1/model", headers=AUTH).json()["id"] == before
    finally:
        set_current(models, models / "B")


def test_health_answers_while_a_batch_is_scored(server: tuple[str, Path, Bundle]) -> None:
    url, _, _ = server
    posts = [{"id": str(i), "text": f"Третий день нет света на улице Ленина {i}, дети делают уроки при свечах"}
             for i in range(1000)]
    with ThreadPoolExecutor(1) as pool:
        batch = pool.submit(httpx.post, f"{url}/v1/predict", json={"posts": posts}, timeout=120)
        time.sleep(0.05)
        started = time.perf_counter()
        health = httpx.get(f"{url}/health", timeout=5)
        waited = time.perf_counter() - started
        done_before_health = batch.done()
        assert batch.result().status_code == 200
    assert health.status_code == 200
    assert done_before_health or waited < 1.0


def _wait_for(predicate: Callable[[], bool], seconds: float = 60.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_a_holder_follows_current_and_does_not_retry_a_bad_bundle(bundle: Bundle, tmp_path: Path) -> None:
    renamed_copy(bundle, tmp_path / "A", "bundle-A")
    renamed_copy(bundle, tmp_path / "B", "bundle-B")
    set_current(tmp_path, tmp_path / "A")
    holder = ModelHolder(tmp_path / "current")
    holder.load()
    set_current(tmp_path, tmp_path / "B")
    assert _wait_for(lambda: (p := holder.current) is not None and p.bundle.id == "bundle-B")
    bad = renamed_copy(bundle, tmp_path / "bad", "bundle-bad")
    with (bad / PIPELINE).open("ab") as fh:
        fh.write(b"junk")
    set_current(tmp_path, bad)
    loads = []
    original = holder.load

    def counted() -> Predictor:
        loads.append(1)
        return original()

    holder.load = counted  # type: ignore[method-assign]
    for _ in range(15):  # three seconds of requests: one attempt, refused, and the old bundle serves on
        current = holder.current
        assert current is not None and current.bundle.id == "bundle-B"
        time.sleep(0.2)
    assert len(loads) == 1


def test_every_worker_follows_current_without_a_reload_call(bundle: Bundle, tmp_path: Path) -> None:
    renamed_copy(bundle, tmp_path / "A", "bundle-A")
    renamed_copy(bundle, tmp_path / "B", "bundle-B")
    set_current(tmp_path, tmp_path / "A")
    env = {"OTKLIK_MODELS_DIR": str(tmp_path), "OTKLIK_ADMIN_TOKEN": ADMIN, "OTKLIK_ENV": "test",
           "OTKLIK_VAR_DIR": str(tmp_path / "var")}
    post = {"posts": [{"id": "1", "text": "Нет света на улице Мира в Кунгуре"}]}
    with running_server(env, tmp_path / "server.log", workers=2) as url:
        set_current(tmp_path, tmp_path / "B")

        def all_on_b() -> bool:  # a new connection each time: the kernel hands them to either worker
            return all(httpx.post(f"{url}/v1/predict", json=post, timeout=30).json()["model"] == "bundle-B"
                       for _ in range(20))

        assert _wait_for(all_on_b)
        lines = (tmp_path / "server.log").read_text().splitlines()
        assert sum("bundle loaded" in line and "bundle-B" in line for line in lines) == 2, "each worker loads B"

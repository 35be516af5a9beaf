"""Hot reload over real HTTP: no request lost, a bad bundle refused, /health alive during a batch."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from model.bundle import META, PIPELINE, Bundle, set_current
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

"""The web pages' cost: the triage queue (50 cards, each post's words marked with the model's
lemmas) and the dashboard (four statistics queries and the overdue list), rendered in-process.

    .venv/bin/python -m bench.web [--bundle var/models/current] [--incidents 2000] [--requests 50]

Registers `--incidents` complaints with the real model in a temporary SQLite store (texts made from
templates so that no two are near-duplicates), logs in as the operator through the login form, and
requests each page `--requests` times through Starlette's TestClient (no network: what is measured
is the server's work). Prints one JSON object: p50/p90/p99 wall milliseconds, mean CPU
milliseconds of this process per request, and the page's size as HTML and as sent (gzip).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from model.bundle import load_bundle, set_current
from model.predictor import Predictor
from serving.app import create_app
from serving.database import make_engine, make_sessions
from serving.ingest import IncomingPost, ingest
from serving.settings import Settings
from serving.store import SystemClock, upgrade

ADMIN = "bench-admin-token"
TEMPLATES = (
    "На улице {street} дом {n} огромная яма на дороге, третью неделю никто не чинит",
    "В доме {n} на улице {street} батареи холодные, управляющая компания не отвечает",
    "Мусор не вывозят вторую неделю у дома {n} по улице {street}, контейнеры переполнены",
    "На улице {street} возле дома {n} не горят фонари, вечером страшно идти",
)
STREETS = ("Ленина", "Мира", "Пушкина", "Гагарина", "Куйбышева", "Сибирской", "Петропавловской", "Революции")


def posts(n: int) -> list[IncomingPost]:
    now = datetime.now(UTC)
    return [
        IncomingPost(network="vk", external_id=f"-1_{i}", published_at=now - timedelta(minutes=i),
                     text=TEMPLATES[i % len(TEMPLATES)].format(street=STREETS[i // 4 % len(STREETS)], n=i // 32 + 1),
                     url=f"https://vk.com/wall-1_{i}", region="perm-krai")
        for i in range(n)
    ]


def measure(client: TestClient, path: str, requests: int) -> dict[str, float]:
    client.get(path)  # warm-up: templates compiled, caches filled
    wall, cpu = [], []
    for _ in range(requests):
        w, c = time.perf_counter(), time.process_time()
        answer = client.get(path)
        wall.append((time.perf_counter() - w) * 1000)
        cpu.append((time.process_time() - c) * 1000)
        assert answer.status_code == 200, answer.text[:300]
    q = statistics.quantiles(wall, n=100)
    return {"p50_ms": round(q[49], 1), "p90_ms": round(q[89], 1), "p99_ms": round(q[98], 1),
            "cpu_ms_mean": round(statistics.fmean(cpu), 1), "bytes": len(answer.content),
            "gzip_bytes": answer.num_bytes_downloaded}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=Path("var/models/current"))
    parser.add_argument("--incidents", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        var = Path(tmp)
        bundle = (var / "models" / "bench").resolve()
        shutil.copytree(args.bundle.resolve(), bundle)
        set_current(bundle.parent, bundle)
        engine = make_engine(f"sqlite:///{var / 'otklik.db'}")
        upgrade(engine)
        predictor = Predictor(load_bundle(bundle))
        started = time.perf_counter()
        batch = posts(args.incidents)
        registered = 0
        for i in range(0, len(batch), 500):
            registered += len(ingest(make_sessions(engine), predictor, SystemClock(), batch[i:i + 500]).incidents)
        seeded = time.perf_counter() - started
        engine.dispose()

        settings = Settings(env="test", var_dir=var, models_dir=bundle.parent, admin_token=ADMIN)
        with TestClient(create_app(settings)) as client:
            form = client.get("/ui/login").text
            nonce = re.search(r'name="nonce" value="([^"]+)"', form)
            assert nonce
            client.post("/ui/login", data={"token": ADMIN, "nonce": nonce.group(1)})
            result = {
                "incidents": registered,
                "seed_seconds": round(seeded, 1),
                "queue_50_cards": measure(client, "/ui/queue", args.requests),
                "queue_by_uncertainty": measure(client, "/ui/queue?order=uncertainty&status=all", args.requests),
                "dashboard": measure(client, "/ui/dashboard", args.requests),
                "dashboard_live": measure(client, "/ui/dashboard/live", args.requests),
            }
    print(json.dumps(result, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()

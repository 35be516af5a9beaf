"""`otklik ingest`, `otklik feedback export` and `otklik purge`, run for real in subprocesses on a SQLite file with
the session's bundle: real files, stdin, bad lines, exit codes, and the rows `otklik train` reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from serving.database import make_engine, make_sessions
from serving.store import Labels, SystemClock, decide
from tests.serving.test_incidents_api import AD, GARBAGE_EKB, HEATING, NO_PLACE, POTHOLE, wire
from training.corpus import read_jsonl
from training.train import TrainResult

COMMAND = [sys.executable, "-m", "serving.cli"]


def run(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COMMAND, *args], input=stdin, capture_output=True, text=True, timeout=300,
                          env={**os.environ, **env}, cwd=Path(__file__).resolve().parents[2])


@pytest.fixture
def env(trained: TrainResult, tmp_path: Path) -> dict[str, str]:
    return {"OTKLIK_MODELS_DIR": str(trained.bundle.parent), "OTKLIK_VAR_DIR": str(tmp_path),
            "OTKLIK_DATABASE_URL": f"sqlite:///{tmp_path / 'otklik.db'}", "OTKLIK_MAX_TEXT_CHARS": "2000"}


def counts(env: dict[str, str]) -> tuple[int, int]:
    engine = make_engine(env["OTKLIK_DATABASE_URL"])
    with engine.connect() as conn:
        found = tuple(int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()) for t in ("posts", "incidents"))
    engine.dispose()
    return found  # type: ignore[return-value]


def jsonl(posts: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in posts)


GOOD = [wire("-1_1", POTHOLE), wire("-1_2", AD), wire("-1_3", GARBAGE_EKB, region=None), wire("-1_4", HEATING)]
LINES = [
    json.dumps(GOOD[0], ensure_ascii=False),
    "{not json",
    json.dumps(GOOD[1], ensure_ascii=False),
    json.dumps({**wire("-1_9", POTHOLE), "region": "mars"}, ensure_ascii=False),
    "",
    json.dumps(GOOD[2], ensure_ascii=False),
    json.dumps(wire("-1_10", NO_PLACE, region=None), ensure_ascii=False),
    json.dumps({"network": "vk", "text": POTHOLE, "published_at": "2026-11-28T10:00:00+05:00"}),
    json.dumps(wire("-1_11", "я" * 2001), ensure_ascii=False),
    json.dumps(GOOD[3], ensure_ascii=False),
]


def test_ingest_stores_the_good_lines_reports_the_bad_ones_and_exits_1(env: dict[str, str], tmp_path: Path) -> None:
    posts = tmp_path / "posts.jsonl"
    posts.write_text("\n".join(LINES) + "\n", encoding="utf-8")

    with ThreadPoolExecutor(2) as pool:  # a missing file, meanwhile, on its own database
        missing = pool.submit(run, {**env, "OTKLIK_DATABASE_URL": f"sqlite:///{tmp_path / 'other.db'}"},
                              "ingest", str(tmp_path / "nope.jsonl"))
        first = run(env, "ingest", str(posts), "--batch", "2")

    assert first.returncode == 1, first.stderr
    summary = json.loads(first.stdout)
    assert summary == {"created": 4, "duplicates": 0, "incidents": 3, "rejected": 5}
    errors = [line for line in first.stderr.splitlines() if "skipped" in line]
    assert [e.split(":")[1] for e in errors] == [" line 2", " line 4", " line 7", " line 8", " line 9"]
    assert "not valid JSON" in errors[0]
    assert "region: " in errors[1] and "'mars'" in errors[1] and "perm-krai, sverdlovsk-oblast" in errors[1]
    assert "cannot be routed" in errors[2] and "'-1_10'" in errors[2]
    assert "external_id: Field required" in errors[3]
    assert "text: text has 2001 characters; the limit is 2000" in errors[4]
    assert counts(env) == (4, 3)

    m = missing.result()
    assert m.returncode == 2 and "nope.jsonl" in m.stderr and m.stdout == ""

    # a replay from stdin stores nothing new; a clean input exits 0 (both only find duplicates: run together)
    with ThreadPoolExecutor(2) as pool:
        replay = pool.submit(run, env, "ingest", "-", stdin=posts.read_text(encoding="utf-8"))
        clean = pool.submit(run, env, "ingest", "-", stdin=jsonl(GOOD[:2]))
    again = replay.result()
    assert again.returncode == 1 and json.loads(again.stdout) == {"created": 0, "duplicates": 4, "incidents": 0,
                                                                  "rejected": 5}
    ok = clean.result()
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == {"created": 0, "duplicates": 2, "incidents": 0, "rejected": 0}
    assert counts(env) == (4, 3)


def test_feedback_export_writes_corpus_rows(env: dict[str, str], tmp_path: Path) -> None:
    ingested = run(env, "ingest", "-", stdin=jsonl(GOOD))
    assert ingested.returncode == 0, ingested.stderr
    engine = make_engine(env["OTKLIK_DATABASE_URL"])
    clock = SystemClock()
    with make_sessions(engine)() as s:
        ids = [i for (i,) in s.execute(text("SELECT id FROM incidents ORDER BY id"))]
        decide(s, ids[0], "accept", 1, "perm-admin", clock)
        decide(s, ids[1], "dismiss", 1, "perm-admin", clock, reason="не жалоба")
        middle = clock.now()
        decide(s, ids[2], "correct", 1, "perm-admin", clock, Labels(agency="housing_ministry"))
    engine.dispose()
    out = tmp_path / "feedback.jsonl"

    with ThreadPoolExecutor(3) as pool:
        full = pool.submit(run, env, "feedback", "export", "--out", str(out))
        recent = pool.submit(run, env, "feedback", "export", "--since", middle.isoformat())
        naive = pool.submit(run, env, "feedback", "export", "--since", "2026-11-28T10:00:00")
        garbage = pool.submit(run, env, "feedback", "export", "--since", "yesterday")

    r = full.result()
    assert r.returncode == 0 and r.stdout == "" and "3 feedback labels exported" in r.stderr
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(row["incident"], row["relevant"], row["agency"]) for row in rows] == [
        (ids[0], True, "municipality"), (ids[1], False, None), (ids[2], True, "housing_ministry")]
    assert rows[2]["corrected"] == ["agency"] and rows[0]["who"] == "perm-admin"
    examples = read_jsonl(out)  # what `otklik train` reads from the corpus folder
    assert [e.text for e in examples] == [GOOD[0]["text"], GOOD[2]["text"], GOOD[3]["text"]]
    assert [e.relevant for e in examples] == [True, False, True] and examples[2].agency == "housing_ministry"

    r = recent.result()
    assert r.returncode == 0 and [json.loads(line)["incident"] for line in r.stdout.splitlines()] == [ids[2]]
    for bad, words in ((naive.result(), "has no time zone"), (garbage.result(), "not an ISO time")):
        assert bad.returncode == 2 and words in bad.stderr and bad.stdout == ""


PERSONAL = ("На Гайве огромная яма на дороге, третью неделю никто не чинит, кв. 45, "
            "звоните Ольге Ивановне 8 912 345-67-89")
MASKED = "На Гайве огромная яма на дороге, третью неделю никто не чинит, [КВ], звоните [ИМЯ] [ТЕЛЕФОН]"


def test_personal_data_is_masked_in_the_export_and_purged_after_the_retention_period(
    env: dict[str, str], tmp_path: Path
) -> None:
    ingested = run(env, "ingest", "-", stdin=jsonl([wire("-1_1", PERSONAL, author="Ольга Иванова")]))
    assert ingested.returncode == 0, ingested.stderr
    engine = make_engine(env["OTKLIK_DATABASE_URL"])
    with make_sessions(engine)() as s:
        [incident] = [i for (i,) in s.execute(text("SELECT id FROM incidents"))]
        decide(s, incident, "dismiss", 1, "perm-admin", SystemClock(), reason="проверено")
    exported = run(env, "feedback", "export")
    assert exported.returncode == 0, exported.stderr
    assert [json.loads(line)["text"] for line in exported.stdout.splitlines()] == [MASKED]

    young = run(env, "purge", "--older-than", "180d")
    assert young.returncode == 0 and json.loads(young.stdout)["posts"] == 0
    with engine.begin() as conn:  # the post was received 200 days ago
        conn.execute(text("UPDATE posts SET created_at = :old"), {"old": "2026-01-01 00:00:00.000000"})
    dry = run(env, "purge", "--older-than", "180d", "--dry-run")
    assert json.loads(dry.stdout)["posts"] == 1
    with engine.connect() as conn:
        assert conn.execute(text("SELECT text FROM posts")).scalar_one() == PERSONAL  # the dry run changed nothing
    done = run(env, "purge", "--older-than", "180d")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["posts"] == 1
    with engine.connect() as conn:
        assert conn.execute(text("SELECT text, author, raw FROM posts")).one() == (MASKED, None, None)
        assert conn.execute(text("SELECT status FROM incidents")).scalar_one() == "dismissed"
    engine.dispose()
    bad = run(env, "purge", "--older-than", "half a year")
    assert bad.returncode == 2 and "--older-than" in bad.stderr and "180d" in bad.stderr

"""Scheduled retraining: the schedule language, one worker per slot, one job at a time, a real subprocess."""

from __future__ import annotations

import re
import shutil
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

import pytest

from model.bundle import Bundle, set_current
from serving.scheduler import JobRunning, Schedule, claim, job_lock, parse_schedule, start, stop
from serving.settings import Settings
from tests.conftest import ROOT

MOMENT = datetime(2026, 11, 28, 10, 15, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "schedule"),
    [
        ("", None),
        ("off", None),
        ("daily 03:30", Schedule(daily_at=clock_time(3, 30))),
        ("Daily 3:05", Schedule(daily_at=clock_time(3, 5))),
        ("every 6h", Schedule(every=timedelta(hours=6))),
        ("every 90m", Schedule(every=timedelta(minutes=90))),
        ("every 2s", Schedule(every=timedelta(seconds=2))),
        ("every 1d", Schedule(every=timedelta(days=1))),
    ],
)
def test_schedules(text: str, schedule: Schedule | None) -> None:
    assert parse_schedule(text) == schedule


@pytest.mark.parametrize("text", ["daily 25:00", "daily 10:60", "hourly", "every 0h", "every 5x", "every h", "3:30"])
def test_bad_schedules_say_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match=r"OTKLIK_RETRAIN_SCHEDULE=.*expected \"off\", \"daily HH:MM\" \(UTC\)"):
        parse_schedule(text)


@pytest.mark.parametrize(
    ("text", "after", "expected"),
    [
        ("daily 03:30", MOMENT, datetime(2026, 11, 29, 3, 30, tzinfo=UTC)),
        ("daily 12:00", MOMENT, datetime(2026, 11, 28, 12, 0, tzinfo=UTC)),
        ("daily 10:15", MOMENT.replace(second=0), datetime(2026, 11, 29, 10, 15, tzinfo=UTC)),
        ("every 6h", MOMENT, datetime(2026, 11, 28, 12, 0, tzinfo=UTC)),
        ("every 6h", MOMENT.replace(hour=12, minute=0, second=0), datetime(2026, 11, 28, 18, 0, tzinfo=UTC)),
        ("every 90m", MOMENT, datetime(2026, 11, 28, 10, 30, tzinfo=UTC)),
    ],
)
def test_next_slot(text: str, after: datetime, expected: datetime) -> None:
    schedule = parse_schedule(text)
    assert schedule is not None and schedule.next_after(after) == expected


def test_each_slot_is_claimed_once(tmp_path: Path) -> None:
    slot = MOMENT
    assert claim(tmp_path, slot) is True
    assert claim(tmp_path, slot) is False  # the other worker, woken for the same slot
    assert claim(tmp_path, slot - timedelta(hours=1)) is False
    assert claim(tmp_path, slot + timedelta(hours=6)) is True


def test_one_job_at_a_time(tmp_path: Path) -> None:
    with job_lock(tmp_path), pytest.raises(JobRunning, match=r"another retraining is running \(pid \d+ holds"), \
            job_lock(tmp_path):
        pass
    with job_lock(tmp_path):  # released when the holder is done
        pass


def test_two_workers_run_each_slot_once_in_a_subprocess(tmp_path: Path, bundle: Bundle,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    models = tmp_path / "models"
    shutil.copytree(bundle.path, models / bundle.id)
    set_current(models, models / bundle.id)
    settings = Settings(env="test", var_dir=tmp_path, models_dir=models, retrain_schedule="every 2s",
                        retrain_min_feedback=1000, reload_url="http://127.0.0.1:9")  # type: ignore[arg-type]
    workers = [start(settings), start(settings)]
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and sum(w.runs for w in workers if w) < 2:
            time.sleep(0.2)
    finally:
        for w in workers:
            stop(w)
    assert all(w is not None for w in workers)
    log = (tmp_path / "retrain.log").read_text(encoding="utf-8")
    runs = re.findall(r"^--- slot (\S+) ", log, re.M)
    assert len(runs) >= 2 and len(runs) == len(set(runs)), log  # no slot ran twice
    # each run either found too little feedback or, its slot come while the last run still went on,
    # found the job lock held: never two retrainings at once
    outcomes = re.findall(r"^(skipped: 0 new feedback label\(s\) since champion|otklik: another retraining is "
                          r"running)", log, re.M)
    # (a run that started just before stop() is terminated before it says anything)
    assert len(runs) - 1 <= len(outcomes) <= len(runs), log
    assert "skipped: 0 new feedback label(s) since champion" in outcomes, log
    assert {p.name for p in models.iterdir()} == {bundle.id, "current"}  # too little feedback: nothing trained


def test_no_schedule_starts_nothing(tmp_path: Path) -> None:
    assert start(Settings(env="test", var_dir=tmp_path)) is None
    stop(None)


def test_settings_refuse_a_bad_schedule(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="OTKLIK_RETRAIN_SCHEDULE='hourly': expected"):
        Settings(env="test", var_dir=tmp_path, retrain_schedule="hourly")

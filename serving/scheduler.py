"""Retraining on a schedule inside the service, in a separate process so that the API never stalls.

`start(settings)` starts a timer thread in this worker; at each slot of OTKLIK_RETRAIN_SCHEDULE
("daily 03:30" in UTC, or "every 6h") the workers that wake race for the slot, and the one that
claims it (a state file under a file lock in var_dir) runs `otklik retrain` as a subprocess, with
OTKLIK_RETRAIN_MIN_FEEDBACK passed on: the job itself decides whether there is enough new feedback.
The job holds its own lock (`job_lock`) for its whole run, so a cron entry running the same command
never overlaps with the scheduled one. Output goes to var_dir/retrain.log.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from serving.settings import Settings

log = logging.getLogger("otklik.scheduler")

_DAILY = re.compile(r"daily\s+(\d{1,2}):(\d{2})")
_EVERY = re.compile(r"every\s+(\d+)\s*([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
STATE = "scheduler.json"


class JobRunning(Exception):
    """Another retraining holds the job lock."""


@dataclass(frozen=True)
class Schedule:
    """Either a time of day (UTC) or an interval; interval slots are multiples of it since the epoch,
    so every worker computes the same slots."""

    daily_at: time | None = None
    every: timedelta | None = None

    def next_after(self, moment: datetime) -> datetime:
        if self.every is not None:
            step = self.every.total_seconds()
            return datetime.fromtimestamp((moment.timestamp() // step + 1) * step, UTC)
        assert self.daily_at is not None
        today = datetime.combine(moment.astimezone(UTC).date(), self.daily_at, UTC)
        return today if today > moment else today + timedelta(days=1)


def parse_schedule(text: str) -> Schedule | None:
    """"" or "off": no schedule; "daily HH:MM" (UTC); "every N[s|m|h|d]"."""
    spec = text.strip().lower()
    if spec in ("", "off"):
        return None
    if m := _DAILY.fullmatch(spec):
        hour, minute = int(m[1]), int(m[2])
        if hour < 24 and minute < 60:
            return Schedule(daily_at=time(hour, minute))
    elif (m := _EVERY.fullmatch(spec)) and int(m[1]) > 0:
        return Schedule(every=timedelta(seconds=int(m[1]) * _UNITS[m[2]]))
    raise ValueError(f"OTKLIK_RETRAIN_SCHEDULE={text!r}: expected \"off\", \"daily HH:MM\" (UTC) or "
                     "\"every N\" with s, m, h or d, e.g. \"every 6h\"")


@contextmanager
def job_lock(var_dir: Path) -> Iterator[None]:
    """Held for a whole retraining; JobRunning when another process holds it (it is freed when that
    process ends, however it ends)."""
    var_dir.mkdir(parents=True, exist_ok=True)
    path = var_dir / "retrain.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise JobRunning(f"another retraining is running (pid {holder} holds {path})") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def claim(var_dir: Path, slot: datetime) -> bool:
    """True for exactly one of the workers that ask for the same slot."""
    var_dir.mkdir(parents=True, exist_ok=True)
    with (var_dir / "scheduler.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # held for a file read and write only
        state_file = var_dir / STATE
        state = json.loads(state_file.read_text(encoding="utf-8")) if state_file.exists() else {}
        if state.get("last_slot") and datetime.fromisoformat(state["last_slot"]) >= slot:
            return False
        state_file.write_text(json.dumps({"last_slot": slot.isoformat(), "pid": os.getpid()}), encoding="utf-8")
        return True


def command(settings: Settings) -> list[str]:
    cmd = [sys.executable, "-m", "serving.cli", "retrain"]
    if settings.retrain_min_feedback is not None:
        cmd += ["--min-feedback", str(settings.retrain_min_feedback)]
    return cmd


def environment(settings: Settings) -> dict[str, str]:
    """The job sees the settings this worker runs with, whether they came from the environment or not."""
    assert settings.models_dir is not None
    return {
        **os.environ,
        "OTKLIK_ENV": settings.env,
        "OTKLIK_VAR_DIR": str(settings.var_dir),
        "OTKLIK_MODELS_DIR": str(settings.models_dir),
        "OTKLIK_DATABASE_URL": settings.database_url,
        "OTKLIK_MLFLOW_URI": settings.mlflow_uri,
        "OTKLIK_ADMIN_TOKEN": settings.admin_token,
        "OTKLIK_RELOAD_URL": settings.reload_url,
    }


@dataclass
class Handle:
    schedule: Schedule
    stopping: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    process: subprocess.Popen[bytes] | None = None
    runs: int = 0


def run_job(settings: Settings, handle: Handle, slot: datetime) -> int:
    """Run `otklik retrain` once, appending its output to var_dir/retrain.log; its exit code."""
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    with (settings.var_dir / "retrain.log").open("ab") as sink:
        started = datetime.now(UTC).isoformat(timespec="seconds")
        sink.write(f"--- slot {slot.isoformat()} started {started}: scheduled retraining\n".encode())
        sink.flush()
        handle.process = subprocess.Popen(command(settings), env=environment(settings), stdout=sink,
                                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.info("retraining started", extra={"pid": handle.process.pid})
        code = handle.process.wait()
    handle.process = None
    handle.runs += 1
    log.info("retraining finished", extra={"exit_code": code})
    return code


def start(settings: Settings, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> Handle | None:
    """Start this worker's timer thread; None when no schedule is set. ValueError for a bad schedule."""
    schedule = parse_schedule(settings.retrain_schedule)
    if schedule is None:
        return None
    handle = Handle(schedule)

    def loop() -> None:
        slot = schedule.next_after(now())
        while not handle.stopping.wait(max(0.0, (slot - now()).total_seconds())):
            try:
                if claim(settings.var_dir, slot):
                    run_job(settings, handle, slot)
            except OSError as exc:  # a full disk or a bad var_dir must not kill the thread for good
                log.error("scheduled retraining failed to run: %s", exc)
            slot = schedule.next_after(max(now(), slot))

    handle.thread = threading.Thread(target=loop, name="otklik-retrain-scheduler", daemon=True)
    handle.thread.start()
    log.info("retraining scheduled", extra={"schedule": settings.retrain_schedule})
    return handle


def stop(handle: Handle | None, timeout: float = 30.0) -> None:
    """Stop the timer; a job still running is terminated (its bundle is written atomically or not at all)."""
    if handle is None:
        return
    handle.stopping.set()
    process = handle.process
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
    if handle.thread is not None:
        handle.thread.join(timeout)

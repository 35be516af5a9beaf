"""A process killed (SIGKILL) in the middle of writing a batch leaves nothing of it behind, and
sending the batch again stores all of it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from typing import Any

from tests.conftest import ROOT
from tests.serving.store.conftest import CHATTER, HEATING, POTHOLE, Db, post

BATCH = [post(f"-8_{n}", f"{text} дом {n}") for n, text in enumerate([POTHOLE, CHATTER, HEATING] * 20)]

# Ingests BATCH with the fake model and stalls right after the incidents are inserted: the posts and
# predictions are written, the transaction is not committed.
WRITER = textwrap.dedent(
    """
    import sys, time
    from sqlalchemy import event
    from model.region import load_regions
    from serving.database import make_engine, make_sessions
    from serving.store import ManualClock, ingest_posts
    from tests.conftest import ANNOTATIONS
    from tests.serving.store.conftest import T0, FakeModel
    from tests.serving.store.test_crash import BATCH

    engine = make_engine(sys.argv[1])

    @event.listens_for(engine, "after_cursor_execute")
    def stall(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("INSERT INTO INCIDENTS"):
            print("half-written", flush=True)
            time.sleep(120)

    model = FakeModel()
    with make_sessions(engine)() as session:
        ingest_posts(session, BATCH, model.predict, model.rules, ManualClock(T0), load_regions(ANNOTATIONS / "regions"))
    print("committed", flush=True)
    """
)


def test_a_batch_killed_half_written_leaves_nothing_and_a_replay_stores_it_all(db: Db, ingest: Any) -> None:
    writer = subprocess.Popen([sys.executable, "-c", WRITER, db.url], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        assert writer.stdout is not None
        line = writer.stdout.readline()
        assert line.strip() == "half-written", writer.stderr.read() if writer.stderr else ""
        os.kill(writer.pid, signal.SIGKILL)
    finally:
        writer.kill()
        writer.wait(30)
    assert writer.returncode == -signal.SIGKILL

    db.reopen()
    assert [db.count(t) for t in ("posts", "predictions", "incidents", "reposts")] == [0, 0, 0, 0]

    result = ingest(BATCH)
    assert len(result.created) == 60 and result.duplicates == ()
    assert (db.count("posts"), db.count("incidents")) == (60, 40)

"""`otklik` commands: the monitoring loop (issue 8).

What the commands share comes from `serving.cli_common`; `serving.cli` registers them."""

from __future__ import annotations

import gc
import json
import signal
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from serving.cli_common import BundleOpt, fail, open_predictor, settings


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    app.command()(monitor)


def monitor(
    once: Annotated[bool, typer.Option("--once", help="one round over the sources and the post-backs, then exit")]
    = False,
    interval: Annotated[float | None, typer.Option(min=0.1, help="seconds between rounds "
                                                   "(default: OTKLIK_MONITOR_INTERVAL)")] = None,
    sources_file: Annotated[Path | None, typer.Option("--sources", help="default: OTKLIK_SOURCES_FILE")] = None,
    bundle: BundleOpt = None,
) -> None:
    """Poll the configured sources, register matching posts, post agencies' answers back.

    Only one monitor works at a time (a lease in the database); another one waits for it. With --once the
    exit code is 1 when a source failed or was stopped (its error is in the summary), 3 when another
    monitor holds the lease (nothing was done)."""
    from sqlalchemy.exc import SQLAlchemyError

    from serving.connectors import Backoff, SourcesError, load_sources
    from serving.database import make_engine, make_sessions
    from serving.monitor import Monitor, MonitorOptions
    from serving.observability import configure_logging
    from serving.store import SystemClock, upgrade

    s = settings()
    path = sources_file or s.sources_file
    if path is None:
        fail("no sources: set OTKLIK_SOURCES_FILE (see serving/connectors/sources.example.toml) or give --sources")
    assert path is not None
    try:
        sources = load_sources(path, max_text_chars=s.max_text_chars)
    except SourcesError as exc:
        fail(str(exc))
    predictor = open_predictor(bundle)
    # The bundle lives as long as the loop (days): keep the collector from scanning its objects again
    # and again, as the server does after each load. One-shot commands need not pay for the collection.
    gc.collect()
    gc.freeze()
    unknown = [f"{x.id} ({x.region})" for x in sources if x.region is not None and x.region not in predictor.regions]
    if unknown:
        fail(f"unknown region in source(s) {', '.join(unknown)}; known: {', '.join(predictor.regions)}")
    configure_logging()
    engine = make_engine(s.database_url)
    try:
        upgrade(engine)
    except SQLAlchemyError as exc:
        fail(f"cannot open the store: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    every = interval or s.monitor_interval
    # The lease must outlive any one reply, retried to the end (30 s per attempt, the connectors' HTTP
    # timeout, and the waits between them): a monitor taking it over meanwhile would post that answer too.
    longest_call = s.monitor_retries * (30.0 + s.monitor_backoff_max)
    options = MonitorOptions(
        max_pages=s.monitor_max_pages,
        backoff=Backoff(attempts=s.monitor_retries, initial=s.monitor_backoff, maximum=s.monitor_backoff_max),
        postback=s.postback, postback_attempts=s.postback_attempts, postback_delay=s.postback_delay,
        lease=s.monitor_lease or max(3 * every, longest_call),
    )
    loop = Monitor(sources, make_sessions(engine), predictor, SystemClock(), options)
    try:
        if once:
            try:
                done = loop.round()
            except SQLAlchemyError as exc:
                fail(f"the store failed: {type(exc).__name__}: {str(exc).splitlines()[0]}")
            finally:
                loop.release()
            if done.holder is not None:
                fail(f"another monitor ({done.holder.holder}) holds the lease until "
                     f"{done.holder.expires_at.isoformat(timespec='seconds')}; this run did nothing. Only one monitor "
                     "works at a time: stop the other one, or run again once its lease has expired", code=3)
            typer.echo(json.dumps(done.to_json(), ensure_ascii=False))
            if not done.ok:
                raise typer.Exit(1)
            return
        stop = threading.Event()

        def halt(signum: int, _: Any) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, halt)
        signal.signal(signal.SIGINT, halt)
        loop.run(every, stop)
    finally:
        engine.dispose()

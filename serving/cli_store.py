"""`otklik ingest FILE.jsonl`, `otklik feedback export` and `otklik purge`.

`ingest` reads posts in the shape of `POST /v1/posts` (one per line) and stores them through the
same edge as the API (`serving.ingest`), in batches: a bad line is reported on stderr with its
number and skipped, the good ones are stored, and the exit code is 1 when any line was bad — so a
rerun after fixing the file stores only what is missing (ingest is idempotent).

What the commands share comes from `serving.cli_common`; `serving.cli` registers them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer

from serving.cli_common import BundleOpt, fail, open_predictor, read_posts, settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from model.predictor import Predictor
    from serving.ingest import IncomingPost

BATCH = 500
feedback_app = typer.Typer(no_args_is_help=True, help="Feedback labels from triage decisions.")


@contextmanager
def sessions() -> Iterator[sessionmaker[Session]]:
    """Sessions on the configured database, migrated to the newest schema first."""
    from sqlalchemy.exc import SQLAlchemyError

    from serving.database import make_engine, make_sessions
    from serving.store import upgrade

    engine = make_engine(settings().database_url)
    try:
        upgrade(engine)
        yield make_sessions(engine)
    except SQLAlchemyError as exc:
        fail(f"database: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    finally:
        engine.dispose()


@contextmanager
def opened(path: str) -> Iterator[TextIO]:
    """The file, or stdin for `-`."""
    if path == "-":
        yield sys.stdin
        return

    try:
        with Path(path).open(encoding="utf-8") as fh:
            yield fh
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"{path}: {exc}")


def parse_line(obj: Any, predictor: Predictor, max_chars: int, now: datetime) -> IncomingPost | str:
    """The post of one input line, or what is wrong with it (the same checks as `POST /v1/posts`)."""
    from pydantic import ValidationError

    from serving.incident_schemas import IncomingPostIn
    from serving.ingest import IncomingPost, resolve_regions
    from serving.validation import jsonable, post_problems

    try:
        p = IncomingPostIn.model_validate(obj)
    except ValidationError as exc:
        return jsonable("; ".join(f"{'.'.join(map(str, e['loc'])) or 'post'}: {e['msg']}" for e in exc.errors()))
    problems = post_problems(p, max_chars, now)
    if problems:
        return "; ".join(f"{name}: {wrong}" for name, wrong in problems)
    post = IncomingPost(network=p.network, external_id=p.external_id, text=p.text, published_at=p.published_at,
                        url=p.url, author=p.author, region=p.region)
    try:
        resolve_regions(predictor, [post])
    except ValueError as exc:
        return f"region: {str(exc).removeprefix('post 0 ')}"
    return post


def ingest(
    file: Annotated[str, typer.Argument(help="JSONL posts as in POST /v1/posts, one a line; `-` reads stdin")],
    bundle: BundleOpt = None,
    batch: Annotated[int, typer.Option(min=1, max=1000, help="posts per transaction")] = BATCH,
) -> None:
    """Store, classify and register posts; print {created, duplicates, incidents, rejected} as JSON.

    Bad lines are reported on stderr and skipped; the exit code is then 1 (the good lines are stored)."""
    from serving.ingest import ingest as ingest_batch
    from serving.store import SystemClock

    predictor = open_predictor(bundle)
    max_chars = settings().max_text_chars
    clock = SystemClock()
    totals = {"created": 0, "duplicates": 0, "incidents": 0, "rejected": 0}
    pending: list[IncomingPost] = []

    with sessions() as store, opened(file) as lines:

        def flush() -> None:
            if not pending:
                return
            try:
                result = ingest_batch(store, predictor, clock, pending)
            except ValueError as exc:  # checked per line above: a bug, not bad input; stop, keep what is stored
                fail(f"batch refused, earlier batches are stored: {exc}")
            totals["created"] += len(result.created)
            totals["duplicates"] += len(result.duplicates)
            totals["incidents"] += len(result.incidents)
            pending.clear()

        for n, obj in read_posts(iter(lines)):
            post = obj if isinstance(obj, str) else parse_line(obj, predictor, max_chars, clock.now())
            if isinstance(post, str):
                typer.echo(f"otklik: {post if post.startswith('line ') else f'line {n}: {post}'}; skipped", err=True)
                totals["rejected"] += 1
                continue
            pending.append(post)
            if len(pending) >= batch:
                flush()
        flush()
    typer.echo(json.dumps(totals))
    if totals["rejected"]:
        raise typer.Exit(1)


@feedback_app.command("export")
def export(
    since: Annotated[
        str | None, typer.Option("--since", help="only labels decided at or after this ISO time (with offset)")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="write here (default: stdout)", dir_okay=False)] = None,
) -> None:
    """Feedback labels as corpus JSONL (the rows `otklik train` reads), oldest first, personal data masked."""
    from model.pii import Masker
    from serving.privacy import masked_feedback
    from serving.store.clock import aware

    moment: datetime | None = None
    if since is not None:
        try:
            moment = aware(datetime.fromisoformat(since))
        except ValueError as exc:
            fail(f"--since: {exc}" if "time zone" in str(exc) else f"--since: not an ISO time: {since!r}")
    with sessions() as store, store() as session:
        rows = masked_feedback(session, Masker(), moment)
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    if out is None:
        sys.stdout.write(text)
    else:
        tmp = out.with_name(out.name + ".tmp")
        try:
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(out)  # a reader never sees half a file
        except OSError as exc:
            fail(f"{out}: {exc}")
    typer.echo(f"otklik: {len(rows)} feedback labels exported", err=True)


def purge(
    older_than: Annotated[str, typer.Option("--older-than", help="age of the posts to purge: 180d, 36h")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="count what would be purged, change nothing")] = False,
) -> None:
    """Replace the raw text of old posts that no open incident needs with their masked text (152-ФЗ)."""
    from model.pii import Masker
    from serving.privacy import parse_age
    from serving.privacy import purge as run_purge
    from serving.store import SystemClock

    try:
        age = parse_age(older_than)
    except ValueError as exc:
        fail(f"--older-than: {exc}")
    with sessions() as store:
        done = run_purge(store, Masker(), SystemClock(), age, dry_run)
    typer.echo(json.dumps({"posts": done.posts, "responses": done.responses, "before": done.before.isoformat(),
                           "dry_run": dry_run}))


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    app.command()(ingest)
    app.command()(purge)
    app.add_typer(feedback_app, name="feedback")

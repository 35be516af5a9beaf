"""`otklik` commands: retraining, rollback, the bundle list, sampling for labelling, drift (issue 9).

The logic lives in `training/` (retrain, gate, promotion, sampling, drift); these commands read the
store and the settings and wire them together. What the commands share comes from `serving.cli_common`;
`serving.cli` registers them.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from serving.cli_common import BundleOpt, fail, open_predictor, post_problem, read_posts, settings
from serving.settings import Settings

model_app = typer.Typer(no_args_is_help=True, help="Model bundles: list them, roll back to an earlier one.")

ConfigOpt = Annotated[Path, typer.Option(help="training configuration (TOML)")]
DEFAULT_CONFIG = Path("training/configs/default.toml")


class Format(StrEnum):
    text = "text"
    json = "json"


def _config(path: Path) -> Any:
    from training.config import load_config

    try:
        return load_config(path)
    except ValueError as exc:
        fail(str(exc))


def _registry(s: Settings, cfg: Any, quiet: bool = False) -> Any:
    """The MLflow registry, or None (with a warning) when it cannot be opened."""
    from training.registry import Registry

    try:
        return Registry(s.mlflow_uri, cfg.registered_model)
    except Exception as exc:  # MLflow raises many kinds; the command goes on without the registry
        if not quiet:
            typer.echo(f"otklik: warning: MLflow registry at {s.mlflow_uri} not available ({exc})", err=True)
        return None


def _reload(s: Settings) -> Any:
    from training.promotion import http_reload

    return http_reload(s.reload_url, s.admin_token)


def _warn(warnings: Any) -> None:
    for w in warnings:
        typer.echo(f"otklik: warning: {w}", err=True)


def store_feedback(cfg: Any, database_url: str) -> list[Any]:
    """The store's feedback labels as training rows, deduplicated and kept off the test split (an
    absent or empty database has none)."""
    from serving.traffic import read_feedback
    from training.retrain import feedback_since, split_feedback
    from training.train import load_training_data

    train_rows, test_rows = load_training_data(cfg)
    rows = read_feedback(database_url, feedback_since(cfg))
    return list(split_feedback(rows, train_rows, test_rows, 0.0, cfg.default_region).train)


def retrain(
    min_feedback: Annotated[int | None, typer.Option(
        "--min-feedback", min=0, help="train only with at least N labels newer than the champion (default: config)"
    )] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="say what would be trained, train nothing")] = False,
    config: ConfigOpt = DEFAULT_CONFIG,
    track: Annotated[bool, typer.Option(help="log to MLflow and use its registry")] = True,
) -> None:
    """Train a challenger on corpus + feedback; promote it only if the gate allows."""
    from serving.scheduler import JobRunning, job_lock
    from serving.traffic import read_feedback
    from training.corpus import CorpusError
    from training.retrain import feedback_since, skip_reason
    from training.retrain import retrain as run_retrain

    s = settings()
    cfg = _config(config)
    assert s.models_dir is not None
    try:
        since = feedback_since(cfg)
        with job_lock(s.var_dir):
            rows = read_feedback(s.database_url, since)
            skip = skip_reason(s.models_dir, rows, cfg.min_feedback if min_feedback is None else min_feedback)
            if skip is not None:  # said before MLflow (slow to start) is opened
                typer.echo(f"skipped: {skip}")
                return
            tracker = registry = None
            if track and not dry_run:
                from training.tracking import Tracker

                tracker = Tracker(s.mlflow_uri, cfg.experiment, artifact_root=s.var_dir / "mlartifacts")
                registry = _registry(s, cfg)
            result = run_retrain(cfg, s.models_dir, rows, s.var_dir / "reports", min_feedback=min_feedback,
                                 dry_run=dry_run, tracker=tracker, registry=registry, reload=_reload(s),
                                 progress=lambda m: typer.echo(f"· {m}", err=True))
    except JobRunning as exc:
        fail(str(exc), code=3)
    except (CorpusError, ValueError, ImportError) as exc:
        fail(str(exc))
    typer.echo(f"{result.status}: {result.reason}")
    if result.challenger is not None:
        typer.echo(f"challenger {result.challenger.name} -> {result.challenger}")
    for path in result.report_files:
        typer.echo(f"report {path}")
    _warn(result.warnings)


@model_app.command("list")
def model_list(config: ConfigOpt = DEFAULT_CONFIG, format: Annotated[Format, typer.Option("--format")] = Format.text
               ) -> None:
    """Every bundle: id, when, test metrics, the gate's verdict; `*` marks the one in service."""
    from training.gate import HEADS, head_score
    from training.promotion import bundles, current_id

    s = settings()
    assert s.models_dir is not None
    registry = _registry(s, _config(config), quiet=True)
    champion = registry.champion() if registry else None
    now = current_id(s.models_dir)
    rows = []
    for meta in bundles(s.models_dir):
        bundle_id = str(meta["id"])
        verdict_file = s.var_dir / "reports" / bundle_id / "comparison.json"
        verdict = json.loads(verdict_file.read_text(encoding="utf-8"))["verdict"] if verdict_file.exists() else None
        test = meta.get("metrics", {}).get("test", {})
        rows.append({
            "id": bundle_id, "created_at": meta.get("created_at"), "current": bundle_id == now,
            "champion": bundle_id == champion, "version": registry.version_of(bundle_id) if registry else None,
            "feedback_rows": meta.get("data", {}).get("feedback_rows", 0),
            "test": {head: head_score(test, head) for head in HEADS},
            "gate": verdict and ("promoted" if verdict["promote"] else "refused"),
            "reason": verdict and verdict["reason"],
        })
    if format is Format.json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        typer.echo(f"no bundles in {s.models_dir}; train one with `otklik train`")
    for r in rows:
        scores = " ".join(f"{h}={'—' if v is None else f'{v:.3f}'}" for h, v in r["test"].items())
        marks = ("*" if r["current"] else " ") + (" champion" if r["champion"] else "")
        version = f" v{r['version']}" if r["version"] else ""
        typer.echo(f"{marks[0]} {r['id']}{version}  {r['created_at']}  feedback={r['feedback_rows']}  {scores}"
                   f"{'  ' + r['gate'] if r['gate'] else ''}{marks[1:]}")


@model_app.command("rollback")
def rollback(
    version: Annotated[str | None, typer.Argument(
        help="bundle id or registry version (default: the bundle that served before the current one)"
    )] = None,
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Serve an earlier bundle in one step: switch `current`, move the `champion` alias, reload serving."""
    from model.bundle import BundleError
    from training.promotion import current_id, rollback_target, switch

    s = settings()
    assert s.models_dir is not None
    registry = _registry(s, _config(config))
    try:
        target = rollback_target(s.models_dir, version, registry)
        before = current_id(s.models_dir)
        done = switch(s.models_dir, target, "rollback", f"rollback from {before}", registry, _reload(s))
    except BundleError as exc:
        fail(str(exc))
    typer.echo(f"rolled back: {done.previous} -> {done.bundle}")
    _warn(done.warnings)


def sample(
    n: Annotated[int, typer.Option("--n", min=1, max=100_000, help="how many posts to choose")] = 200,
    out: Annotated[Path | None, typer.Option("--out", help="write the JSONL here (default: stdout)")] = None,
    source: Annotated[Path | None, typer.Option(
        "--from", exists=True, dir_okay=False, help="JSONL posts (id, text, optional network) instead of the store"
    )] = None,
    pool: Annotated[int, typer.Option(min=1, max=100, help="cluster the N x POOL most uncertain posts")] = 5,
    bundle: BundleOpt = None,
) -> None:
    """Posts to label next, by uncertainty and diversity, as corpus rows with empty labels and suggestions;
    personal data masked."""
    from model.pii import Masker
    from model.predictor import UnknownRegion
    from serving.privacy import masked_rows
    from training.sampling import sample as choose

    s = settings()
    posts = _posts_from(source, s.max_text_chars) if source else _posts_from_store(s, n * pool * 4)
    if not posts:
        fail("no posts to sample from" + (f" in {source}" if source else " in the store (nothing scored yet)"))
    predictor = open_predictor(bundle)
    try:
        chosen = choose(predictor, posts, n, pool)
    except UnknownRegion as exc:
        fail(str(exc))
    rows = masked_rows([c.to_json() for c in chosen], Masker(predictor.lemmatizer))  # chosen on the raw text
    lines = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    if out is None:
        sys.stdout.write(lines)
    else:
        out.write_text(lines, encoding="utf-8")
        typer.echo(f"{len(chosen)} posts from {len(posts)} -> {out}", err=True)


def _posts_from(path: Path, max_chars: int) -> list[Any]:
    from model.records import NETWORKS, Post

    posts = []
    with path.open(encoding="utf-8") as fh:
        for n, obj in read_posts(fh):
            problem = obj if isinstance(obj, str) else post_problem(obj, max_chars, NETWORKS)
            if problem:
                fail(f"{path}: line {n}: {problem}")
            posts.append(Post(id=str(obj["id"]), text=obj["text"], network=obj.get("network")))
    return posts


def _posts_from_store(s: Settings, limit: int) -> list[Any]:
    from serving.traffic import NoStore, store_session, unlabelled_posts

    try:
        with store_session(s.database_url) as session:
            return unlabelled_posts(session, limit)
    except NoStore:
        return []


def drift(
    weeks: Annotated[int, typer.Option(min=2, max=104, help="how many weeks back")] = 8,
    format: Annotated[Format, typer.Option("--format")] = Format.text,
    at: Annotated[datetime | None, typer.Option(
        "--at", formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d"], help="report as of this moment (default: now, UTC)"
    )] = None,
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Recent topic and agency distributions vs the training data; correction rates per head per week."""
    from serving.traffic import NoStore, decision_log, recent_predictions, store_session
    from training.drift import drift_report, text
    from training.train import load_training_data

    s = settings()
    cfg = _config(config)
    now = datetime.now(UTC) if at is None else at if at.tzinfo else at.replace(tzinfo=UTC)
    since = now - timedelta(weeks=weeks)
    try:
        with store_session(s.database_url) as session:
            predictions = recent_predictions(session, since, now)
            decisions = decision_log(session, since, now)
    except NoStore as exc:
        fail(f"nothing to report: {exc}")
    train_rows, _ = load_training_data(cfg)
    complaints = [p for p in predictions if p["relevant"]["label"]]
    recent = {head: [p[head]["label"] for p in complaints] for head in ("topic", "agency")}
    reference = {head: [getattr(ex, head) for ex in train_rows if ex.relevant] for head in ("topic", "agency")}
    report = drift_report(recent, reference, decisions, weeks, now)
    typer.echo(json.dumps(report, ensure_ascii=False, indent=2) if format is Format.json else text(report))


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    app.command()(retrain)
    app.command()(sample)
    app.command()(drift)
    app.add_typer(model_app, name="model")

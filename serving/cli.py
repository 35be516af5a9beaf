"""The `otklik` command line."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from serving.cli_common import BundleOpt, fail, open_predictor, post_problem, read_posts, settings

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Otklik: complaints in social networks, routed and answered."
)


@app.command()
def train(
    config: Annotated[Path, typer.Option(help="training configuration (TOML)")] = Path("training/configs/default.toml"),
    track: Annotated[bool, typer.Option(help="log the run to MLflow and register the model")] = True,
) -> None:
    """Train all heads from annotations/ (+ accepted feedback), evaluate, track, write a bundle."""
    from training.config import load_config
    from training.corpus import CorpusError
    from training.train import train as run_training

    s = settings()
    try:
        cfg = load_config(config)
    except ValueError as exc:
        fail(str(exc))
    assert s.models_dir is not None
    tracker = None
    if track:
        from training.tracking import Tracker

        s.var_dir.mkdir(parents=True, exist_ok=True)
        try:
            tracker = Tracker(s.mlflow_uri, cfg.experiment, artifact_root=s.var_dir / "mlartifacts")
        except ImportError as exc:
            fail(str(exc))
    try:
        from serving.cli_ml import store_feedback

        feedback = store_feedback(cfg, s.database_url)
        typer.echo(f"· {len(feedback)} feedback label(s) from the store", err=True)
        result = run_training(cfg, s.models_dir, feedback=feedback, tracker=tracker,
                              progress=lambda m: typer.echo(f"· {m}", err=True))
    except (CorpusError, ValueError) as exc:
        fail(str(exc))
    test = result.meta["metrics"]["test"]
    typer.echo(f"bundle {result.meta['id']} -> {result.bundle}")
    typer.echo(
        "test split: relevance F1 {rf:.3f} (precision {rp:.3f}, recall {rr:.3f}) · topic macro-F1 {tf:.3f} · "
        "agency accuracy {aa:.3f} · municipality accuracy {ma:.3f}".format(
            rf=test["relevance"]["f1"], rp=test["relevance"]["precision"], rr=test["relevance"]["recall"],
            tf=test["topic"]["macro_f1"], aa=test["agency"]["accuracy"], ma=test["municipality"]["accuracy"],
        )
    )
    typer.echo(f"thresholds: {json.dumps(result.meta['thresholds'])}")
    if result.meta.get("mlflow_run_id"):
        typer.echo(f"mlflow run {result.meta['mlflow_run_id']} at {s.mlflow_uri}")


class EvalFormat(StrEnum):
    jsonl = "jsonl"
    promobot = "promobot"


class EvalSuite(StrEnum):
    real = "real"


@app.command()
def evaluate(
    data: Annotated[Path | None, typer.Option("--data", help="labelled posts", exists=True, dir_okay=False)] = None,
    format: Annotated[EvalFormat, typer.Option("--format")] = EvalFormat.jsonl,
    bundle: BundleOpt = None,
    suite: Annotated[EvalSuite | None, typer.Option(
        "--suite", help="real: train with each real source held out in turn and score it (slow: one training "
        "per source); the all-sources model on the synthetic split and the eval-only sets")] = None,
    holdout: Annotated[list[str] | None, typer.Option(
        "--holdout", help="with --suite real: only these source groups (repeatable)")] = None,
    config: Annotated[Path, typer.Option(help="training configuration (TOML), with --suite")] = Path(
        "training/configs/default.toml"),
    track: Annotated[bool, typer.Option(help="with --suite: log the report to MLflow")] = True,
) -> None:
    """Print one JSON object of metrics: of the bundle on FILE, or of the cross-source suite."""
    from training.corpus import CorpusError, read_eval_jsonl
    from training.promobot import read_promobot

    if suite is not None:
        if data is not None:
            fail("--suite and --data exclude each other")
        _evaluate_suite(config, holdout, track)
        return
    if data is None:
        fail("say what to evaluate: --data FILE or --suite real")
    try:
        if format is EvalFormat.promobot:
            rows, has_municipality = read_promobot(data), False
        else:
            rows, has_municipality = read_eval_jsonl(data)
    except CorpusError as exc:
        fail(str(exc))
    if not rows:
        fail(f"{data} has no posts")
    from training.evaluate import evaluate as run_evaluate

    predictor = open_predictor(bundle)
    typer.echo(json.dumps(run_evaluate(predictor, rows, has_municipality), ensure_ascii=False))


def _evaluate_suite(config: Path, holdout: list[str] | None, track: bool) -> None:
    from training.config import load_config
    from training.corpus import CorpusError
    from training.crossval import HOLDOUTS, cross_source
    from training.reference import ReferenceError

    unknown = sorted(set(holdout or ()) - set(HOLDOUTS))
    if unknown:
        fail(f"unknown source group(s) {', '.join(unknown)}; known: {', '.join(HOLDOUTS)}")
    try:
        cfg = load_config(config)
        report = cross_source(cfg, holdout or HOLDOUTS, progress=lambda m: typer.echo(f"· {m}", err=True))
    except (CorpusError, ReferenceError, ValueError) as exc:
        fail(str(exc))
    s = settings()
    saved = s.var_dir / "reports" / "cross_source.json"  # read by notebooks/error_analysis.py
    saved.parent.mkdir(parents=True, exist_ok=True)
    saved.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    typer.echo(f"· report written to {saved}", err=True)
    if track:
        from training.tracking import Tracker

        tracker = Tracker(s.mlflow_uri, cfg.experiment, artifact_root=s.var_dir / "mlartifacts")
        run_id = tracker.log_report("cross-source", cfg.params(), report)
        typer.echo(f"· mlflow run {run_id} at {s.mlflow_uri}", err=True)
    typer.echo(json.dumps(report, ensure_ascii=False))


@app.command()
def predict(bundle: BundleOpt = None, batch: Annotated[int, typer.Option(min=1, max=10_000)] = 256) -> None:
    """JSONL posts (id, text, optional network, region) on stdin -> JSONL predictions on stdout."""
    from model.predictor import UnknownRegion
    from model.records import NETWORKS, Post
    from serving.validation import jsonable

    predictor = open_predictor(bundle)
    max_chars = settings().max_text_chars
    pending: list[tuple[int, Post | dict[str, Any]]] = []

    def flush() -> None:
        posts = [p for _, p in pending if isinstance(p, Post)]
        results = iter(predictor.predict(posts) if posts else [])
        for _, item in pending:
            out = next(results).to_json() if isinstance(item, Post) else jsonable(item)  # an echoed id may not be UTF-8
            sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
        sys.stdout.flush()
        pending.clear()

    for n, obj in read_posts(iter(sys.stdin)):
        item: Post | dict[str, Any]
        if isinstance(obj, str):
            item = {"line": n, "error": obj}
        else:
            problem = post_problem(obj, max_chars, NETWORKS)
            ident = obj.get("id", n) if isinstance(obj, dict) else n
            if problem is None:
                post = Post(id=str(obj["id"]), text=obj["text"], network=obj.get("network"), region=obj.get("region"))
                try:
                    predictor.region_of(post)
                    item = post
                except UnknownRegion as exc:
                    item = {"id": ident, "line": n, "error": str(exc)}
            else:
                item = {"id": ident, "line": n, "error": problem}
        pending.append((n, item))
        if len(pending) >= batch:
            flush()
    flush()


@app.command()
def match(
    query: Annotated[str | None, typer.Option("--query", help="one query in the monitoring language")] = None,
    rules: Annotated[Path | None, typer.Option("--rules", help="a rules YAML file or folder", exists=True)] = None,
) -> None:
    """JSONL posts (id, text) on stdin -> one JSON line per matching post: id, rules, spans."""
    from model.lemma import Lemmatizer
    from model.matcher import Matcher, Rule, match_records
    from model.query import QuerySyntaxError, parse
    from model.rules import load_rules

    if (query is None) == (rules is None):
        fail("give exactly one of --query or --rules")
    try:
        if query is not None:
            parse(query)
            rule_list = [Rule(id="query", query=query)]
        else:
            assert rules is not None
            rule_list = load_rules(rules)
    except (QuerySyntaxError, ValueError) as exc:
        fail(str(exc))
    lemmatizer = Lemmatizer()
    matcher = Matcher(rule_list, lemmatizer)
    records = []
    for n, obj in read_posts(iter(sys.stdin)):
        if isinstance(obj, str) or not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            typer.echo(f"otklik: line {n}: expected a JSON object with 'id' and 'text'; skipped", err=True)
            continue
        records.append(obj)
    for out in match_records(records, matcher, lemmatizer):
        sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")


@app.command("corpus-stats")
def corpus_stats(
    write: Annotated[Path | None, typer.Option(help="replace the counts section of this README")] = None,
) -> None:
    """Per-class counts of annotations/corpus as Markdown."""
    from model.region import load_regions
    from training.config import load_config
    from training.corpus import CorpusError, read_corpus
    from training.report import markdown_counts, replace_counts

    cfg = load_config()
    try:
        examples = read_corpus(cfg.corpus)
    except CorpusError as exc:
        fail(str(exc))
    region = load_regions(cfg.regions)[cfg.default_region]
    table = markdown_counts(examples, {m.oktmo: m.name for m in region.municipalities})
    if write is None:
        typer.echo(table)
        return
    try:
        write.write_text(replace_counts(write, table), encoding="utf-8")
    except (OSError, ValueError) as exc:
        fail(str(exc))
    typer.echo(f"counts written to {write}")


db_app = typer.Typer(no_args_is_help=True, help="The incident store's database (OTKLIK_DATABASE_URL).")
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create the database or migrate it to the newest schema (safe to run at every start)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from serving.database import make_engine
    from serving.store.schema import current, upgrade

    url = settings().database_url
    shown = make_url(url).render_as_string(hide_password=True)
    engine = make_engine(url)
    try:
        upgrade(engine)
        typer.echo(f"{shown}: schema at revision {current(engine)}")
    except SQLAlchemyError as exc:
        fail(f"{shown}: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    finally:
        engine.dispose()


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="default: OTKLIK_HOST or 127.0.0.1")] = None,
    port: Annotated[int | None, typer.Option(help="default: OTKLIK_PORT or 8000")] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="uvicorn worker processes")] = 1,
) -> None:
    """Serve the API and the web pages (embedded SQLite by default)."""
    import uvicorn

    s = settings()
    if not s.bundle_dir.exists():
        typer.echo(f"otklik: warning: no model bundle at {s.bundle_dir}; /v1/predict answers 503 until "
                   "`otklik train` writes one and /v1/model/reload is called", err=True)
    uvicorn.run(
        "serving.app:create_app", factory=True, host=host or s.host, port=port or s.port, workers=workers,
        log_config=None, access_log=False, timeout_graceful_shutdown=s.shutdown_seconds,
    )


def _register_commands() -> None:
    from serving import cli_access, cli_ml, cli_monitor, cli_store

    for module in (cli_store, cli_access, cli_monitor, cli_ml):
        module.register(app)


_register_commands()

if __name__ == "__main__":
    app()

"""`otklik retrain | model list | model rollback | sample | drift` and `otklik train`'s feedback, wired to a
real store and real bundles; nothing here trains a model (tests/training/test_retrain.py does, twice)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from model.bundle import PIPELINE, Bundle, set_current
from model.lemma import Lemmatizer
from model.predictor import Predictor
from model.region import Region
from serving.cli import app
from serving.database import make_engine, make_sessions
from serving.scheduler import job_lock
from serving.store import Labels, ManualClock, NetworkPost, decide, get_incident, ingest_posts, upgrade
from serving.store.monitoring import predict_fn, rules_fn
from tests.conftest import ROOT
from tests.serving.server import free_port
from tests.training.bundles import copy_bundle
from tests.training.simulation import Month, honest, month_posts, simulate_month
from training.corpus import read_corpus, splits
from training.promotion import history
from training.train import TrainResult


@pytest.fixture(autouse=True)
def in_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the default training config names paths from the project root


class Env:
    """Settings for one test: its own var dir, models dir, store and MLflow store; no server."""

    def __init__(self, tmp: Path) -> None:
        self.var = tmp / "var"
        self.models = self.var / "models"
        self.db = f"sqlite:///{self.var / 'otklik.db'}"
        self.vars = {"OTKLIK_VAR_DIR": str(self.var), "OTKLIK_MODELS_DIR": str(self.models),
                     "OTKLIK_DATABASE_URL": self.db, "OTKLIK_MLFLOW_URI": f"sqlite:///{tmp / 'mlflow.db'}",
                     "OTKLIK_RELOAD_URL": f"http://127.0.0.1:{free_port()}", "OTKLIK_ENV": "test"}

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(app, list(args), env=self.vars)

    def bundles(self) -> set[str]:
        return {p.name for p in self.models.iterdir() if p.is_dir() and not p.is_symlink()}


@pytest.fixture
def env(tmp_path: Path, bundle: Bundle) -> Env:
    e = Env(tmp_path)
    e.models.mkdir(parents=True)
    shutil.copytree(bundle.path, e.models / bundle.id)
    set_current(e.models, e.models / bundle.id)
    return e


@pytest.fixture(scope="module")
def month_db(corpus_only_bundle: Bundle, lemmatizer: Lemmatizer, regions: dict[str, Region],
             tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Month]:
    """A month triaged with the corpus-only model (tests/training/simulation.py is built around its
    weaknesses): it leaves some posts unregistered, hence unlabelled."""
    path = tmp_path_factory.mktemp("month") / "otklik.db"
    month_predictor = Predictor(corpus_only_bundle, lemmatizer)
    return path, simulate_month(f"sqlite:///{path}", month_predictor, regions, honest, month_posts())


@pytest.fixture
def env_with_month(env: Env, month_db: tuple[Path, Month]) -> Env:
    shutil.copyfile(month_db[0], env.var / "otklik.db")
    return env


# --- retrain ----------------------------------------------------------------------------------------


def test_too_little_new_feedback_trains_nothing(env_with_month: Env, month_db: tuple[Path, Month],
                                                bundle: Bundle) -> None:
    result = env_with_month.run("retrain", "--min-feedback", "100000")
    assert result.exit_code == 0, result.output
    labels = len(month_db[1].feedback)
    assert result.stdout.startswith(f"skipped: {labels} new feedback label(s) since champion {bundle.id}; "
                                    "at least 100000 needed")
    assert env_with_month.bundles() == {bundle.id}


def test_a_dry_run_says_what_it_would_train_on(env_with_month: Env, month_db: tuple[Path, Month]) -> None:
    result = env_with_month.run("retrain", "--dry-run", "--min-feedback", "10")
    assert result.exit_code == 0, result.output
    labels = len(month_db[1].feedback)
    assert f"dry-run: {labels} new feedback label(s)" in result.stdout
    corpus_train = len(splits(read_corpus(ROOT / "annotations" / "corpus"))["train"])
    assert f"training on {corpus_train} corpus + " in result.stdout and "most recent held out" in result.stdout
    assert len(env_with_month.bundles()) == 1 and not (env_with_month.var / "reports").exists()


def test_no_store_means_no_feedback(env: Env) -> None:
    result = env.run("retrain", "--no-track")
    assert result.exit_code == 0, result.output
    assert "skipped: 0 new feedback label(s)" in result.stdout
    assert not (env.var / "otklik.db").exists()  # reading feedback creates no database


def test_a_second_retraining_is_refused_while_one_runs(env: Env) -> None:
    with job_lock(env.var):
        result = env.run("retrain", "--no-track")
    assert result.exit_code == 3
    assert "another retraining is running" in result.stderr


def test_a_bad_corpus_version_in_the_config_is_named(env: Env, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    text = (ROOT / "training/configs/default.toml").read_text(encoding="utf-8")
    config.write_text(text.replace('feedback_since = ""', 'feedback_since = "yesterday"'), encoding="utf-8")
    result = env.run("retrain", "--config", str(config), "--no-track")
    assert result.exit_code == 2
    assert "feedback_since 'yesterday' is not an ISO 8601 moment" in result.stderr


# --- train takes the store's feedback ------------------------------------------------------------


@pytest.fixture
def train_calls(monkeypatch: pytest.MonkeyPatch, trained: TrainResult) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def fake_train(cfg: Any, models_dir: Path, **kwargs: Any) -> TrainResult:
        calls.append(kwargs)
        return trained

    monkeypatch.setattr("training.train.train", fake_train)
    return calls


def test_train_is_given_the_stores_feedback_deduplicated(env_with_month: Env, month_db: tuple[Path, Month],
                                                          train_calls: list[dict[str, Any]]) -> None:
    result = env_with_month.run("train", "--no-track")
    assert result.exit_code == 0, result.output
    feedback = train_calls[0]["feedback"]
    assert 0 < len(feedback) <= len(month_db[1].feedback)
    assert {ex.id for ex in feedback} <= {row["id"] for row in month_db[1].feedback}
    assert f"{len(feedback)} feedback label(s) from the store" in result.stderr


def test_train_without_a_store_has_no_feedback(env: Env, train_calls: list[dict[str, Any]]) -> None:
    result = env.run("train", "--no-track")
    assert result.exit_code == 0, result.output
    assert train_calls[0]["feedback"] == []


# --- model list / rollback ----------------------------------------------------------------------


@pytest.fixture
def two(tmp_path: Path, bundle: Bundle) -> Env:
    e = Env(tmp_path)
    e.models.mkdir(parents=True)
    copy_bundle(bundle, e.models, "bundle-A", "2026-11-01T10:00:00+00:00")
    copy_bundle(bundle, e.models, "bundle-B", "2026-11-20T10:00:00+00:00")
    set_current(e.models, e.models / "bundle-B")
    return e


def current(e: Env) -> str:
    return (e.models / "current").resolve().name


def test_list_shows_every_bundle_and_the_one_in_service(two: Env) -> None:
    result = two.run("model", "list")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split()[1] if line.startswith("*") else line.split()[0] for line in lines] == ["bundle-A", "bundle-B"]
    assert lines[1].startswith("* bundle-B") and "relevance=0.9" in lines[1]
    rows = json.loads(two.run("model", "list", "--format", "json").stdout)
    assert [(r["id"], r["current"]) for r in rows] == [("bundle-A", False), ("bundle-B", True)]


def test_rollback_goes_to_the_bundle_before_and_logs_it(two: Env) -> None:
    result = two.run("model", "rollback")
    assert result.exit_code == 0, result.output
    assert "rolled back: bundle-B -> bundle-A" in result.stdout
    assert "not reached" in result.stderr  # no server: a warning, the switch stands
    assert current(two) == "bundle-A"
    assert history(two.models)[-1] | {"at": None} == {"at": None, "action": "rollback", "bundle": "bundle-A",
                                                      "previous": "bundle-B", "reason": "rollback from bundle-B"}
    again = two.run("model", "rollback")
    assert again.exit_code == 2 and "nothing to roll back to" in again.stderr
    assert two.run("model", "rollback", "bundle-B").exit_code == 0 and current(two) == "bundle-B"


def test_rollback_follows_promotions_back(two: Env, bundle: Bundle) -> None:
    copy_bundle(bundle, two.models, "bundle-C", "2026-11-25T10:00:00+00:00")
    for target in ("bundle-A", "bundle-C"):  # A was promoted over B, then C over A
        (two.models / "history.jsonl").open("a").write(json.dumps(
            {"at": "x", "action": "promote", "bundle": target, "previous": current(two), "reason": "test"}) + "\n")
        set_current(two.models, two.models / target)
    assert two.run("model", "rollback").exit_code == 0 and current(two) == "bundle-A"
    assert two.run("model", "rollback").exit_code == 0 and current(two) == "bundle-B"


@pytest.mark.parametrize(
    ("version", "message"),
    [("bundle-Z", "no bundle bundle-Z in"), ("7", "registry version 7 of 'otklik' does not exist")],
)
def test_rollback_to_what_does_not_exist_changes_nothing(two: Env, version: str, message: str) -> None:
    result = two.run("model", "rollback", version)
    assert result.exit_code == 2 and message in result.stderr
    assert current(two) == "bundle-B"


def test_rollback_refuses_a_tampered_bundle(two: Env) -> None:
    with (two.models / "bundle-A" / PIPELINE).open("ab") as fh:
        fh.write(b"junk")
    result = two.run("model", "rollback", "bundle-A")
    assert result.exit_code == 2 and "sha256 mismatch" in result.stderr
    assert current(two) == "bundle-B"


# --- sample -------------------------------------------------------------------------------------


def test_sample_from_a_file(env: Env, tmp_path: Path) -> None:
    source = tmp_path / "posts.jsonl"
    source.write_text("".join(json.dumps({"id": f"p{i}", "text": text}, ensure_ascii=False) + "\n"
                              for i, (text, _) in enumerate(month_posts(hogweed=20, ordinary=20))), encoding="utf-8")
    out = tmp_path / "sample.jsonl"
    result = env.run("sample", "--from", str(source), "--n", "6", "--out", str(out))
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 6 == len({r["id"] for r in rows})
    assert all(r["topic"] is None and r["suggested"]["topic"] for r in rows)
    assert "6 posts from 40" in result.stderr


def test_a_sample_masks_personal_data(env: Env, tmp_path: Path) -> None:
    source = tmp_path / "posts.jsonl"
    texts = ["Яма на дороге у дома 5, кв. 12, звоните Ирине Петровне 8 912 345-67-89",
             "Нет горячей воды третий день, пишите на ivanova@mail.ru"]
    source.write_text("".join(json.dumps({"id": f"p{i}", "text": t}, ensure_ascii=False) + "\n"
                              for i, t in enumerate(texts)), encoding="utf-8")
    result = env.run("sample", "--from", str(source), "--n", "2")
    assert result.exit_code == 0, result.output
    masked = {json.loads(line)["id"]: json.loads(line)["text"] for line in result.stdout.splitlines()}
    assert masked == {"p0": "Яма на дороге у дома 5, [КВ], звоните [ИМЯ] [ТЕЛЕФОН]",
                      "p1": "Нет горячей воды третий день, пишите на [EMAIL]"}


def test_sample_names_a_bad_line(env: Env, tmp_path: Path) -> None:
    source = tmp_path / "posts.jsonl"
    source.write_text('{"id": "1", "text": "Яма на дороге"}\n{"id": "2"}\n', encoding="utf-8")
    result = env.run("sample", "--from", str(source), "--n", "1")
    assert result.exit_code == 2 and "line 2: 'text' is required" in result.stderr


def test_sample_from_the_store_skips_labelled_posts(env_with_month: Env, month_db: tuple[Path, Month]) -> None:
    result = env_with_month.run("sample", "--n", "3")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    unlabelled = month_db[1].posted - month_db[1].registered
    assert 0 < len(rows) == min(3, unlabelled)
    assert all(r["id"].startswith("vk:m-") for r in rows)


def test_sample_with_nothing_to_sample(env: Env) -> None:
    result = env.run("sample", "--n", "3")
    assert result.exit_code == 2 and "no posts to sample from" in result.stderr


# --- drift --------------------------------------------------------------------------------------

AT = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)  # a Saturday


@pytest.fixture
def drifting(env: Env, predictor: Predictor, regions: dict[str, Region]) -> Iterator[Env]:
    """Two weeks of triage: the agency suggestion is corrected 1 time in 12, then 5 times in 12."""
    engine = make_engine(env.db)
    upgrade(engine)
    sessions = make_sessions(engine)
    posts = [text for text, t in month_posts(seed=3, hogweed=0, ordinary=40)]
    clock = ManualClock(AT - timedelta(weeks=1))
    n = 0
    for corrected in (1, 5):
        done = 0
        while done < 12:
            text = posts[n]
            n += 1
            with sessions() as s:
                result = ingest_posts(s, [NetworkPost("vk", f"d{n}", text, clock.now(), "perm-krai")],
                                      predict_fn(predictor), rules_fn(predictor), clock, regions)
                if not result.incidents:
                    continue
                incident = get_incident(s, result.incidents[0].incident_id, clock)
                if done < corrected:
                    other = "waste_operator" if incident.suggested.agency != "waste_operator" else "municipality"
                    decide(s, incident.id, "correct", incident.version, "admin", clock, Labels(agency=other))
                else:
                    decide(s, incident.id, "accept", incident.version, "admin", clock)
            done += 1
            clock.advance(timedelta(minutes=10))
        clock.set(AT - timedelta(hours=20))
    engine.dispose()
    yield env


def test_drift_warns_when_corrections_double(drifting: Env) -> None:
    result = drifting.run("drift", "--weeks", "2", "--at", AT.strftime("%Y-%m-%dT%H:%M:%S%z"))
    assert result.exit_code == 0, result.output
    assert "2026-11-16:    12 decisions" in result.stdout and "2026-11-23:    12 decisions" in result.stdout
    assert ("WARNING: agency correction rate doubled: 8.3% in the week of 2026-11-16 -> 41.7% in the week of "
            "2026-11-23 (12 decisions)") in result.stdout
    report = json.loads(drifting.run("drift", "--weeks", "2", "--format", "json", "--at",
                                     AT.strftime("%Y-%m-%dT%H:%M:%S%z")).stdout)
    assert [w["correction_rate"]["agency"] for w in report["weekly"]] == [0.0833, 0.4167]
    assert report["distributions"]["topic"]["recent"] >= 24 and report["distributions"]["topic"]["psi"] > 0


def test_drift_without_a_store_says_so(env: Env) -> None:
    result = env.run("drift")
    assert result.exit_code == 2 and "nothing to report: no database at" in result.stderr

"""MLflow tracking against a real SQLite store, `flatten`, and `otklik train` refusing a corrupt corpus."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from training.config import DEFAULT_CONFIG
from training.tracking import flatten

METRICS: dict[str, Any] = {
    "model": "20260101-000000-0badc0de",  # strings, lists, None and bools are not metrics
    "rows": 12,
    "relevance": {
        "f1": 0.93,
        "support": {"relevant": 8, "not_relevant": 4},
        "confusion": {"tp": 7, "fp": 0, "fn": 1, "tn": 4},
    },
    "topic": {
        "macro_f1": 0.875,
        "per_class": {"roads": {"f1": 1.0, "support": 3}, "housing": {"f1": 0.75, "support": 5}},
        "confusions": [{"gold": "housing", "predicted": "roads", "count": 1}],
        "review": {"coverage": 0.5, "enabled": True},
    },
    "municipality": {"recall_named": None},
}
FLAT = {
    "rows": 12.0,
    "relevance.f1": 0.93,
    "relevance.support.relevant": 8.0,
    "relevance.support.not_relevant": 4.0,
    "relevance.confusion.tp": 7.0,
    "relevance.confusion.fp": 0.0,
    "relevance.confusion.fn": 1.0,
    "relevance.confusion.tn": 4.0,
    "topic.macro_f1": 0.875,
    "topic.per_class.roads.f1": 1.0,
    "topic.per_class.roads.support": 3.0,
    "topic.per_class.housing.f1": 0.75,
    "topic.per_class.housing.support": 5.0,
    "topic.review.coverage": 0.5,
}


# --- flatten ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("nested", "flat"),
    [
        ({}, {}),
        ({"accuracy": 0.9}, {"accuracy": 0.9}),
        ({"support": 7}, {"support": 7.0}),
        ({"topic": {"per_class": {"roads": {"f1": 0.5}}}}, {"topic.per_class.roads.f1": 0.5}),
        ({"ok": True, "name": "x", "top": [["roads", 0.9]], "missing": None}, {}),
        ({"agency": {}}, {}),
    ],
)
def test_flatten(nested: dict[str, Any], flat: dict[str, float]) -> None:
    out = flatten(nested)
    assert out == flat
    assert all(type(v) is float for v in out.values())


def test_flatten_prefix_and_full_report() -> None:
    assert flatten({"f1": 1}, "relevance.") == {"relevance.f1": 1.0}
    assert flatten(METRICS) == FLAT


# --- Tracker against a real store -------------------------------------------------------------------


@pytest.fixture()
def mlflow_uri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh SQLite store.

    Tracker sets MLflow's process-wide tracking URI and experiment, which MLflow keeps in module
    globals and exports as MLFLOW_* environment variables (inherited by every later subprocess):
    all of them are put back afterwards.
    """
    import mlflow
    from mlflow.tracking import fluent
    from mlflow.tracking._tracking_service import utils

    monkeypatch.setattr(utils, "_tracking_uri", utils._tracking_uri)
    monkeypatch.setattr(fluent, "_active_experiment_id", fluent._active_experiment_id)
    saved = {name: os.environ.get(name) for name in ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID")}
    yield f"sqlite:///{tmp_path / 'mlflow.db'}"
    if mlflow.active_run() is not None:
        mlflow.end_run()
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def fake_bundle(folder: Path, bundle_id: str) -> Path:
    bundle = folder / bundle_id
    (bundle / "regions").mkdir(parents=True)
    (bundle / "meta.json").write_text(json.dumps({"id": bundle_id, "protocol": 1}), encoding="utf-8")
    (bundle / "pipeline.joblib").write_bytes(b"\x00not really a pipeline\xff")
    (bundle / "regions" / "perm-krai.yaml").write_text("code: perm-krai\nname: Пермский край\n", encoding="utf-8")
    return bundle


def test_tracker_logs_params_metrics_bundle_and_registers_a_version(mlflow_uri: str, tmp_path: Path) -> None:
    import mlflow
    from mlflow import MlflowClient

    from training.tracking import Tracker

    tracker = Tracker(mlflow_uri, "otklik-test", artifact_root=tmp_path / "mlartifacts")
    first = fake_bundle(tmp_path / "models", "20260101-000000-0badc0de")
    params = {"seed": "0", "topic_C": "10.0", "corpus": "annotations/corpus"}
    run_id = tracker.start(first.name, params)
    assert tracker.run_id == run_id
    assert tracker.finish(METRICS, first, "otklik-test") == "1"
    assert mlflow.active_run() is None

    client = MlflowClient(mlflow_uri)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == first.name
    assert client.get_experiment(run.info.experiment_id).name == "otklik-test"
    assert run.data.params == params
    assert run.data.metrics == FLAT
    assert run.data.tags["registered_version"] == "1"

    def listing(path: str) -> set[str]:
        return {a.path for a in client.list_artifacts(run_id, path)}

    assert listing("") == {"bundle", "metrics.json"}
    assert listing("bundle") == {"bundle/meta.json", "bundle/pipeline.joblib", "bundle/regions"}
    assert listing("bundle/regions") == {"bundle/regions/perm-krai.yaml"}
    local = Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="bundle", dst_path=str(tmp_path)))
    assert (local / "pipeline.joblib").read_bytes() == (first / "pipeline.joblib").read_bytes()
    assert (local / "regions" / "perm-krai.yaml").read_text(encoding="utf-8").endswith("Пермский край\n")
    logged = mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/metrics.json")
    assert logged == json.loads(json.dumps(METRICS))
    assert run.info.artifact_uri.startswith((tmp_path / "mlartifacts").resolve().as_uri())

    version = client.get_model_version("otklik-test", "1")
    assert version.run_id == run_id
    assert version.tags == {"bundle_id": first.name}
    assert version.source == f"{run.info.artifact_uri}/bundle"

    # a second training run adds version 2 to the same registered model
    second = fake_bundle(tmp_path / "models", "20260102-000000-0badf00d")
    again = Tracker(mlflow_uri, "otklik-test", artifact_root=tmp_path / "mlartifacts")
    second_run = again.start(second.name, params)
    assert again.finish({"topic": {"macro_f1": 0.9}}, second, "otklik-test") == "2"
    assert client.get_model_version("otklik-test", "2").tags == {"bundle_id": second.name}
    assert client.get_model_version("otklik-test", "2").run_id == second_run
    assert client.get_run(second_run).data.metrics == {"topic.macro_f1": 0.9}


# --- otklik train refuses a corrupt corpus ----------------------------------------------------------

GOOD = {"id": "t-1", "text": "Яма на дороге у школы", "relevant": True, "topic": "roads", "agency": "municipality"}


@pytest.mark.parametrize(
    ("rows", "where", "message"),
    [
        pytest.param([json.dumps(GOOD, ensure_ascii=False), json.dumps({**GOOD, "id": "t-2"}), '{"id": "t-3", '],
                     3, "not valid JSON", id="bad-json"),
        pytest.param([json.dumps(GOOD, ensure_ascii=False), json.dumps({**GOOD, "id": "t-2", "topic": "potholes"})],
                     2, "topic 'potholes' is not in the taxonomy", id="unknown-topic"),
    ],
)
def test_train_refuses_a_corrupt_corpus_naming_file_and_line(tmp_path: Path, rows: list[str], where: int,
                                                             message: str) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "posts.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    default = DEFAULT_CONFIG.read_text(encoding="utf-8")
    assert 'corpus = "annotations/corpus"' in default
    config = tmp_path / "train.toml"
    config.write_text(default.replace('corpus = "annotations/corpus"', f'corpus = "{corpus}"'), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTKLIK_")}
    env |= {"OTKLIK_VAR_DIR": str(tmp_path / "var"), "OTKLIK_MODELS_DIR": str(tmp_path / "models")}

    result = subprocess.run(
        [sys.executable, "-m", "serving.cli", "train", "--config", str(config), "--no-track"],
        env=env, cwd=ROOT, capture_output=True, text=True, encoding="utf-8", timeout=300, check=False,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    assert f"{corpus / 'posts.jsonl'}:{where}: " in result.stderr
    assert message in result.stderr
    assert "analyzing" not in result.stderr  # it stopped while loading, before any training
    assert not (tmp_path / "models").exists()

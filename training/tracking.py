"""MLflow tracking and registry for training runs. Imported only by training commands (mlflow is slow to import)."""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Real
from pathlib import Path
from typing import Any

import numpy as np


def import_mlflow() -> Any:
    """mlflow, or an ImportError that says which extra brings it."""
    try:
        import mlflow
    except ModuleNotFoundError as exc:
        raise ImportError("MLflow is not installed: install the training extra (pip install 'otklik[train]'), "
                          "or train with --no-track") from exc
    return mlflow


def flatten(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """Nested metrics -> {"topic.macro_f1": 0.9, ...}; non-numeric leaves are dropped."""
    out: dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, name + "."))
        elif isinstance(value, Real) and not isinstance(value, bool | np.bool_):
            out[name] = float(value)
    return out


class Tracker:
    """One MLflow run per training: parameters, metrics, the bundle as artifacts, a registered version."""

    def __init__(self, tracking_uri: str, experiment: str, artifact_root: Path | None = None) -> None:
        mlflow = import_mlflow()
        self._mlflow = mlflow
        mlflow.set_tracking_uri(tracking_uri)
        client = mlflow.MlflowClient()
        if client.get_experiment_by_name(experiment) is None:
            location = artifact_root.resolve().as_uri() if artifact_root else None
            client.create_experiment(experiment, artifact_location=location)
        mlflow.set_experiment(experiment)
        self.client = client
        self.run_id: str | None = None

    def start(self, run_name: str, params: Mapping[str, str]) -> str:
        run = self._mlflow.start_run(run_name=run_name)
        self._mlflow.log_params(dict(params))
        self.run_id = run.info.run_id
        return self.run_id

    def log_report(self, run_name: str, params: Mapping[str, str], report: Mapping[str, Any]) -> str:
        """One run holding an evaluation report (no bundle): its numbers as metrics, the whole as JSON."""
        run_id = self.start(run_name, params)
        try:
            self._mlflow.log_metrics(flatten(report))
            self._mlflow.log_dict(dict(report), "report.json")
        finally:
            self._mlflow.end_run()
        return run_id

    def finish(self, metrics: Mapping[str, Any], bundle: Path, registered_model: str) -> str:
        """Log metrics and the bundle, register a model version, end the run; returns the version."""
        mlflow = self._mlflow
        try:
            mlflow.log_metrics(flatten(metrics))
            mlflow.log_dict(dict(metrics), "metrics.json")
            mlflow.log_artifacts(str(bundle), artifact_path="bundle")
            run = mlflow.active_run()
            assert run is not None
            source = f"{run.info.artifact_uri}/bundle"
            try:
                self.client.get_registered_model(registered_model)
            except mlflow.exceptions.MlflowException:
                self.client.create_registered_model(registered_model)
            mv = self.client.create_model_version(
                registered_model, source=source, run_id=run.info.run_id, tags={"bundle_id": bundle.name}
            )
            mlflow.set_tag("registered_version", mv.version)
            return str(mv.version)
        finally:
            mlflow.end_run()

"""The MLflow model registry as the retraining job uses it: versions found by bundle id, the `champion` alias.

A bundle's registered version carries the tag `bundle_id` (set by `Tracker.finish`); the gate adds
`gate` (promoted | refused) and `gate_reason`. mlflow is imported only when a Registry is built.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

CHAMPION = "champion"


class Registry:
    def __init__(self, tracking_uri: str, name: str) -> None:
        from training.tracking import import_mlflow

        mlflow = import_mlflow()
        self._mlflow = mlflow
        self.client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        self.name = name

    def versions(self) -> list[Any]:
        """Every registered version of the model, oldest first (none when it was never registered)."""
        found = self.client.search_model_versions(f"name='{self.name}'")
        return sorted(found, key=lambda mv: int(mv.version))

    def version_of(self, bundle_id: str) -> str | None:
        """The newest registered version of `bundle_id`."""
        matching = [mv for mv in self.versions() if mv.tags.get("bundle_id") == bundle_id]
        return str(matching[-1].version) if matching else None

    def bundle_of(self, version: str) -> str | None:
        try:
            return self.client.get_model_version(self.name, version).tags.get("bundle_id")
        except self._mlflow.exceptions.MlflowException:
            return None

    def champion(self) -> str | None:
        """The bundle id the `champion` alias points to, or None."""
        try:
            mv = self.client.get_model_version_by_alias(self.name, CHAMPION)
        except self._mlflow.exceptions.MlflowException:
            return None
        return mv.tags.get("bundle_id")

    def set_champion(self, bundle_id: str) -> str:
        """Move the `champion` alias to the version of `bundle_id`; returns the version. A bundle never
        registered gets no alias, and the old one is removed: the alias names what serves, or nothing."""
        version = self.version_of(bundle_id)
        if version is None:
            if self.champion() is not None:  # it would name a bundle that is not in service
                self.client.delete_registered_model_alias(self.name, CHAMPION)
            raise LookupError(f"bundle {bundle_id} has no registered version in model {self.name!r} "
                              "(trained with --no-track?); the registry has no `champion` alias now")
        self.client.set_registered_model_alias(self.name, CHAMPION, version)
        return version

    def record_verdict(self, bundle_id: str, promoted: bool, reason: str, run_id: str | None,
                       files: Sequence[Path]) -> None:
        """Tag the bundle's version with the gate's verdict and log the report files to its run."""
        version = self.version_of(bundle_id)
        if version is not None:
            self.client.set_model_version_tag(self.name, version, "gate", "promoted" if promoted else "refused")
            self.client.set_model_version_tag(self.name, version, "gate_reason", reason[:5000])
        if run_id is not None:
            for path in files:
                self.client.log_artifact(run_id, str(path), artifact_path="comparison")

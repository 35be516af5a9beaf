"""The versioned model bundle: a directory that describes and verifies itself.

    <bundle>/pipeline.joblib   the fitted `Classifier`
    <bundle>/taxonomy.yaml     the label space it was trained with
    <bundle>/regions/*.yaml    the region directories it routes with
    <bundle>/rules/*.yaml      the monitoring rules it reports
    <bundle>/meta.json         id, protocol, labels, thresholds, versions, data hash, metrics,
                               MLflow run id, creation time, sha256 of every other file

joblib is pickle: `load_bundle` checks the protocol and every file's hash before anything is
unpickled, so only a bundle this project wrote (and nobody changed since) is ever loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib

from model.classifier import Classifier
from model.matcher import Rule
from model.region import Region, load_regions
from model.rules import load_rules
from model.taxonomy import Taxonomy, load_taxonomy

PROTOCOL = 1
META = "meta.json"
PIPELINE = "pipeline.joblib"


class BundleError(Exception):
    """A bundle that must not be loaded; the message says what to do."""


@dataclass(frozen=True)
class Bundle:
    path: Path
    meta: Mapping[str, Any]
    classifier: Classifier
    taxonomy: Taxonomy
    regions: Mapping[str, Region]
    rules: tuple[Rule, ...]

    @property
    def id(self) -> str:
        return str(self.meta["id"])


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _files(directory: Path) -> list[str]:
    return sorted(
        str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file() and p.name != META
    )


def write_bundle(
    directory: Path,
    classifier: Classifier,
    meta: Mapping[str, Any],
    taxonomy_file: Path,
    regions_dir: Path,
    rules_dir: Path,
) -> Path:
    """Write a complete bundle to `directory` (which must not exist) and return it."""
    if directory.exists():
        raise BundleError(f"{directory} already exists; bundles are never overwritten")
    tmp = directory.with_name(directory.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    joblib.dump(classifier, tmp / PIPELINE, compress=3)
    shutil.copy2(taxonomy_file, tmp / "taxonomy.yaml")
    shutil.copytree(regions_dir, tmp / "regions", ignore=shutil.ignore_patterns("*.md"))
    shutil.copytree(rules_dir, tmp / "rules", ignore=shutil.ignore_patterns("*.md"))
    full = {**meta, "protocol": PROTOCOL, "files": {name: sha256(tmp / name) for name in _files(tmp)}}
    (tmp / META).write_text(json.dumps(full, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    tmp.rename(directory)  # a reader never sees a half-written bundle
    return directory


def read_meta(directory: Path) -> dict[str, Any]:
    meta_file = directory / META
    if not meta_file.is_file():
        raise BundleError(f"{directory} is not a model bundle (no {META}); train one with `otklik train`")
    try:
        meta: dict[str, Any] = json.loads(meta_file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"{meta_file} is not valid JSON ({exc}); retrain with `otklik train`") from exc
    return meta


def verify_bundle(directory: Path) -> dict[str, Any]:
    """Check protocol and hashes without unpickling anything; return the metadata."""
    meta = read_meta(directory)
    if meta.get("protocol") != PROTOCOL:
        raise BundleError(
            f"{directory} has bundle protocol {meta.get('protocol')!r}, this Otklik reads protocol "
            f"{PROTOCOL}; retrain with `otklik train` (or run the Otklik version that wrote it)"
        )
    expected: dict[str, str] = meta.get("files", {})
    present = set(_files(directory))
    problems = [f"missing {name}" for name in sorted(set(expected) - present)]
    problems += [f"unexpected {name}" for name in sorted(present - set(expected))]
    problems += [
        f"{name} changed (sha256 mismatch)"
        for name in sorted(set(expected) & present)
        if sha256(directory / name) != expected[name]
    ]
    if problems:
        raise BundleError(
            f"{directory} failed verification: {'; '.join(problems)}. It was modified after it was "
            "written and will not be loaded; restore it or retrain with `otklik train`"
        )
    return meta


def load_bundle(directory: Path) -> Bundle:
    directory = Path(directory).resolve()
    meta = verify_bundle(directory)
    classifier = joblib.load(directory / PIPELINE)
    if not isinstance(classifier, Classifier):
        raise BundleError(f"{directory / PIPELINE} does not hold an Otklik classifier")
    try:
        taxonomy = load_taxonomy(directory / "taxonomy.yaml")
        regions = load_regions(directory / "regions", taxonomy)
        rules = tuple(load_rules(directory / "rules"))
    except (ValueError, OSError) as exc:
        raise BundleError(f"{directory}: its directories do not load ({exc}); retrain with `otklik train`") from exc
    return Bundle(path=directory, meta=meta, classifier=classifier, taxonomy=taxonomy, regions=regions, rules=rules)


def set_current(models_dir: Path, bundle_dir: Path) -> None:
    """Point `models_dir/current` at `bundle_dir` atomically (a reader sees the old or the new)."""
    models_dir.mkdir(parents=True, exist_ok=True)
    link = models_dir / "current"
    tmp = models_dir / f".current-{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(os.path.relpath(bundle_dir.resolve(), models_dir.resolve()))
    os.replace(tmp, link)

"""Shared fixtures: heavy objects are built once per session."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from model.bundle import Bundle, load_bundle, set_current
from model.lemma import Lemmatizer
from model.predictor import Predictor
from model.region import Region, load_regions
from model.taxonomy import Taxonomy, load_taxonomy
from training.config import DEFAULT_CONFIG, load_config
from training.train import TrainResult, train

ROOT = Path(__file__).resolve().parents[1]
ANNOTATIONS = ROOT / "annotations"
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def lemmatizer() -> Lemmatizer:
    return Lemmatizer()


@pytest.fixture(scope="session")
def taxonomy() -> Taxonomy:
    return load_taxonomy(ANNOTATIONS / "taxonomy.yaml")


@pytest.fixture(scope="session")
def regions() -> dict[str, Region]:
    return dict(load_regions(ANNOTATIONS / "regions"))


@pytest.fixture(scope="session")
def perm(regions: dict[str, Region]) -> Region:
    return regions["perm-krai"]


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def trained(models_dir: Path) -> TrainResult:
    """The default model, trained once per session on the project's corpus (no MLflow).

    For quick local runs only, OTKLIK_TEST_BUNDLE=<bundle dir> copies a bundle trained from this
    tree instead (CI never sets it; a stale bundle makes the tests lie)."""
    reuse = os.environ.get("OTKLIK_TEST_BUNDLE")
    if reuse and not os.environ.get("CI"):
        source = Path(reuse).resolve()
        target = models_dir / json.loads((source / "meta.json").read_text(encoding="utf-8"))["id"]
        shutil.copytree(source, target)
        set_current(models_dir, target)
        return TrainResult(target, json.loads((target / "meta.json").read_text(encoding="utf-8")))
    cfg = load_config(DEFAULT_CONFIG, ROOT)
    return train(cfg, models_dir)


@pytest.fixture(scope="session")
def bundle(trained: TrainResult) -> Bundle:
    return load_bundle(trained.bundle)


@pytest.fixture(scope="session")
def predictor(bundle: Bundle, lemmatizer: Lemmatizer) -> Predictor:
    return Predictor(bundle, lemmatizer)


@pytest.fixture(scope="session")
def corpus_only_bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    """A model trained on the project's corpus alone: the tests of the retraining loop and of sampling
    are built around its known weaknesses (hogweed is routed wrong), which the real data teaches away."""
    cfg = replace(load_config(DEFAULT_CONFIG, ROOT), reference_data="")
    return load_bundle(train(cfg, tmp_path_factory.mktemp("corpus-only")).bundle)

"""The bundle verifies itself before anything is unpickled."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from model.bundle import (
    META,
    PIPELINE,
    PROTOCOL,
    Bundle,
    BundleError,
    load_bundle,
    set_current,
    verify_bundle,
)
from model.predictor import Predictor
from model.records import Post


@pytest.fixture()
def copy(bundle: Bundle, tmp_path: Path) -> Path:
    target = tmp_path / bundle.path.name
    shutil.copytree(bundle.path, target)
    return target


def test_meta_describes_the_bundle(bundle: Bundle) -> None:
    meta = bundle.meta
    assert meta["protocol"] == PROTOCOL
    assert meta["id"] == bundle.path.name
    for key in (
        "created_at",
        "labels",
        "thresholds",
        "versions",
        "data",
        "metrics",
        "files",
        "default_region",
    ):
        assert key in meta, key
    assert "mlflow_run_id" in meta
    assert set(meta["labels"]["topics"]) == set(bundle.taxonomy.topics)
    assert set(meta["labels"]["agencies"]) <= set(bundle.taxonomy.agencies)
    assert {"scikit-learn", "pymorphy3", "natasha", "python"} <= set(meta["versions"])
    assert len(meta["data"]["hash"]) == 64
    assert PIPELINE in meta["files"] and "taxonomy.yaml" in meta["files"]
    assert any(name.startswith("regions/") for name in meta["files"])
    assert any(name.startswith("rules/") for name in meta["files"])
    assert 0 < meta["thresholds"]["relevance"] < 1


def test_a_copy_loads_and_predicts_the_same(bundle: Bundle, copy: Path, predictor: Predictor) -> None:
    posts = [Post(id="1", text="Когда починят дорогу на Гайве? Ямы по колено")]
    again = Predictor(load_bundle(copy)).predict(posts)[0].to_json()
    assert again == predictor.predict(posts)[0].to_json()


def test_tampered_pipeline_is_refused(copy: Path) -> None:
    with (copy / PIPELINE).open("ab") as fh:
        fh.write(b"\0")
    with pytest.raises(BundleError, match=r"pipeline\.joblib changed \(sha256 mismatch\).*retrain"):
        load_bundle(copy)


def test_edited_region_is_refused(copy: Path) -> None:
    region = copy / "regions" / "perm-krai.yaml"
    region.write_text(region.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    with pytest.raises(BundleError, match=r"regions/perm-krai\.yaml changed"):
        verify_bundle(copy)


def test_missing_and_unexpected_files_are_refused(copy: Path) -> None:
    (copy / "taxonomy.yaml").unlink()
    (copy / "extra.joblib").write_bytes(b"x")
    with pytest.raises(BundleError, match=r"missing taxonomy\.yaml; unexpected extra\.joblib"):
        verify_bundle(copy)


def test_other_protocol_is_refused(copy: Path) -> None:
    meta = json.loads((copy / META).read_text(encoding="utf-8"))
    meta["protocol"] = PROTOCOL + 1
    (copy / META).write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(BundleError, match=rf"protocol {PROTOCOL + 1}.*reads protocol {PROTOCOL}"):
        load_bundle(copy)


def test_not_a_bundle(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match=r"not a model bundle.*otklik train"):
        load_bundle(tmp_path)
    (tmp_path / META).write_text("{", encoding="utf-8")
    with pytest.raises(BundleError, match="not valid JSON"):
        load_bundle(tmp_path)


def test_set_current_switches_the_link(copy: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    second = tmp_path / "second"
    shutil.copytree(copy, second)
    set_current(models, copy)
    assert (models / "current").resolve() == copy.resolve()
    set_current(models, second)
    assert (models / "current").resolve() == second.resolve()
    assert verify_bundle(models / "current")["id"] == copy.name

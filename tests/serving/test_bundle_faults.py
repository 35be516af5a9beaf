"""Every way a bundle can fail to load is one path: a reload answers 409 with the reason while the old
bundle keeps serving; a start-up on it is degraded (/ready false with the reason), never a crash.

The damaged bundles keep matching hashes (rewritten with them, as a careless or hostile hand would),
so that each failure gets past `verify_bundle` and shows up where it really happens."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import joblib
import pytest
from fastapi.testclient import TestClient

from model.bundle import META, PIPELINE, Bundle, set_current, sha256
from model.classifier import Classifier
from serving.app import create_app
from serving.models import ModelHolder
from tests.serving.conftest import ADMIN, make_settings

AUTH = {"Authorization": f"Bearer {ADMIN}"}


def rehash(directory: Path) -> None:
    meta = json.loads((directory / META).read_text(encoding="utf-8"))
    meta["files"] = {name: sha256(directory / name) for name in meta["files"]}
    (directory / META).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")


def garbage_pickle(directory: Path) -> None:
    (directory / PIPELINE).write_bytes(b"\x80\x04not a pickle at all" * 10)


def wrong_shapes(directory: Path) -> None:
    clf = joblib.load(directory / PIPELINE)
    clf.relevance = clf.topic  # a head fitted on other features: predicting fails on the input's width
    joblib.dump(clf, directory / PIPELINE, compress=3)


def other_labels(directory: Path) -> None:
    meta = json.loads((directory / META).read_text(encoding="utf-8"))
    meta["labels"]["topics"] = list(reversed(meta["labels"]["topics"]))  # columns no longer mean these topics
    (directory / META).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")


def unknown_codes(directory: Path) -> None:
    clf: Classifier = joblib.load(directory / PIPELINE)
    clf.agency.classes_ = clf.agency.classes_.astype(object)
    clf.agency.classes_[0] = "ministry_of_magic"
    joblib.dump(clf, directory / PIPELINE, compress=3)
    meta = json.loads((directory / META).read_text(encoding="utf-8"))
    meta["labels"]["agencies"][0] = "ministry_of_magic"  # meta.json agrees: only the taxonomy does not
    (directory / META).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")


def not_a_classifier(directory: Path) -> None:
    joblib.dump({"weights": [1, 2, 3]}, directory / PIPELINE)


DAMAGES: dict[str, tuple[Callable[[Path], None], str]] = {
    "unpickling": (garbage_pickle, "does not load: "),  # joblib says KeyError, pickle UnpicklingError
    "shapes": (wrong_shapes, "does not load: ValueError"),
    "labels": (other_labels, "its topics head predicts other labels than the 17 meta.json lists"),
    "codes": (unknown_codes, "codes its taxonomy does not know: ministry_of_magic"),
    "object": (not_a_classifier, "does not hold an Otklik classifier"),
}


def damaged(bundle: Bundle, target: Path, damage: Callable[[Path], None]) -> Path:
    shutil.copytree(bundle.path, target)
    damage(target)
    rehash(target)
    return target


@pytest.mark.parametrize("kind", ["unpickling", "shapes", "labels"])  # the holder's test below takes every kind
def test_a_damaged_bundle_is_refused_on_reload_and_the_old_one_serves(bundle: Bundle, tmp_path: Path,
                                                                      kind: str) -> None:
    damage, reason = DAMAGES[kind]
    shutil.copytree(bundle.path, tmp_path / "good")
    set_current(tmp_path, tmp_path / "good")
    app = create_app(make_settings(tmp_path, tmp_path / "var"))
    with TestClient(app) as client:
        set_current(tmp_path, damaged(bundle, tmp_path / "bad", damage))
        r = client.post("/v1/model/reload", headers=AUTH)
        assert r.status_code == 409, r.text
        assert reason in r.json()["detail"] and f"still serving {bundle.id}" in r.json()["detail"]
        predicted = client.post("/v1/predict", json={"posts": [{"id": "1", "text": "Яма на дороге в Перми"}]})
        assert predicted.status_code == 200 and predicted.json()["model"] == bundle.id
        assert client.get("/ready").json()["ready"] is True


@pytest.mark.parametrize("kind", ["unpickling", "labels"])
def test_a_start_on_a_damaged_bundle_is_degraded_with_the_reason(bundle: Bundle, tmp_path: Path, kind: str) -> None:
    damage, reason = DAMAGES[kind]
    set_current(tmp_path, damaged(bundle, tmp_path / "bad", damage))
    with TestClient(create_app(make_settings(tmp_path, tmp_path / "var"))) as client:
        ready = client.get("/ready")
        assert ready.status_code == 503 and ready.json()["checks"]["model"] is None
        assert any(reason in p for p in ready.json()["problems"]), ready.json()
        r = client.post("/v1/predict", json={"posts": [{"id": "1", "text": "Яма на дороге"}]})
        assert r.status_code == 503 and reason in r.json()["detail"]
        assert client.get("/health").status_code == 200


def test_the_holder_keeps_the_old_bundle_for_every_damage(bundle: Bundle, tmp_path: Path) -> None:
    shutil.copytree(bundle.path, tmp_path / "good")
    set_current(tmp_path, tmp_path / "good")
    holder = ModelHolder(tmp_path / "current", follow=False)
    holder.load()
    for kind, (damage, reason) in DAMAGES.items():
        set_current(tmp_path, damaged(bundle, tmp_path / kind, damage))
        with pytest.raises(Exception, match=reason.replace("(", r"\(")) as refused:
            holder.load()
        assert type(refused.value).__name__ == "BundleError", kind
        assert holder.current is not None and holder.current.bundle.id == bundle.id

"""Retraining end to end, with the real model, a real store and a real MLflow registry.

A month of honest triage that corrects the model's hogweed error (see tests/training/simulation.py)
produces a challenger that the gate promotes and that routes unseen hogweed posts right; a month of
deliberately wrong labels produces a challenger the gate refuses, with the reason; a rollback brings
back the exact predictions of before; a promotion under a stream of requests loses none of them.

Two trainings in all. They use 3 cross-validation folds instead of the default 5 (72 s of CPU
instead of 120 s here): measured on the fixed test split, the 3-fold model scores the same as the
5-fold one (relevance F1 0.9405 vs 0.9404, topic macro-F1 0.9377 both, agency accuracy 0.9103 both).
"""

from __future__ import annotations

import json
import random
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from model.bundle import Bundle, load_bundle, set_current
from model.lemma import Lemmatizer
from model.predictor import Predictor
from model.records import Post
from model.region import Region
from serving.cli import app as cli
from tests.conftest import ANNOTATIONS, ROOT
from tests.serving.conftest import ADMIN
from tests.serving.server import free_port, running_server
from tests.training.simulation import (
    Month,
    Policy,
    Truth,
    corpus_lookalikes,
    honest,
    month_posts,
    saboteur,
    simulate_month,
)
from training.config import DEFAULT_CONFIG, load_config
from training.corpus import read_corpus
from training.promotion import http_reload, switch
from training.registry import Registry
from training.retrain import RetrainResult, retrain
from training.tracking import Tracker

CFG = replace(load_config(DEFAULT_CONFIG, ROOT), cv_folds=3, reference_data="")

# Hogweed complaints written apart from the simulated month (none of its templates): the error
# generalizes, so must the fix. Most name a place the model routes by instead.
HOGWEED = [
    "Борщевик вырос выше человека вдоль дороги в Краснокамске, администрация ничего не делает",
    "Весь двор зарос борщевиком, дети играют рядом, кто должен косить?",
    "На детской площадке борщевик, ребёнок обжёгся, срочно уберите",
    "Вдоль тротуара на Гайве сплошной борщевик, пройти невозможно",
    "Борщевик захватил обочины по всей улице Ленина в Чусовом, когда будут травить?",
    "Пустырь у школы зарос борщевиком в два метра",
    "Борщевик у остановки, люди обжигаются, администрация молчит",
    "Сообщаю что в парке у пруда опять разросся борщевик Сосновского",
    "Борщевик на газонах возле домов по улице Мира, просим скосить",
    "Обочина дороги в Полазне вся в борщевике, водители не видят пешеходов",
    "Кто будет бороться с борщевиком в посёлке? Уже подступил к огородам",
    "У детского сада разросся борщевик, воспитатели боятся выводить детей гулять",
]
OTHERS = [
    "Третий день нет горячей воды в Березниках, УК молчит",
    "Яма на дороге у школы в Чусовом, машины бьют колёса",
    "Продаю велосипед, почти новый, недорого",
]


def routed_right(predictor: Predictor) -> int:
    preds = predictor.predict([Post(id=str(i), text=t) for i, t in enumerate(HOGWEED)], explain=False)
    return sum(p.topic.label == "improvement" and p.agency.label == "municipality" for p in preds)


def prediction_json(bundle_dir: Path) -> list[dict[str, Any]]:
    predictor = Predictor(load_bundle(bundle_dir))
    return [p.to_json() for p in predictor.predict([Post(id=str(i), text=t) for i, t in enumerate(HOGWEED + OTHERS)])]


@dataclass(frozen=True)
class Lab:
    """A models dir serving the session's champion, an MLflow store where the champion is registered."""

    models: Path
    reports: Path
    mlflow_uri: str
    champion: Bundle

    @property
    def registry(self) -> Registry:
        return Registry(self.mlflow_uri, CFG.registered_model)

    def tracker(self) -> Tracker:
        return Tracker(self.mlflow_uri, CFG.experiment, artifact_root=self.models.parent / "mlartifacts")


def make_lab(root: Path, champion: Bundle) -> Lab:
    models = root / "models"
    shutil.copytree(champion.path, models / champion.id)
    set_current(models, models / champion.id)
    lab = Lab(models, root / "reports", f"sqlite:///{root / 'mlflow.db'}", champion)
    tracker = lab.tracker()
    tracker.start(champion.id, {})
    tracker.finish(champion.meta["metrics"]["test"], models / champion.id, CFG.registered_model)
    lab.registry.set_champion(champion.id)
    return lab


@dataclass(frozen=True)
class Run:
    lab: Lab
    month: Month
    result: RetrainResult
    before: list[dict[str, Any]]  # predictions of the champion, taken from `current` before the run


def run_month(root: Path, bundle: Bundle, predictor: Predictor, regions: dict[str, Region], policy: Policy,
              posts: list[tuple[str, Truth]]) -> Run:
    lab = make_lab(root, bundle)
    month = simulate_month(f"sqlite:///{root / 'otklik.db'}", predictor, regions, policy, posts)
    before = prediction_json(lab.models / "current")
    result = retrain(CFG, lab.models, month.feedback, lab.reports, min_feedback=50, tracker=lab.tracker(),
                     registry=lab.registry)
    return Run(lab, month, result, before)


# The corpus-only model: its hogweed error is what the simulated month corrects.
@pytest.fixture(scope="module")
def bundle(corpus_only_bundle: Bundle) -> Bundle:
    return corpus_only_bundle


@pytest.fixture(scope="module")
def predictor(corpus_only_bundle: Bundle, lemmatizer: Lemmatizer) -> Predictor:
    return Predictor(corpus_only_bundle, lemmatizer)


@pytest.fixture(scope="module")
def promoted(bundle: Bundle, predictor: Predictor, regions: dict[str, Region],
             tmp_path_factory: pytest.TempPathFactory) -> Run:
    return run_month(tmp_path_factory.mktemp("honest"), bundle, predictor, regions, honest, month_posts())


@pytest.fixture(scope="module")
def refused(bundle: Bundle, predictor: Predictor, regions: dict[str, Region],
            tmp_path_factory: pytest.TempPathFactory) -> Run:
    posts = month_posts() + corpus_lookalikes(read_corpus(ANNOTATIONS / "corpus"), 300)
    random.Random(1).shuffle(posts)
    labels = bundle.meta["labels"]
    return run_month(tmp_path_factory.mktemp("saboteur"), bundle, predictor, regions,
                     saboteur(labels["topics"], labels["agencies"]), posts)


def test_the_session_model_has_the_systematic_error(predictor: Predictor) -> None:
    assert routed_right(predictor) <= 5, "the model learned hogweed: pick another systematic error for this test"


def test_a_month_of_corrections_promotes_a_challenger_that_fixes_the_error(promoted: Run) -> None:
    run, lab = promoted.result, promoted.lab
    feedback = promoted.month.feedback
    assert promoted.month.registered >= 150 and len(feedback) == promoted.month.registered
    assert sum("topic" in row["corrected"] for row in feedback) >= 60  # the error, corrected day by day
    assert run.status == "promoted", run.reason
    assert run.challenger is not None
    challenger = load_bundle(run.challenger)
    assert (lab.models / "current").resolve() == run.challenger.resolve()
    assert lab.registry.champion() == challenger.id
    version = lab.registry.version_of(challenger.id)
    assert version is not None
    assert lab.registry.client.get_model_version(CFG.registered_model, version).tags["gate"] == "promoted"

    # It learned the pattern, not the posts: unseen hogweed complaints are routed right now.
    assert routed_right(Predictor(challenger)) >= 10

    # Fed the feedback, never the test split; judged on the same data as the champion.
    assert challenger.meta["data"]["test_hash"] == lab.champion.meta["data"]["test_hash"]
    assert run.feedback is not None and challenger.meta["data"]["feedback_rows"] == len(run.feedback.train)
    report = json.loads((lab.reports / challenger.id / "comparison.json").read_text(encoding="utf-8"))
    assert report["champion"] == lab.champion.id and report["verdict"]["promote"] is True
    assert {"test", "holdout"} == set(report["heads"])
    holdout = report["heads"]["holdout"]
    assert holdout["topic"]["challenger"] > holdout["topic"]["champion"] + 0.1
    assert any(r["dataset"] == "holdout" and "topic" in r["heads"] and "орщевик" in r["text"]
               for r in report["changed"])
    assert report["per_class"]["holdout"]["topic"]["improvement"]["support"] > 0
    assert "**Promoted.**" in (lab.reports / challenger.id / "comparison.md").read_text(encoding="utf-8")
    run_id = challenger.meta["mlflow_run_id"]
    logged = {Path(a.path).name for a in lab.registry.client.list_artifacts(run_id, "comparison")}
    assert logged == {"comparison.json", "comparison.md"}


def test_a_challenger_trained_on_wrong_feedback_is_refused_with_the_reason(refused: Run) -> None:
    run, lab = refused.result, refused.lab
    assert run.status == "refused", run.reason
    assert run.challenger is not None and run.challenger.is_dir()  # kept, not served
    assert (lab.models / "current").resolve().name == lab.champion.id
    assert lab.registry.champion() == lab.champion.id
    assert run.report is not None
    worse = run.report["verdict"]["worse"]
    assert any(w["dataset"] == "test" for w in worse), run.reason
    assert "worse than the champion" in run.reason and "on test" in run.reason
    challenger_id = run.challenger.name
    version = lab.registry.version_of(challenger_id)
    assert version is not None
    tags = lab.registry.client.get_model_version(CFG.registered_model, version).tags
    assert tags["gate"] == "refused" and tags["gate_reason"] == run.reason


def test_rollback_restores_the_exact_previous_predictions(promoted: Run) -> None:
    lab = promoted.lab
    assert prediction_json(lab.models / "current") != promoted.before  # the challenger serves
    env = {"OTKLIK_MODELS_DIR": str(lab.models), "OTKLIK_VAR_DIR": str(lab.models.parent),
           "OTKLIK_MLFLOW_URI": lab.mlflow_uri, "OTKLIK_RELOAD_URL": f"http://127.0.0.1:{free_port()}",
           "OTKLIK_ENV": "test"}
    result = CliRunner().invoke(cli, ["model", "rollback"], env=env)
    assert result.exit_code == 0, result.output
    assert f"-> {lab.champion.id}" in result.stdout
    assert "not reached" in result.stderr  # no server runs: a warning, not a failure
    assert (lab.models / "current").resolve().name == lab.champion.id
    assert lab.registry.champion() == lab.champion.id
    assert prediction_json(lab.models / "current") == promoted.before


@pytest.fixture
def served(promoted: Run, tmp_path: Path) -> Iterator[tuple[str, Path, str, str]]:
    models = tmp_path / "models"
    champion, challenger = promoted.lab.champion.id, promoted.result.challenger
    assert challenger is not None
    shutil.copytree(promoted.lab.models / champion, models / champion)
    shutil.copytree(challenger, models / challenger.name)
    set_current(models, models / champion)
    env = {"OTKLIK_MODELS_DIR": str(models), "OTKLIK_ADMIN_TOKEN": ADMIN, "OTKLIK_ENV": "test",
           "OTKLIK_VAR_DIR": str(tmp_path)}
    with running_server(env, tmp_path / "server.log") as url:
        yield url, models, champion, challenger.name


def test_promotion_under_load_drops_no_request(served: tuple[str, Path, str, str]) -> None:
    url, models, champion, challenger = served
    body = {"posts": [{"id": "1", "text": HOGWEED[5]}]}
    stop = threading.Event()
    seen: list[tuple[int, str, str]] = []

    def hammer() -> None:
        with httpx.Client(base_url=url, timeout=30) as c:
            while not stop.is_set():
                r = c.post("/v1/predict", json=body)
                answer = r.json()
                seen.append((r.status_code, answer.get("model", ""),
                             answer["predictions"][0]["topic"]["label"] if r.status_code == 200 else ""))

    threads = [threading.Thread(target=hammer) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        reload = http_reload(url, ADMIN)
        for target, action in ((challenger, "promote"), (champion, "rollback"), (challenger, "promote")):
            done = switch(models, models / target, action, "test", reload=reload)
            assert done.warnings == ()
            threading.Event().wait(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert len(seen) > 10
    assert all(status == 200 for status, _, _ in seen), [s for s in seen if s[0] != 200][:5]
    assert {model for _, model, _ in seen} == {champion, challenger}
    assert {topic for _, model, topic in seen if model == challenger} == {"improvement"}
    assert httpx.post(f"{url}/v1/predict", json=body).json()["model"] == challenger

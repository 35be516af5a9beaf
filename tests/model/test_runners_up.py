"""The heads' runners-up: the three most likely topics and agencies, the chosen label first.

An administrator correcting a route picks the body from the agency runners-up, so they must be real
agency codes, distinct, by falling probability, and start with the label the prediction routes by.
"""

from __future__ import annotations

import numpy as np
import pytest

from model.bundle import Bundle
from model.predictor import Predictor, best
from model.records import Label, Post, Prediction

POSTS = [
    ("Третий день батареи холодные в Березниках, УК трубку не берёт", "perm-krai"),
    ("На Гайве огромная яма на дороге, третью неделю никто не чинит!!!", "perm-krai"),
    ("В поликлинике в Соликамске нет педиатра, ребёнка некому посмотреть", "perm-krai"),
    ("За гаражами стихийная свалка, мусор горит и воняет на весь район", "perm-krai"),
    ("В Екатеринбурге на Уралмаше автобус 50 не ходит с утра, люди мёрзнут на остановке", "sverdlovsk-oblast"),
    ("С днём рождения, сестрёнка! 🎂", None),  # not a complaint: the heads still rank
]


@pytest.fixture(scope="module")
def predictions(predictor: Predictor) -> list[Prediction]:
    posts = [Post(id=str(i), text=text, region=region) for i, (text, region) in enumerate(POSTS)]
    return predictor.predict(posts, explain=False)


@pytest.mark.parametrize("head", ["topic", "agency"])
def test_top_is_three_known_distinct_codes_by_falling_probability_label_first(
    predictions: list[Prediction], bundle: Bundle, head: str
) -> None:
    known = set(bundle.meta["labels"]["topics" if head == "topic" else "agencies"])
    for p in predictions:
        label = getattr(p, head)
        codes = [code for code, _ in label.top]
        scores = [score for _, score in label.top]
        assert len(codes) == 3 and len(set(codes)) == 3, (p.id, label.top)
        assert set(codes) <= known, (p.id, codes)
        assert scores == sorted(scores, reverse=True) and scores[-1] >= 0 and sum(scores) <= 1 + 1e-9
        assert label.top[0] == (label.label, label.score), (p.id, label)


def test_the_body_names_the_first_runner_up(predictions: list[Prediction], bundle: Bundle) -> None:
    perm = bundle.regions["perm-krai"]
    heating = predictions[0]
    assert heating.agency.label == "housing_inspection"
    assert heating.agency.top[0][0] == "housing_inspection"
    assert heating.body == perm.body_name(heating.agency.top[0][0], None)


def test_to_json_carries_the_agency_top_like_the_topic_s(predictions: list[Prediction]) -> None:
    for p in predictions:
        wire = p.to_json()
        assert wire["agency"]["top"] == [[code, round(score, 4)] for code, score in p.agency.top]
        assert wire["topic"]["top"] == [[code, round(score, 4)] for code, score in p.topic.top]
        assert wire["agency"]["top"][0][0] == wire["agency"]["label"]


@pytest.mark.parametrize(
    ("proba", "top"),
    [
        ([0.1, 0.6, 0.3], [("b", 0.6), ("c", 0.3), ("a", 0.1)]),
        # ties keep class order, as argmax does (the explanation and the jurisdiction use argmax)
        ([0.3, 0.3, 0.3, 0.1], [("a", 0.3), ("b", 0.3), ("c", 0.3)]),
        ([0.2, 0.8], [("b", 0.8), ("a", 0.2)]),  # fewer classes than places
    ],
)
def test_best_ranks_like_argmax(proba: list[float], top: list[tuple[str, float]]) -> None:
    classes = np.array(list("abcd"[: len(proba)]))
    label = best(classes, np.array(proba))
    assert list(label.top) == top
    assert (label.label, label.score) == top[0]
    assert label.label == classes[int(np.argmax(proba))]


def test_a_label_without_runners_up_is_its_own_top() -> None:
    """Predictions made elsewhere (fakes, older code) still give `scores` one shape."""
    assert Label("municipality", 0.77123).top_json() == [["municipality", 0.7712]]

"""The golden path with the real model: raw posts in, a routed incident and a feedback label out."""

from __future__ import annotations

from model.predictor import Predictor
from model.records import Post
from model.region import Region
from serving.store import ManualClock, decide, export_feedback, get_incident, ingest_posts
from serving.store.monitoring import predict_fn, rules_fn
from tests.serving.store.conftest import Db, post

HOT_WATER = "Третий день нет горячей воды на Гайве!!! Управляющая компания трубку не берет"
AD = "Продаю батареи отопления чугунные, самовывоз"
CHATTER = "Доброе утро всем, кто уже проснулся"


def test_rules_fn_names_the_matching_monitoring_rules(predictor: Predictor) -> None:
    found = rules_fn(predictor)([Post("1", HOT_WATER), Post("2", CHATTER)])
    assert "housing-water" in [rule.id for rule in found[0]]
    assert list(found[1]) == []


def test_from_raw_posts_to_a_routed_incident_and_a_feedback_label(
    db: Db, predictor: Predictor, clock: ManualClock, regions: dict[str, Region]
) -> None:
    batch = [post("-1_1", HOT_WATER), post("-1_2", AD), post("-1_3", CHATTER)]
    with db.session() as s:
        result = ingest_posts(s, batch, predict_fn(predictor), rules_fn(predictor), clock, regions)
    assert len(result.created) == 3
    (registration,) = result.incidents  # the ad matches a rule but is not a complaint; the chatter matches none
    assert registration.post.external_id == "-1_1"
    assert db.count("predictions") == 2

    with db.session() as s:
        incident = get_incident(s, registration.incident_id, clock)
        assert incident.bundle_id == predictor.bundle.id
        assert (incident.suggested.topic, incident.suggested.agency) == ("housing", "housing_inspection")
        assert incident.suggested.municipality == "57701000"  # Гайва is a district of Пермь
        assert incident.to_json()["suggested"]["explanation"]["rules"]
        decide(s, incident.id, "accept", incident.version, "admin.perm", clock)
        (label,) = export_feedback(s)
    assert (label["text"], label["relevant"], label["topic"], label["bundle"]) == (
        HOT_WATER, True, "housing", predictor.bundle.id
    )

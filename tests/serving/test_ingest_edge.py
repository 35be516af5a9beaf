"""`serving.ingest`: the region of a post (given, the only one, routed by toponyms, refused), the
batch with the monitoring loop's `before_commit`, and the explanation computed only for the posts
that are registered (`Predictor.predict(explain=...)`, `serving.store.monitoring.predict_fn`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from model.bundle import Bundle
from model.predictor import Predictor
from model.records import Post
from serving.ingest import IncomingPost, UnknownPostRegion, Unroutable, ingest, resolve_regions
from serving.store import ManualClock, get_incident
from serving.store.monitoring import predict_fn, rules_fn
from serving.store.tables import PostRow, PredictionRow, UserRow
from tests.serving.store.conftest import Db, migrated_postgres, migrated_sqlite, postgres  # noqa: F401
from tests.serving.store.conftest import db as db
from tests.serving.test_incidents_api import AD, GARBAGE_EKB, HEATING, NO_PLACE, POTHOLE

T0 = datetime.fromisoformat("2026-11-28T10:00:00+05:00")


def incoming(external_id: str, text: str, region: str | None = None) -> IncomingPost:
    return IncomingPost(network="vk", external_id=external_id, text=text, published_at=T0, region=region)


def test_regions_given_routed_or_refused(predictor: Predictor) -> None:
    posts = [incoming("a", POTHOLE), incoming("b", GARBAGE_EKB), incoming("c", NO_PLACE, "sverdlovsk-oblast")]
    assert resolve_regions(predictor, posts) == ["perm-krai", "sverdlovsk-oblast", "sverdlovsk-oblast"]

    with pytest.raises(Unroutable) as unroutable:
        resolve_regions(predictor, [incoming("a", POTHOLE), incoming("-9_9", NO_PLACE)])
    assert (unroutable.value.index, unroutable.value.external_id) == (1, "-9_9")
    assert "post 1 ('-9_9')" in str(unroutable.value) and "give `region`" in str(unroutable.value)

    with pytest.raises(UnknownPostRegion) as unknown:
        resolve_regions(predictor, [incoming("x", POTHOLE, "mars")])
    assert unknown.value.index == 0
    assert str(unknown.value) == ("post 0 ('x'): unknown region 'mars'; "
                                  "known regions: kursk-oblast, perm-krai, sverdlovsk-oblast")


def test_a_post_naming_two_regions_equally_is_refused(predictor: Predictor) -> None:
    both = "Дорога Пермь — Екатеринбург вся в ямах"
    with pytest.raises(Unroutable, match=r"several regions equally \(perm-krai, sverdlovsk-oblast\)"):
        resolve_regions(predictor, [incoming("x", both)])


def test_with_one_region_every_post_goes_there(bundle: Bundle, predictor: Predictor) -> None:
    only = Predictor(replace(bundle, regions={"sverdlovsk-oblast": bundle.regions["sverdlovsk-oblast"]}),
                     predictor.lemmatizer)
    assert resolve_regions(only, [incoming("a", POTHOLE), incoming("b", NO_PLACE)]) == ["sverdlovsk-oblast"] * 2


def test_ingest_writes_before_commit_with_the_batch(db: Db, predictor: Predictor) -> None:
    clock = ManualClock(T0)
    seen: list[int] = []

    def cursor(session: Session) -> None:
        seen.append(session.scalar(select(func.count()).select_from(PostRow)) or 0)
        session.add(UserRow(name="cursor", role="ml", created_at=clock.now()))

    result = ingest(db.sessions, predictor, clock, [incoming("-1_1", POTHOLE), incoming("-1_2", AD, "perm-krai")],
                    before_commit=cursor)
    assert seen == [2] and len(result.created) == 2 and len(result.incidents) == 1
    assert (db.count("posts"), db.count("users")) == (2, 1)
    with db.session() as s:
        incident = get_incident(s, result.incidents[0].incident_id, clock)
    assert incident.region == "perm-krai" and incident.suggested.explanation["rules"]

    # an empty page still moves the cursor (the monitoring loop saves "nothing new since ...")
    empty = ingest(db.sessions, predictor, clock, [],
                   before_commit=lambda s: s.add(UserRow(name="cursor-2", role="ml", created_at=clock.now())))
    assert empty.created == () and db.count("users") == 2


def test_only_registered_posts_are_explained(db: Db, predictor: Predictor) -> None:
    posts = [Post(str(i), t, region="perm-krai") for i, t in enumerate([POTHOLE, HEATING, AD])]
    full = predictor.predict(posts)
    bare = predictor.predict(posts, explain=False)
    chosen = predictor.predict(posts, explain=lambda p: p.id == "1")
    assert [p.explanation for p in chosen] == [{}, full[1].explanation, {}]
    assert [replace(p, explanation={}) for p in chosen] == bare == [replace(p, explanation={}) for p in full]

    # a matched post the model finds irrelevant is stored with its prediction but without the explanation
    ad_like = "Продам гараж в Перми, недорого, дорога к гаражу хорошая, ям нет"
    matched = [bool(found) for found in rules_fn(predictor)([Post("0", ad_like, region="perm-krai")])]
    [prediction] = predict_fn(predictor)([Post("0", ad_like, region="perm-krai")])
    assert matched == [True] and prediction.relevant.label is False and prediction.explanation == {}
    [relevant] = predict_fn(predictor)([Post("1", POTHOLE, region="perm-krai")])
    assert relevant.explanation == full[0].explanation

    ingest(db.sessions, predictor, ManualClock(T0), [incoming("-2_1", ad_like, "perm-krai")])
    with db.session() as s:
        stored = s.scalars(select(PredictionRow.prediction)).one()
    assert stored["relevant"]["label"] is False and stored["explanation"] == {}

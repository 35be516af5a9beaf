"""Ingest: once per (network, external_id), predicted when a rule matches, registered when relevant,
near-duplicates attached, all of it surviving replays, concurrency and restarts."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from threading import Barrier
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from model.region import Region
from serving.store import ManualClock, PostKey, get_incident, ingest_posts, text_hash
from serving.store.tables import PostRow, UserRow
from tests.serving.store.conftest import (
    AD,
    CHATTER,
    FIRE,
    GARBAGE,
    HEATING,
    POTHOLE,
    SLA,
    T0,
    Db,
    FakeModel,
    post,
)


def keys(*ids: str, network: str = "vk") -> tuple[PostKey, ...]:
    return tuple(PostKey(network, i) for i in ids)


def test_new_posts_are_stored_predicted_when_matched_and_registered_when_relevant(
    db: Db, ingest: Any, model: FakeModel, clock: ManualClock
) -> None:
    batch = [post("-1_1", POTHOLE), post("-1_2", AD), post("-1_3", CHATTER), post("-1_4", HEATING)]
    result = ingest(batch)

    assert result.created == keys("-1_1", "-1_2", "-1_3", "-1_4")
    assert result.duplicates == ()
    assert [(r.post.external_id, r.attached) for r in result.incidents] == [("-1_1", False), ("-1_4", False)]
    assert model.predicted == [POTHOLE, AD, HEATING]  # no rule matched the chatter: stored as seen only
    assert (db.count("posts"), db.count("predictions"), db.count("incidents")) == (4, 3, 2)

    with db.session() as s:
        pothole = get_incident(s, result.incidents[0].incident_id, clock)
    assert (pothole.status, pothole.version, pothole.region) == ("new", 1, "perm-krai")
    assert pothole.bundle_id == "fake-bundle-1"
    assert pothole.registered_at == clock.now()
    assert pothole.deadline == clock.now() + SLA
    assert pothole.post.text == POTHOLE and pothole.post.external_id == "-1_1" and pothole.post.published_at == T0
    s_ = pothole.suggested
    assert (s_.relevant, s_.topic, s_.agency, s_.body, s_.municipality) == (
        True, "roads", "municipality", "body of municipality", "57701000"
    )
    assert s_.scores == {"relevance": 0.93, "topic": [["roads", 0.81], ["other", 0.05]],
                         "agency": [["municipality", 0.77], ["ecology_ministry", 0.04], ["digital_ministry", 0.01]]}
    assert pothole.final is None and pothole.answered_at is None and pothole.sla_met is None
    assert not pothole.overdue


def test_replaying_a_batch_creates_nothing(db: Db, ingest: Any, model: FakeModel) -> None:
    batch = [post("-1_1", POTHOLE), post("-1_2", AD), post("-1_3", CHATTER)]
    first = ingest(batch)
    counts = [db.count(t) for t in ("posts", "predictions", "incidents", "reposts")]
    predicted = len(model.predicted)

    again = ingest(batch)

    assert again.created == () and again.incidents == ()
    assert again.duplicates == first.created
    assert [db.count(t) for t in ("posts", "predictions", "incidents", "reposts")] == counts
    assert len(model.predicted) == predicted  # known posts are not even sent to the model


def test_a_partly_known_batch_stores_only_the_new_posts(ingest: Any) -> None:
    ingest([post("-1_1", POTHOLE)])
    result = ingest([post("-1_1", POTHOLE), post("-1_2", HEATING), post("-1_2", HEATING)])
    assert result.created == keys("-1_2")
    assert result.duplicates == keys("-1_1", "-1_2")  # known, then the batch's own second copy
    assert [r.post for r in result.incidents] == list(keys("-1_2"))


def test_the_same_external_id_on_two_networks_is_two_posts(ingest: Any) -> None:
    result = ingest([post("100", AD, network="vk"), post("100", AD, network="ok")])
    assert result.created == (PostKey("vk", "100"), PostKey("ok", "100"))


def test_an_always_register_rule_registers_a_post_the_model_finds_irrelevant(ingest: Any, db: Db,
                                                                            clock: ManualClock) -> None:
    result = ingest([post("-1_9", FIRE)])
    assert len(result.incidents) == 1
    with db.session() as s:
        fire = get_incident(s, result.incidents[0].incident_id, clock)
    assert fire.suggested.relevant is False and fire.suggested.topic == "safety"


def test_concurrent_batches_store_each_post_and_incident_once(db: Db, model: FakeModel, clock: ManualClock,
                                                             regions: dict[str, Region]) -> None:
    batch = [post(f"-7_{n}", f"{POTHOLE} дом {n}") for n in range(30)] + [post("-7_ad", AD)]
    workers = 6
    barrier = Barrier(workers)

    def one(shift: int) -> Any:
        mine = batch[shift:] + batch[:shift]  # the same posts in different orders
        barrier.wait()
        with db.session() as s:
            return ingest_posts(s, mine, model.predict, model.rules, clock, regions)

    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(one, range(0, workers * 5, 5)))

    created = [k for r in results for k in r.created]
    assert sorted(created) == sorted(p.key for p in batch)  # each post created by exactly one batch
    assert all(len(r.created) + len(r.duplicates) == len(batch) for r in results)
    assert sum(len(r.incidents) for r in results) == 30
    assert (db.count("posts"), db.count("incidents"), db.count("predictions")) == (31, 30, 31)


# ---- near-duplicates ------------------------------------------------------------------------

REPOST = "на гайве ОГРОМНАЯ яма на дороге третью неделю никто не чинит 😡 https://vk.cc/abc @perm_online"


def test_normalized_text_hash_ignores_case_punctuation_emoji_links_and_mentions() -> None:
    assert text_hash(REPOST) == text_hash(POTHOLE)
    assert text_hash(REPOST) == text_hash(POTHOLE + " https://t.me/x @someone")
    assert text_hash(POTHOLE) != text_hash(POTHOLE.replace("Гайве", "Висиме"))


@pytest.mark.parametrize(
    ("delay", "region", "attached"),
    [
        (timedelta(hours=3), "perm-krai", True),
        (timedelta(hours=47, minutes=59), "perm-krai", True),
        (-timedelta(hours=10), "perm-krai", True),  # the repost arrives first in a later batch: still the same
        (timedelta(hours=48, minutes=1), "perm-krai", False),
        (timedelta(hours=3), "sverdlovsk-oblast", False),
    ],
)
def test_a_near_duplicate_repost_attaches_to_the_open_incident(
    db: Db, ingest: Any, clock: ManualClock, delay: timedelta, region: str, attached: bool
) -> None:
    original = ingest([post("-1_1", POTHOLE)]).incidents[0]
    clock.advance(timedelta(hours=1))

    result = ingest([post("-2_5", REPOST, published_at=T0 + delay, region=region)])

    assert result.created == keys("-2_5")
    (registration,) = result.incidents
    assert registration.attached is attached
    assert (registration.incident_id == original.incident_id) is attached
    assert db.count("incidents") == (1 if attached else 2)
    assert db.count("reposts") == (1 if attached else 0)


def test_near_duplicates_within_one_batch_open_one_incident(db: Db, ingest: Any) -> None:
    result = ingest([post("-1_1", POTHOLE), post("-3_1", REPOST, published_at=T0 + timedelta(minutes=5))])
    first, second = result.incidents
    assert (first.attached, second.attached) == (False, True)
    assert second.incident_id == first.incident_id
    assert (db.count("incidents"), db.count("reposts")) == (1, 1)


# ---- bad input and restarts -----------------------------------------------------------------

@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"network": "myspace"}, "network must be one of"),
        ({"region": "moscow"}, "unknown region 'moscow'; known: kursk-oblast, perm-krai, sverdlovsk-oblast"),
        ({"published_at": T0.replace(tzinfo=None)}, "has no time zone"),
        ({"text": "   "}, "text is empty"),
        ({"external_id": ""}, "external_id is empty"),
        ({"url": "https://vk.com/" + "x" * 2040}, "url has 2055 characters, the limit is 2048"),
    ],
)
def test_a_bad_post_rejects_the_whole_batch_before_anything_is_stored(
    db: Db, ingest: Any, change: dict[str, Any], message: str
) -> None:
    renamed = {("text_" if k == "text" else k): v for k, v in change.items()}
    fields = {"external_id": "-1_2", "text_": GARBAGE, **renamed}
    with pytest.raises(ValueError, match=message):
        ingest([post("-1_1", POTHOLE), post(**fields)])
    assert db.count("posts") == 0


def test_a_model_failure_stores_nothing_and_a_retry_stores_everything(db: Db, ingest: Any,
                                                                      model: FakeModel) -> None:
    batch = [post("-1_1", POTHOLE), post("-1_2", CHATTER)]
    real = model.predict
    model.predict = lambda posts: (_ for _ in ()).throw(RuntimeError("bundle crashed"))  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        ingest(batch)
    assert db.count("posts") == 0
    model.predict = real  # type: ignore[method-assign]
    assert ingest(batch).created == keys("-1_1", "-1_2")


def test_the_store_survives_a_restart_with_every_deadline_intact(db: Db, ingest: Any, clock: ManualClock) -> None:
    registered = []
    for hour in range(3):
        registered += ingest([post(f"-4_{hour}", f"{POTHOLE} подъезд {hour}")]).incidents
        clock.advance(timedelta(hours=1, microseconds=123))
    with db.session() as s:
        before = {r.incident_id: get_incident(s, r.incident_id, clock) for r in registered}

    db.reopen()

    with db.session() as s:
        after = {i: get_incident(s, i, clock) for i in before}
    assert after == before
    for incident in after.values():
        assert incident.deadline.utcoffset() == timedelta(0)
        assert incident.deadline - incident.registered_at == SLA
    assert ingest([post("-4_0", POTHOLE)]).duplicates == keys("-4_0")  # and still knows its posts


def test_before_commit_writes_in_the_batch_transaction(
    db: Db, model: FakeModel, clock: ManualClock, regions: dict[str, Region]
) -> None:
    """The monitoring loop keeps its source cursor this way: stored with the posts or not at all."""

    def cursor(name: str, fail: bool = False) -> Any:
        def write(session: Session) -> None:
            assert session.scalar(select(func.count()).select_from(PostRow)) == 1  # the batch, not yet committed
            session.add(UserRow(name=name, role="ml", created_at=clock.now()))
            session.flush()
            if fail:
                raise RuntimeError("cursor write failed")

        return write

    with db.session() as s, pytest.raises(RuntimeError, match="cursor write failed"):
        ingest_posts(s, [post("-5_1", POTHOLE)], model.predict, model.rules, clock, regions, cursor("a", fail=True))
    assert (db.count("posts"), db.count("incidents"), db.count("users")) == (0, 0, 0)

    with db.session() as s:
        result = ingest_posts(s, [post("-5_1", POTHOLE)], model.predict, model.rules, clock, regions, cursor("b"))
    assert result.created == keys("-5_1")
    assert (db.count("posts"), db.count("incidents"), db.count("users")) == (1, 1, 1)

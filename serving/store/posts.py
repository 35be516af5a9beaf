"""Ingest: each post stored once, matched against the monitoring rules, predicted, and registered as an
incident (or attached to the incident of its near-duplicate).

A batch is one transaction: after a crash either all of its posts, predictions and incidents are
stored or none are, and a replay stores whatever is missing. The model runs before the transaction
so that the database is not locked while it thinks.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Insert, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from model.matcher import Rule
from model.normalize import PLACEHOLDERS, normalize
from model.records import NETWORKS, Post, Prediction
from model.region import Region
from serving.store.clock import Clock, aware
from serving.store.tables import IncidentRow, PostRow, PredictionRow, RepostRow

NEAR_DUPLICATE_WINDOW = timedelta(hours=48)

# The model, as ingest sees it: a batch of posts in, one answer per post out, in order.
PredictFn = Callable[[Sequence[Post]], Sequence[Prediction]]
RulesFn = Callable[[Sequence[Post]], Sequence[Sequence[Rule]]]  # the monitoring rules each post matches

_WORD = re.compile(r"\w+")
_CHUNK = 500  # keys per `IN (...)` lookup


@dataclass(frozen=True)
class NetworkPost:
    """A post as received; `region` must already be resolved (the edge defaults or routes it)."""

    network: str
    external_id: str
    text: str
    published_at: datetime
    region: str
    url: str | None = None
    author: str | None = None
    raw: dict[str, Any] | None = None

    @property
    def key(self) -> PostKey:
        return PostKey(self.network, self.external_id)


@dataclass(frozen=True, order=True)
class PostKey:
    network: str
    external_id: str


@dataclass(frozen=True)
class Registration:
    """A post that became an incident (`attached=False`) or joined the incident of its near-duplicate."""

    post: PostKey
    incident_id: int
    attached: bool = False


@dataclass(frozen=True)
class IngestResult:
    created: tuple[PostKey, ...] = ()
    duplicates: tuple[PostKey, ...] = ()
    incidents: tuple[Registration, ...] = field(default=())


def text_hash(text: str) -> str:
    """The same for reposts that differ only in case, spacing, punctuation, emoji, links and mentions."""
    s = normalize(text)
    for placeholder in PLACEHOLDERS:
        s = s.replace(placeholder, " ")
    return hashlib.sha256(" ".join(_WORD.findall(s)).encode()).hexdigest()


def registers(prediction: Prediction, rules: Iterable[Rule]) -> bool:
    """Whether a predicted post becomes an incident: the model finds it relevant, or a rule it
    matched is marked always-register."""
    return bool(prediction.relevant.label) or any(r.always_register for r in rules)


def ingest_posts(
    session: Session,
    posts: Sequence[NetworkPost],
    predict_fn: PredictFn,
    rules_fn: RulesFn,
    clock: Clock,
    regions: Mapping[str, Region],
    before_commit: Callable[[Session], None] | None = None,
) -> IngestResult:
    """Store each post once (idempotent on network and external id, also under concurrent batches),
    predict the ones the rules match, register the relevant ones (or those an always-register rule
    matched) with deadline = now + the region's SLA, attach near-duplicate reposts. Commits.

    `before_commit(session)` runs last inside the batch's transaction: what it writes (a source's
    cursor, say) is committed or rolled back together with the posts."""
    for i, post in enumerate(posts):
        _check(post, i, regions)
    first: dict[PostKey, NetworkPost] = {}
    for post in posts:
        first.setdefault(post.key, post)
    stored = _existing(session, list(first))
    fresh = [p for p in first.values() if p.key not in stored]
    session.rollback()  # the look-up must not hold a snapshot while the model runs

    model_posts = [Post(id=str(i), text=p.text, network=p.network, region=p.region) for i, p in enumerate(fresh)]
    rules = rules_fn(model_posts) if fresh else []
    matched = [i for i, found in enumerate(rules) if found]
    predictions = dict(zip(matched, predict_fn([model_posts[i] for i in matched]) if matched else [], strict=True))
    register = {i for i, pred in predictions.items() if registers(pred, rules[i])}

    now = clock.now()
    hashes = [text_hash(p.text) for p in fresh]
    try:
        ids = _insert_posts(session, fresh, hashes, now)
        predicted = [
            {"post_id": ids[fresh[i].key], "bundle_id": pred.model, "prediction": pred.to_json(), "created_at": now}
            for i, pred in predictions.items()
            if fresh[i].key in ids  # not a post a concurrent batch stored first
        ]
        if predicted:
            session.execute(insert(PredictionRow), predicted)
        registrations = _register(session, fresh, hashes, ids, predictions, register, now, regions)
        if before_commit is not None:
            before_commit(session)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    created = tuple(p.key for p in fresh if p.key in ids)
    new = set(created)
    # A post that is in the batch twice, already stored, or stored by a concurrent batch just now.
    duplicates: list[PostKey] = []
    seen: set[PostKey] = set()
    for post in posts:
        if post.key in seen or post.key not in new:
            duplicates.append(post.key)
        seen.add(post.key)
    return IngestResult(created=created, duplicates=tuple(duplicates), incidents=tuple(registrations))


def _check(post: NetworkPost, index: int, regions: Mapping[str, Region]) -> None:
    where = f"post {index} ({post.network} {post.external_id!r})"
    if post.network not in NETWORKS:
        raise ValueError(f"{where}: network must be one of {', '.join(NETWORKS)}")
    if not post.external_id:
        raise ValueError(f"{where}: external_id is empty")
    for name, limit in (("external_id", 128), ("author", 256), ("url", 2048)):
        value = getattr(post, name)
        if value is not None and len(value) > limit:
            raise ValueError(f"{where}: {name} has {len(value)} characters, the limit is {limit}")
    if not post.text.strip():
        raise ValueError(f"{where}: text is empty")
    if post.region not in regions:
        raise ValueError(f"{where}: unknown region {post.region!r}; known: {', '.join(sorted(regions))}")
    try:
        aware(post.published_at)
    except ValueError as exc:
        raise ValueError(f"{where}: published_at {exc}") from None


def _existing(session: Session, keys: list[PostKey]) -> set[PostKey]:
    by_network: dict[str, list[str]] = defaultdict(list)
    for key in keys:
        by_network[key.network].append(key.external_id)
    found: set[PostKey] = set()
    for network, external_ids in by_network.items():
        for start in range(0, len(external_ids), _CHUNK):
            rows = session.execute(
                select(PostRow.external_id).where(
                    PostRow.network == network, PostRow.external_id.in_(external_ids[start : start + _CHUNK])
                )
            )
            found.update(PostKey(network, external_id) for (external_id,) in rows)
    return found


def _insert_posts(
    session: Session, fresh: list[NetworkPost], hashes: list[str], now: datetime
) -> dict[PostKey, int]:
    """Insert what is not there yet; the ids of the rows this call inserted. Key order keeps two
    concurrent batches from locking the same keys in opposite orders (a deadlock on PostgreSQL)."""
    if not fresh:
        return {}
    rows = sorted(
        (
            {
                "network": p.network,
                "external_id": p.external_id,
                "author": p.author,
                "url": p.url,
                "text": p.text,
                "published_at": p.published_at,
                "raw": p.raw,
                "region": p.region,
                "text_hash": h,
                "created_at": now,
            }
            for p, h in zip(fresh, hashes, strict=True)
        ),
        key=lambda r: (r["network"], r["external_id"]),
    )
    stmt = _insert_ignoring_duplicates(session).returning(PostRow.id, PostRow.network, PostRow.external_id)
    return {PostKey(network, external_id): post_id for post_id, network, external_id in session.execute(stmt, rows)}


def _insert_ignoring_duplicates(session: Session) -> Insert:
    """INSERT … ON CONFLICT (network, external_id) DO NOTHING on either database."""
    dialect = session.get_bind().dialect.name
    keys = ["network", "external_id"]
    if dialect == "postgresql":
        return postgresql.insert(PostRow).on_conflict_do_nothing(index_elements=keys)
    if dialect == "sqlite":
        return sqlite.insert(PostRow).on_conflict_do_nothing(index_elements=keys)
    raise ValueError(f"the store supports SQLite and PostgreSQL, not {dialect}")


@dataclass
class _Open:
    """An incident a near-duplicate can attach to: already stored (`id`) or opened by this batch (`index`)."""

    region: str
    published_at: datetime
    id: int | None = None
    index: int | None = None


def _register(
    session: Session,
    fresh: list[NetworkPost],
    hashes: list[str],
    ids: dict[PostKey, int],
    predictions: Mapping[int, Prediction],
    register: set[int],
    now: datetime,
    regions: Mapping[str, Region],
) -> list[Registration]:
    mine = [i for i, p in enumerate(fresh) if p.key in ids]
    if not mine:
        return []
    candidates = _open_incidents(session, {hashes[i] for i in mine})
    attach: dict[int, _Open] = {}  # post index -> the incident it joins
    opened: list[int] = []
    for i in mine:
        post = fresh[i]
        target = next(
            (
                c
                for c in candidates[hashes[i]]
                if c.region == post.region and abs(c.published_at - post.published_at) <= NEAR_DUPLICATE_WINDOW
            ),
            None,
        )
        if target is not None:
            attach[i] = target
        elif i in register:
            opened.append(i)
            candidates[hashes[i]].append(_Open(post.region, post.published_at, index=i))

    incident_ids: dict[int, int] = {}
    if opened:
        rows = [
            _incident_row(ids[fresh[i].key], fresh[i].region, predictions[i], now, regions[fresh[i].region])
            for i in opened
        ]
        result = session.execute(insert(IncidentRow).returning(IncidentRow.id, IncidentRow.post_id), rows)
        by_post = {post_id: incident_id for incident_id, post_id in result}
        incident_ids = {i: by_post[ids[fresh[i].key]] for i in opened}
    reposts = {i: t.id if t.id is not None else incident_ids[t.index or 0] for i, t in attach.items()}
    if reposts:
        session.execute(
            insert(RepostRow),
            [
                {"post_id": ids[fresh[i].key], "incident_id": incident, "attached_at": now}
                for i, incident in reposts.items()
            ],
        )
    out = [Registration(fresh[i].key, incident_ids[i]) for i in opened]
    out += [Registration(fresh[i].key, incident, attached=True) for i, incident in reposts.items()]
    order = {fresh[i].key: n for n, i in enumerate(mine)}
    return sorted(out, key=lambda r: order[r.post])


def _open_incidents(session: Session, hashes: set[str]) -> defaultdict[str, list[_Open]]:
    """Stored incidents whose original post has one of `hashes`, oldest first."""
    found: defaultdict[str, list[_Open]] = defaultdict(list)
    ordered = sorted(hashes)
    for start in range(0, len(ordered), _CHUNK):
        rows = session.execute(
            select(IncidentRow.id, PostRow.text_hash, PostRow.region, PostRow.published_at)
            .join(PostRow, PostRow.id == IncidentRow.post_id)
            .where(PostRow.text_hash.in_(ordered[start : start + _CHUNK]))
            .order_by(IncidentRow.id)
        )
        for incident_id, h, region, published_at in rows:
            found[h].append(_Open(region, published_at, id=incident_id))
    return found


def _incident_row(post_id: int, region: str, p: Prediction, now: datetime, directory: Region) -> dict[str, Any]:
    relevance = p.relevant.score if p.relevant.label else 1 - p.relevant.score
    municipality = p.municipality.oktmo if p.municipality else None
    return {
        "post_id": post_id,
        "version": 1,
        "status": "new",
        "region": region,
        "registered_at": now,
        "registered_day": now.astimezone(ZoneInfo(directory.timezone)).date(),  # the day statistics count it on
        "deadline": now + timedelta(hours=directory.sla_hours),
        "suggested_relevant": bool(p.relevant.label),
        "suggested_topic": p.topic.label,
        "suggested_agency": p.agency.label,
        "suggested_body": p.body,
        "suggested_municipality": municipality,
        "scores": {
            "relevance": round(p.relevant.score, 4),
            # [[code, score], ...]: the suggestion, then its runners-up (migration 0007 gave older incidents this shape)
            "topic": p.topic.top_json(),
            "agency": p.agency.top_json(),
        },
        "needs_review": p.needs_review,
        # the least confident head decides how uncertain the whole suggestion is
        "uncertainty": round(1 - min(relevance, p.topic.score, p.agency.score), 6),
        "explanation": p.explanation,
        "topic": p.topic.label,
        "agency": p.agency.label,
        "municipality": municipality,
        "bundle_id": p.model,
    }

"""The ingest edge shared by `POST /v1/posts`, `otklik ingest` and the monitoring loop: posts as they
arrive (the region maybe missing) in, stored, predicted and registered posts out.

It resolves each post's region — given, the only configured one, or the one whose toponyms the post
names — and hands the batch to `serving.store.ingest_posts` with the predictor's rules and model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from model.doc import Doc, analyze
from model.predictor import Predictor, UnknownRegion
from serving.store import Clock, IngestResult, NetworkPost, ingest_posts
from serving.store.monitoring import predict_fn, rules_fn


@dataclass(frozen=True)
class IncomingPost:
    """A post as a source gives it; `region` None: the only configured region, or routed by toponyms."""

    network: str
    external_id: str
    text: str
    published_at: datetime
    url: str | None = None
    author: str | None = None
    region: str | None = None
    raw: dict[str, Any] | None = None


class Unroutable(ValueError):
    """A post without a region that no configured region's toponyms (or several equally) name."""

    def __init__(self, index: int, external_id: str, candidates: Sequence[str] = ()) -> None:
        why = (
            f"it names places in several regions equally ({', '.join(candidates)})"
            if candidates
            else "no configured region's place names occur in it"
        )
        super().__init__(f"post {index} ({external_id!r}) has no region and cannot be routed: {why}; give `region`")
        self.index = index
        self.external_id = external_id
        self.candidates = tuple(candidates)


class UnknownPostRegion(UnknownRegion):
    """A post names a region the model does not know; says which post."""

    def __init__(self, index: int, external_id: str, region: str, known: Sequence[str]) -> None:
        super().__init__(region, known)
        self.args = (f"post {index} ({external_id!r}): {self.args[0]}",)
        self.index = index
        self.external_id = external_id


def resolve_regions(predictor: Predictor, posts: Sequence[IncomingPost]) -> list[str]:
    """The region of each post. Raises UnknownPostRegion or Unroutable for the first post that has none."""
    known = predictor.regions
    out: dict[int, str] = {}
    for i, post in enumerate(posts):
        if post.region is not None and post.region not in known:
            raise UnknownPostRegion(i, post.external_id, post.region, known)
        if post.region is not None or len(known) == 1:
            out[i] = post.region or known[0]
    missing = [i for i in range(len(posts)) if i not in out]
    if missing:
        docs = analyze([posts[i].text for i in missing], predictor.lemmatizer)
        for i, doc in zip(missing, docs, strict=True):
            out[i] = _route(predictor, i, posts[i], doc)
    return [out[i] for i in range(len(posts))]


def _route(predictor: Predictor, index: int, post: IncomingPost, doc: Doc) -> str:
    """The region whose municipality the post names most often; a tie or no mention is Unroutable."""
    mentions: dict[str, int] = {}
    for code, gazetteer in predictor.gazetteers.items():
        place = gazetteer.find(doc, post.text)
        if place is not None:
            mentions[code] = len(place.spans)
    if not mentions:
        raise Unroutable(index, post.external_id)
    most = max(mentions.values())
    best = sorted(code for code, n in mentions.items() if n == most)
    if len(best) > 1:
        raise Unroutable(index, post.external_id, best)
    return best[0]


def ingest(
    sessions: sessionmaker[Session],
    predictor: Predictor,
    clock: Clock,
    posts: Sequence[IncomingPost],
    before_commit: Callable[[Session], None] | None = None,
) -> IngestResult:
    """Store, predict and register one batch in one transaction; `before_commit(session)` writes
    with it (the monitoring loop's source cursor). Raises ValueError (Unroutable, UnknownPostRegion,
    or the store's check of a field) naming the post; then nothing of the batch is stored."""
    regions = resolve_regions(predictor, posts)
    network_posts = [  # the same fields, the region now resolved
        NetworkPost(**{**vars(p), "region": region}) for p, region in zip(posts, regions, strict=True)
    ]
    with sessions() as session:
        return ingest_posts(
            session,
            network_posts,
            predict_fn(predictor),
            rules_fn(predictor),
            clock,
            predictor.bundle.regions,
            before_commit=before_commit,
        )

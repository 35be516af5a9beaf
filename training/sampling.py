"""Active learning: which posts people should label next, chosen by uncertainty and diversity.

The most uncertain posts tend to be near-copies of one confusing kind; labelling forty of them teaches
the model one thing. So a pool of the most uncertain posts (`pool` times the sample size) is clustered
on the model's own post vectors (reduced by SVD, then k-means with one cluster per wanted post), and
each cluster gives its most uncertain post: every kind of confusion in the pool gets a label.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.cluster import KMeans
from sklearn.decomposition import TruncatedSVD
from sklearn.preprocessing import normalize

from model.doc import analyze
from model.predictor import Predictor
from model.records import Post, Prediction
from training.evaluate import BATCH

SVD_DIMENSIONS = 64


@dataclass(frozen=True)
class Choice:
    post: Post
    prediction: Prediction
    uncertainty: float
    cluster: int

    def to_json(self) -> dict[str, Any]:
        """A corpus row with empty labels, the model's suggestions beside them."""
        p = self.prediction
        return {
            "id": self.post.id,
            "text": self.post.text,
            "network": self.post.network,
            "relevant": None,
            "topic": None,
            "agency": None,
            "municipality": None,
            "split": "train",
            "suggested": {
                "relevant": bool(p.relevant.label),
                "relevant_score": round(p.relevant.score, 4),
                "topic": [[code, round(score, 4)] for code, score in p.topic.top],
                "agency": p.agency.label,
                "agency_score": round(p.agency.score, 4),
                "municipality": p.municipality.oktmo if p.municipality else None,
                "model": p.model,
            },
            "uncertainty": round(self.uncertainty, 4),
            "cluster": self.cluster,
        }


def uncertainty(p: Prediction) -> float:
    """1 - the confidence of the least sure head that matters: all three for a complaint (as in the
    triage queue's order), relevance alone for a post the model dismisses (its topic is moot)."""
    relevance = p.relevant.score if p.relevant.label else 1 - p.relevant.score
    return 1 - (min(relevance, p.topic.score, p.agency.score) if p.relevant.label else relevance)


def vectors(predictor: Predictor, posts: Sequence[Post]) -> np.ndarray:
    """The posts as the model sees them (its featurizer), L2-normalized and reduced to a few dimensions."""
    X = predictor.bundle.classifier.featurizer.transform(analyze([p.text for p in posts], predictor.lemmatizer))
    dims = min(SVD_DIMENSIONS, X.shape[0] - 1, X.shape[1] - 1)
    if dims < 2:
        return np.asarray(normalize(X).todense())
    reduced = TruncatedSVD(n_components=dims, random_state=0).fit_transform(X)
    return np.asarray(normalize(reduced))


def sample(predictor: Predictor, posts: Sequence[Post], n: int, pool: int = 5, seed: int = 0) -> list[Choice]:
    """Up to `n` posts to label, most uncertain first; see the module doc for how they are chosen."""
    if n < 1:
        raise ValueError(f"the sample size must be at least 1, got {n}")
    preds = [q for start in range(0, len(posts), BATCH)
             for q in predictor.predict(posts[start : start + BATCH], explain=False)]
    scored = sorted(zip(posts, preds, (uncertainty(q) for q in preds), strict=True), key=lambda t: (-t[2], t[0].id))
    candidates = scored[: n * pool]
    if len(candidates) <= n:
        return [Choice(p, q, u, i) for i, (p, q, u) in enumerate(candidates)]
    labels = KMeans(n_clusters=n, n_init=3, random_state=seed).fit_predict(
        vectors(predictor, [p for p, _, _ in candidates])
    )
    chosen: dict[int, Choice] = {}
    for (p, q, u), cluster in zip(candidates, labels, strict=True):  # most uncertain first
        chosen.setdefault(int(cluster), Choice(p, q, u, int(cluster)))
    return sorted(chosen.values(), key=lambda c: (-c.uncertainty, c.post.id))

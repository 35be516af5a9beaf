"""Posts in, predictions out: the one code path behind `otklik predict` and `POST /v1/predict`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from model.bundle import Bundle
from model.doc import analyze
from model.jurisdiction import Jurisdiction
from model.lemma import Lemmatizer
from model.matcher import Matcher
from model.records import Label, Post, Prediction
from model.toponyms import Gazetteer

# Long posts (VK allows 16,384 characters) are scored on their first SCORED_CHARS characters, cut at a
# word boundary: the grievance of a long appeal is nearly always stated by then, and the cost of
# analysis grows with the length. The explanation says when a prefix was scored.
SCORED_CHARS = 4000


def scored_text(text: str) -> str:
    """The part of a post the model reads: all of it, or its first SCORED_CHARS characters."""
    if len(text) <= SCORED_CHARS:
        return text
    cut = text[:SCORED_CHARS]
    space = cut.rfind(" ", SCORED_CHARS - 200)
    return cut[:space] if space > 0 else cut


class UnknownRegion(ValueError):
    def __init__(self, region: str, known: Sequence[str]) -> None:
        super().__init__(f"unknown region {region!r}; known regions: {', '.join(known)}")
        self.region = region
        self.known = tuple(known)


def best(classes: np.ndarray, proba: np.ndarray, k: int = 3) -> Label:
    """The most probable class, with the `k` most probable (it first) as the runners-up."""
    order = np.argsort(-proba, kind="stable")[:k]
    return Label(
        label=str(classes[order[0]]),
        score=float(proba[order[0]]),
        top=tuple((str(classes[j]), float(proba[j])) for j in order),
    )


class Predictor:
    """Everything prediction needs, built once from a bundle; `predict` takes a batch."""

    def __init__(self, bundle: Bundle, lemmatizer: Lemmatizer | None = None) -> None:
        self.bundle = bundle
        self.lemmatizer = lemmatizer or Lemmatizer()
        self.matcher = Matcher(bundle.rules, self.lemmatizer)
        self.gazetteers = {code: Gazetteer(r, self.lemmatizer) for code, r in bundle.regions.items()}
        self.jurisdictions = {code: Jurisdiction(r, self.lemmatizer) for code, r in bundle.regions.items()}
        thresholds: Mapping[str, Any] = bundle.meta["thresholds"]
        self.relevance_threshold = float(thresholds["relevance"])
        self.review = {head: float(thresholds["review"][head]) for head in ("relevance", "topic", "agency")}
        self.default_region = str(bundle.meta.get("default_region") or sorted(bundle.regions)[0])
        self.rule_topic = {rule.id: rule.topic for rule in bundle.rules if rule.topic}

    @property
    def regions(self) -> tuple[str, ...]:
        return tuple(sorted(self.bundle.regions))

    def region_of(self, post: Post) -> str:
        code = post.region or self.default_region
        if code not in self.bundle.regions:
            raise UnknownRegion(code, self.regions)
        return code

    def predict(self, posts: Sequence[Post], explain: bool | Callable[[Prediction], bool] = True) -> list[Prediction]:
        """`explain`: True, False, or which predictions (made without it) get the explanation — it
        costs a third of the time, and ingest needs it only for the posts it registers."""
        if not posts:
            return []
        region_codes = [self.region_of(p) for p in posts]
        texts = [scored_text(p.text) for p in posts]
        docs = analyze(texts, self.lemmatizer)
        clf = self.bundle.classifier
        matches = self.matcher.match(docs)
        rule_topics = [
            frozenset(self.rule_topic[m.rule_id] for m in found if m.rule_id in self.rule_topic) for found in matches
        ]
        scores = clf.scores(docs, rule_topics, [self.jurisdictions[c] for c in region_codes])
        out: list[Prediction] = []
        topic_classes = clf.topic.classes_
        agency_classes = clf.agency.classes_
        for i, post in enumerate(posts):
            region = self.bundle.regions[region_codes[i]]
            p_rel = float(scores.relevance[i])
            relevant = p_rel >= self.relevance_threshold
            topic = best(topic_classes, scores.topic[i])
            agency = best(agency_classes, scores.agency[i])
            place = self.gazetteers[region_codes[i]].find(docs[i], texts[i])
            # relevance: a score near the decision threshold; topic, agency: a low top probability
            needs_review = abs(p_rel - self.relevance_threshold) < self.review["relevance"] or (
                relevant and (topic.score < self.review["topic"] or agency.score < self.review["agency"])
            )
            rule_ids = tuple(m.rule_id for m in matches[i])
            prediction = Prediction(
                id=post.id,
                relevant=Label(label=relevant, score=p_rel),
                topic=topic,
                agency=agency,
                body=region.body_name(agency.label, place.oktmo if place else None),
                municipality=place,
                rules=rule_ids,
                needs_review=bool(needs_review),
                model=self.bundle.id,
            )
            if explain if isinstance(explain, bool) else explain(prediction):
                explanation: dict[str, Any] = dict(clf.explain(scores, i, relevant))
                explanation["rules"] = [
                    {"id": m.rule_id, "spans": [list(s) for s in m.spans]} for m in matches[i]
                ]
                explanation["place"] = [list(s) for s in place.spans] if place else []
                if len(texts[i]) < len(post.text):
                    explanation["scored_chars"] = len(texts[i])
                prediction = replace(prediction, explanation=explanation)
            out.append(prediction)
        return out

"""The model's side of ingest, built from a Predictor: which monitoring rules a post matches, and
the prediction itself."""

from __future__ import annotations

from collections.abc import Sequence

from model.doc import analyze
from model.matcher import Rule
from model.predictor import Predictor
from model.records import Post, Prediction
from serving.store.posts import PredictFn, RulesFn, registers


def rules_fn(predictor: Predictor) -> RulesFn:
    by_id = {rule.id: rule for rule in predictor.bundle.rules}

    def matched(posts: Sequence[Post]) -> list[list[Rule]]:
        docs = analyze([p.text for p in posts], predictor.lemmatizer)
        return [[by_id[m.rule_id] for m in found] for found in predictor.matcher.match(docs)]

    return matched


def predict_fn(predictor: Predictor) -> PredictFn:
    """Predictions with the explanation only for the posts ingest will register (it is a third of
    the model's time, and only an incident shows it)."""
    by_id = {rule.id: rule for rule in predictor.bundle.rules}

    def predict(posts: Sequence[Post]) -> list[Prediction]:
        return predictor.predict(posts, explain=lambda p: registers(p, (by_id[r] for r in p.rules)))

    return predict

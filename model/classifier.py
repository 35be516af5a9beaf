"""The three heads on one shared post vector: relevance, topic, agency.

One featurization per post serves all heads. The relevance and topic heads also see which topics'
monitoring rules matched (domain knowledge the corpus is too small to teach; in the product a post
reaches triage only through a rule), and the agency head also sees the directory's jurisdiction
(see `model.jurisdiction`) for the topic the topic head chose.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from model.doc import Doc
from model.features import CHAR_PREFIX, EMBEDDING_PREFIX, Featurizer
from model.heads import CalibratedLinear
from model.jurisdiction import Jurisdiction

# Features that mean nothing one by one are summed into one line of an explanation.
GROUPED = {EMBEDDING_PREFIX: "смысл текста (векторы слов)", CHAR_PREFIX: "написание слов (буквосочетания)"}


@dataclass(frozen=True)
class HeadScores:
    """Calibrated probabilities of one batch; columns follow each head's `classes_`."""

    relevance: np.ndarray  # (n,) probability of `relevant`
    topic: np.ndarray  # (n, n_topics)
    agency: np.ndarray  # (n, n_agencies)
    X: sp.csr_matrix  # the relevance head's input (the topic head's input + one column)
    J: np.ndarray  # the jurisdiction block of the agency head's input


class Classifier:
    """Fitted state ends in `_`; `fit` returns self. Pickled inside the bundle."""

    def __init__(
        self,
        featurizer: Featurizer,
        relevance: CalibratedLinear,
        topic: CalibratedLinear,
        agency: CalibratedLinear,
        rule_weight: float = 0.2,
        relevance_rule_weight: float = 1.0,
        prior_weight: float = 1.0,
    ) -> None:
        self.featurizer = featurizer
        self.relevance = relevance
        self.topic = topic
        self.agency = agency
        self.rule_weight = rule_weight
        self.relevance_rule_weight = relevance_rule_weight
        self.prior_weight = prior_weight

    def fit(
        self,
        docs: Sequence[Doc],
        relevant: Sequence[bool] | np.ndarray,
        topics: Sequence[str | None],
        agencies: Sequence[str | None],
        rule_topics: Sequence[frozenset[str]],
        jurisdictions: Sequence[Jurisdiction],
        topic_codes: Sequence[str],
        agency_codes: Sequence[str],
    ) -> Classifier:
        """`rule_topics[i]`: topics of the monitoring rules that matched post i; `jurisdictions[i]`:
        the directory of its region."""
        self.topic_codes_ = list(topic_codes)
        self.agency_codes_ = list(agency_codes)
        X = self._topic_input(self.featurizer.fit_transform(list(docs)), rule_topics)
        self.relevance.fit(self._relevance_input(X, rule_topics), np.asarray(relevant, dtype=bool))
        rel = [i for i, t in enumerate(topics) if t is not None]
        X_topic = X[rel]
        self.topic.fit(X_topic, np.asarray([topics[i] for i in rel]))
        # The agency head must learn from the topics it will see at prediction time: out-of-fold
        # predicted topics, not the gold ones.
        oof_topics = self.topic.classes_[self.topic.oof_proba_.argmax(axis=1)]
        J = self._jurisdiction_block([docs[i] for i in rel], list(oof_topics), [jurisdictions[i] for i in rel])
        self.agency.fit(self._agency_input(X_topic, J), np.asarray([agencies[i] for i in rel]))
        topic_names = np.concatenate(
            [self.featurizer.get_feature_names_out(), [f"правило:{t}" for t in self.topic_codes_]]
        )
        self.feature_names_ = {
            "relevance": np.concatenate([topic_names, ["сработало правило мониторинга"]]),
            "topic": topic_names,
            "agency": np.concatenate(
                [
                    topic_names,
                    [f"подведомственность:{a}" for a in self.agency_codes_],
                    [f"признак:{a}" for a in self.agency_codes_],
                ]
            ),
        }
        # per head and feature: 0, or k when the feature belongs to the k-th GROUPED family
        self.group_ids_ = {}
        for head, names in self.feature_names_.items():
            ids = np.zeros(len(names), dtype=np.int64)
            for k, prefix in enumerate(GROUPED, 1):
                ids[[str(n).startswith(prefix) for n in names]] = k
            self.group_ids_[head] = ids
        return self

    def _topic_input(self, X: sp.csr_matrix, rule_topics: Sequence[frozenset[str]]) -> sp.csr_matrix:
        index = {t: i for i, t in enumerate(self.topic_codes_)}
        R = np.zeros((X.shape[0], len(self.topic_codes_)), dtype=np.float32)
        for row, found in enumerate(rule_topics):
            for t in found:
                if t in index:
                    R[row, index[t]] = self.rule_weight
        return sp.hstack([X, sp.csr_matrix(R)], format="csr")

    def _relevance_input(self, X_topic: sp.csr_matrix, rule_topics: Sequence[frozenset[str]]) -> sp.csr_matrix:
        hit = np.asarray([[self.relevance_rule_weight if found else 0.0] for found in rule_topics], dtype=np.float32)
        return sp.hstack([X_topic, sp.csr_matrix(hit.reshape(-1, 1))], format="csr")

    def _agency_input(self, X_topic: sp.csr_matrix, J: np.ndarray) -> sp.csr_matrix:
        return sp.hstack([X_topic, sp.csr_matrix(J * self.prior_weight)], format="csr")

    def scores(
        self, docs: Sequence[Doc], rule_topics: Sequence[frozenset[str]], jurisdictions: Sequence[Jurisdiction]
    ) -> HeadScores:
        """All heads for a batch; `jurisdictions[i]` is the directory of post i's region."""
        X_topic = self._topic_input(self.featurizer.transform(list(docs)), rule_topics)
        X_rel = self._relevance_input(X_topic, rule_topics)
        p_rel = self.relevance.predict_proba(X_rel)[:, list(self.relevance.classes_).index(True)]
        p_topic = self.topic.predict_proba(X_topic)
        best_topics = self.topic.classes_[p_topic.argmax(axis=1)]
        J = self._jurisdiction_block(docs, list(best_topics), jurisdictions)
        p_agency = self.agency.predict_proba(self._agency_input(X_topic, J))
        return HeadScores(relevance=p_rel, topic=p_topic, agency=p_agency, X=X_rel, J=J)

    def _jurisdiction_block(
        self, docs: Sequence[Doc], topics: Sequence[str], jurisdictions: Sequence[Jurisdiction]
    ) -> np.ndarray:
        """Each post's directory features for its topic; posts are grouped by region so that each
        directory's cue matcher runs once per batch."""
        J = np.zeros((len(docs), 2 * len(self.agency_codes_)), dtype=np.float32)
        groups: dict[int, list[int]] = {}
        for i, jur in enumerate(jurisdictions):
            groups.setdefault(id(jur), []).append(i)
        for rows in groups.values():
            jur = jurisdictions[rows[0]]
            J[rows] = jur.features([docs[i] for i in rows], [topics[i] for i in rows], self.agency_codes_)
        return J

    def explain(self, scores: HeadScores, row: int, relevant: bool, top: int = 5) -> dict[str, list[list[Any]]]:
        """The features that pushed each head towards its decision most (grouped ones summed)."""
        X = scores.X
        lo, hi = X.indptr[row], X.indptr[row + 1]
        idx, val = X.indices[lo:hi], X.data[lo:hi]
        n_topic = X.shape[1] - 1  # the relevance input is the topic input plus one column
        in_topic = idx < n_topic
        t_idx, t_val = idx[in_topic], val[in_topic]
        j = scores.J[row] * self.prior_weight
        j_cols = np.flatnonzero(j)
        a_idx = np.concatenate([t_idx, n_topic + j_cols])
        a_val = np.concatenate([t_val, j[j_cols]])
        topic_class = int(scores.topic[row].argmax())
        agency_class = int(scores.agency[row].argmax())
        return {
            "relevance": self._top("relevance", idx, self.relevance.contributions(idx, val, int(relevant)), top),
            "topic": self._top("topic", t_idx, self.topic.contributions(t_idx, t_val, topic_class), top),
            "agency": self._top("agency", a_idx, self.agency.contributions(a_idx, a_val, agency_class), top),
        }

    def _top(self, head: str, indices: np.ndarray, pushes: np.ndarray, top: int) -> list[list[Any]]:
        groups = self.group_ids_[head][indices]
        sums = np.bincount(groups, weights=pushes, minlength=len(GROUPED) + 1)
        items = [(label, float(sums[k])) for k, label in enumerate(GROUPED.values(), 1) if sums[k] > 0]
        keep = np.flatnonzero((pushes > 0) & (groups == 0))
        if len(keep) > top:
            keep = keep[np.argpartition(-pushes[keep], top - 1)[:top]]
        names = self.feature_names_[head]
        items += [(str(names[i]), float(pushes[k])) for i, k in zip(indices[keep].tolist(), keep.tolist(), strict=True)]
        items.sort(key=lambda kv: (-kv[1], kv[0]))
        return [[name, round(value, 3)] for name, value in items[:top]]

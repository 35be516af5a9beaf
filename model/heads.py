"""A linear head with calibrated probabilities.

Logistic regression on a small corpus is over- or under-confident depending on its regularization;
a single temperature (multiclass) or a Platt pair (binary) fitted on out-of-fold scores fixes the
scale without changing the ranking, and keeps one coefficient matrix to explain decisions with.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from joblib import Parallel, delayed
from scipy.optimize import minimize_scalar
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold


def _fit(estimator: LogisticRegression, X: Any, y: np.ndarray, rows: np.ndarray) -> LogisticRegression:
    return clone(estimator).fit(X[rows], y[rows])


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


class CalibratedLinear(ClassifierMixin, BaseEstimator):
    """Logistic regression + post-hoc calibration on out-of-fold decision scores.

    After `fit`, `oof_proba_` holds calibrated out-of-fold probabilities of the training rows:
    training uses them to choose decision and review thresholds without touching test data.
    """

    def __init__(
        self,
        C: float = 10.0,
        class_weight: str | None = "balanced",
        cv: int = 5,
        max_iter: int = 3000,
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.C = C
        self.class_weight = class_weight
        self.cv = cv
        self.max_iter = max_iter
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _estimator(self) -> LogisticRegression:
        return LogisticRegression(
            C=self.C, class_weight=self.class_weight, max_iter=self.max_iter, random_state=self.random_state
        )

    def fit(self, X: Any, y: Any) -> CalibratedLinear:
        y = np.asarray(y)
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"a head needs at least two classes, got {list(self.classes_)}")
        counts = np.bincount(y_idx)
        n_splits = int(max(2, min(self.cv, counts.min())))
        folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=self.random_state)
        binary = len(self.classes_) == 2
        oof = np.zeros(len(y)) if binary else np.zeros((len(y), len(self.classes_)))
        # the folds' fits and the final fit are independent: `n_jobs` processes run them side by side
        splits = list(folds.split(np.zeros(len(y)), y_idx))
        everything = np.arange(len(y))
        fitted = Parallel(n_jobs=self.n_jobs)(
            delayed(_fit)(self._estimator(), X, y_idx, rows) for rows in [*(t for t, _ in splits), everything]
        )
        self.estimator_ = fitted[-1]
        for est, (_, val_idx) in zip(fitted, splits, strict=False):
            scores = est.decision_function(X[val_idx])
            if binary:
                oof[val_idx] = scores
            else:
                # a fold may miss a rare class: place its column at the class's global index
                full = np.full((len(val_idx), len(self.classes_)), -1e3)
                full[:, est.classes_] = scores
                oof[val_idx] = full
        if binary:
            platt = LogisticRegression(C=1e4).fit(oof.reshape(-1, 1), y_idx)
            self.scale_ = float(platt.coef_[0, 0])
            self.bias_ = float(platt.intercept_[0])
        else:
            self.scale_ = 1.0 / self._temperature(oof, y_idx)
            self.bias_ = 0.0
        self.oof_proba_ = self._calibrate(oof)
        self._weights: np.ndarray | None = None
        return self

    @staticmethod
    def _temperature(logits: np.ndarray, y_idx: np.ndarray) -> float:
        def nll(log_t: float) -> float:
            p = softmax(logits / np.exp(log_t))
            return float(-np.mean(np.log(p[np.arange(len(y_idx)), y_idx] + 1e-12)))

        return float(np.exp(minimize_scalar(nll, bounds=(-3, 3), method="bounded").x))

    def _calibrate(self, scores: np.ndarray) -> np.ndarray:
        if scores.ndim == 1:
            p = _sigmoid(self.scale_ * scores + self.bias_)
            return np.column_stack([1 - p, p])
        return softmax(scores * self.scale_)

    def decision_function(self, X: Any) -> np.ndarray:
        # X @ W with W = coef_.T kept C-contiguous: sklearn's own path transposes (and scipy then
        # copies) the whole coefficient matrix on every call, which dominates one-post requests.
        W = getattr(self, "_weights", None)
        if W is None:
            W = self._weights = self._compact_weights()
        scores = np.asarray(X @ W) + self.estimator_.intercept_
        return scores.ravel() if scores.shape[1] == 1 else scores

    def _compact_weights(self) -> np.ndarray:
        """coef_.T as one C-contiguous float32 array, and coef_ made a view of it: one copy of the
        coefficients in memory (300k features x 17 classes is 40 MB in float64, twice that with a
        transposed copy), at float32 precision, which the probabilities do not notice."""
        W = np.ascontiguousarray(self.estimator_.coef_.T, dtype=np.float32)
        self.estimator_.coef_ = W.T
        return W

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.pop("_weights", None)  # derived; rebuilt on first use
        return state

    def predict_proba(self, X: Any) -> np.ndarray:
        return self._calibrate(self.decision_function(X))

    def predict(self, X: Any) -> np.ndarray:
        return np.asarray(self.classes_[self.predict_proba(X).argmax(axis=1)])

    def contributions(self, indices: np.ndarray, values: np.ndarray, class_index: int) -> np.ndarray:
        """Per-feature push of one sparse row (its column indices and values) towards `class_index`."""
        coef = self.estimator_.coef_
        if coef.shape[0] == 1:  # binary: one row of coefficients, for the positive class
            return values * (coef[0, indices] if class_index == 1 else -coef[0, indices])
        return values * coef[class_index, indices]

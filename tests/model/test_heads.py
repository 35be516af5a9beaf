from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_classification

from model.heads import CalibratedLinear


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    X, y = make_classification(n_samples=600, n_features=20, n_informative=8, n_classes=3, random_state=0)
    return X, np.asarray(["b", "c", "a"])[y]


def test_classes_order_matches_probability_columns(data: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = data
    head = CalibratedLinear(C=1.0).fit(X, y)
    assert list(head.classes_) == ["a", "b", "c"]
    proba = head.predict_proba(X)
    assert proba.shape == (600, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert (head.classes_[proba.argmax(axis=1)] == head.predict(X)).all()
    assert head.oof_proba_.shape == (600, 3)


def test_calibration_lowers_held_out_calibration_error() -> None:
    from model.heads import softmax
    from training.metrics import expected_calibration_error

    X, y = make_classification(
        n_samples=1200, n_features=40, n_informative=6, n_classes=3, flip_y=0.1, random_state=3
    )
    head = CalibratedLinear(C=1000.0).fit(X[:600], y[:600])
    raw = softmax(head.decision_function(X[600:]))
    calibrated = head.predict_proba(X[600:])

    def ece(p: np.ndarray) -> float:
        return expected_calibration_error(p.max(axis=1), p.argmax(axis=1) == y[600:])

    assert head.scale_ < 1.0  # an over-fitted model is over-confident: temperature above 1
    assert ece(calibrated) < ece(raw)


def test_binary_head_is_platt_scaled() -> None:
    X, y = make_classification(n_samples=400, n_features=10, random_state=1)
    head = CalibratedLinear(C=1.0).fit(X, y.astype(bool))
    p = head.predict_proba(X)
    assert p.shape == (400, 2)
    assert list(head.classes_) == [False, True]
    assert ((p[:, 1] >= 0.5) == head.predict(X)).all()


def test_one_class_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="at least two classes"):
        CalibratedLinear().fit(np.zeros((10, 2)), ["a"] * 10)


def test_contributions_explain_the_score() -> None:
    import scipy.sparse as sp

    X, y = make_classification(n_samples=300, n_features=6, random_state=2)
    Xs = sp.csr_matrix(X)
    head = CalibratedLinear(C=1.0).fit(Xs, y)
    row = Xs[0]
    z = head.estimator_.decision_function(row)[0] - head.estimator_.intercept_[0]
    assert head.contributions(row.indices, row.data, 1).sum() == pytest.approx(z)
    assert head.contributions(row.indices, row.data, 0).sum() == pytest.approx(-z)

"""The estimators' prediction fast path (fastbp/estimators/base.py, ``BaseMLP._forward``): input
that scikit-learn's checks would pass unchanged skips them; everything else gets those checks, with
scikit-learn's messages and warnings."""

import re
import warnings

import numpy as np
import pytest
from sklearn import neural_network
from sklearn.preprocessing import LabelBinarizer

import fastbp
from fastbp.estimators import base

from helpers import DTYPES

FIT = {"hidden_layer_sizes": (16,), "max_iter": 5, "random_state": 0}


def _fitted(module, kind, dtype, n_classes=3):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 4)).astype(dtype)
    if kind == "MLPRegressor":
        y = X @ rng.standard_normal(4)
    else:
        y = np.array(["a", "b", "c"][:n_classes])[rng.integers(0, n_classes, 60)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_iter=5 does not converge
        return getattr(module, kind)(**FIT).fit(X, y), X


def _methods(estimator):
    names = ["predict", "predict_proba"] if hasattr(estimator, "predict_proba") else ["predict"]
    return [getattr(estimator, name) for name in names]


def _refuse_sklearn_checks(monkeypatch):
    """Replace scikit-learn's ``validate_data`` by one that fails: what runs without it took the
    fast path."""
    def refuse(*args, **kwargs):
        raise AssertionError("scikit-learn's checks ran")

    monkeypatch.setattr(base, "validate_data", refuse)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["MLPClassifier", "MLPRegressor"])
def test_ready_input_skips_the_checks_and_predicts_as_the_checked_path(kind, dtype, monkeypatch):
    estimator, X = _fitted(fastbp, kind, dtype)
    # the slow path's output: a list is not an ndarray
    checked = [method(X.tolist()) for method in _methods(estimator)]
    _refuse_sklearn_checks(monkeypatch)
    fast = [method(X) for method in _methods(estimator)]
    one_row = [method(X[:1]) for method in _methods(estimator)]
    for a, b in zip(fast, checked):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    for a, b in zip(one_row, checked):
        np.testing.assert_array_equal(a[0], b[0]) if a.dtype.kind in "OUi" else \
            np.testing.assert_allclose(a[0], b[0], rtol=1e-5 if dtype == np.float32 else 1e-12)


# (input, tolerance): the same values in another layout give the same bits
@pytest.mark.parametrize("make_input, rtol", [
    (lambda X: X.astype(np.float64) if X.dtype == np.float32 else X.astype(np.float32), 1e-5),
    (lambda X: np.asfortranarray(X), 0),
    (lambda X: np.hstack([X, X])[:, :X.shape[1]], 0),
    (lambda X: X.tolist(), 0),
], ids=["other dtype", "F-order", "strided", "list"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_other_input_goes_through_sklearns_checks(make_input, rtol, dtype, monkeypatch):
    estimator, X = _fitted(fastbp, "MLPClassifier", dtype)
    expected = estimator.predict_proba(X)
    calls = []
    real = base.validate_data
    monkeypatch.setattr(base, "validate_data", lambda *a, **k: calls.append(1) or real(*a, **k))
    np.testing.assert_allclose(estimator.predict_proba(make_input(X)), expected, rtol=rtol)
    assert calls == [1]


def _sklearn_error(estimator_kind, X_bad, dtype):
    sklearn_estimator, _ = _fitted(neural_network, estimator_kind, dtype)
    with pytest.raises(ValueError) as error:
        sklearn_estimator.predict(X_bad)
    return str(error.value)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_raises_sklearns_error(bad, dtype):
    estimator, X = _fitted(fastbp, "MLPClassifier", dtype)
    X_bad = X[:3].copy()
    X_bad[1, 2] = bad
    message = _sklearn_error("MLPClassifier", X_bad, dtype)
    for method in _methods(estimator):
        with pytest.raises(ValueError, match=re.escape(message)):
            method(X_bad)


def test_wrong_width_and_empty_input_raise_sklearns_errors():
    estimator, X = _fitted(fastbp, "MLPClassifier", np.float32)
    for X_bad in (X[:, :3].copy(), X[:0]):
        message = _sklearn_error("MLPClassifier", X_bad, np.float32)
        with pytest.raises(ValueError, match=re.escape(message)):
            estimator.predict(X_bad)


def test_unfitted_raises_not_fitted():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        fastbp.MLPClassifier().predict(np.zeros((1, 4)))


def test_an_ndarray_after_a_fit_with_feature_names_takes_sklearns_checks(monkeypatch):
    estimator, X = _fitted(fastbp, "MLPClassifier", np.float64)
    _refuse_sklearn_checks(monkeypatch)
    estimator.feature_names_in_ = np.array(["p", "q", "r", "s"], dtype=object)
    with pytest.raises(AssertionError, match="scikit-learn's checks ran"):
        estimator.predict(X)  # not the fast path: scikit-learn's check would warn


def test_an_ndarray_after_a_fit_with_feature_names_gets_sklearns_warning():
    estimator, X = _fitted(fastbp, "MLPClassifier", np.float64)
    estimator.feature_names_in_ = np.array(["p", "q", "r", "s"], dtype=object)
    with pytest.warns(UserWarning, match="X does not have valid feature names, but "
                                         "MLPClassifier was fitted with feature names"):
        estimator.predict(X)


def _numpy_forward(estimator, X):
    """ReLU hidden layers and a softmax output, in NumPy from coefs_ and intercepts_."""
    a = X
    for W, b in zip(estimator.coefs_[:-1], estimator.intercepts_[:-1]):
        a = np.maximum(a @ W + b, 0)
    z = a @ estimator.coefs_[-1] + estimator.intercepts_[-1]
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_replaced_coefs_are_what_prediction_uses_next(monkeypatch):
    estimator, X = _fitted(fastbp, "MLPClassifier", np.float64)
    estimator.predict_proba(X)  # the network is bound
    estimator.coefs_ = [2 * W for W in estimator.coefs_]
    # the first call checks the new coefs_ (and X, with scikit-learn) and binds a new network
    np.testing.assert_allclose(estimator.predict_proba(X), _numpy_forward(estimator, X),
                               rtol=1e-12)
    _refuse_sklearn_checks(monkeypatch)
    estimator.coefs_[0] *= 0.5  # in place: the network's own array
    np.testing.assert_allclose(estimator.predict_proba(X), _numpy_forward(estimator, X),
                               rtol=1e-12)


@pytest.mark.parametrize("y_kind", ["multiclass", "binary", "multilabel"])
def test_labels_are_those_of_the_label_binarizer(y_kind):
    rng = np.random.default_rng(1)
    y = {"multiclass": np.array(["x", "y", "z", "w"])[rng.integers(0, 4, 50)],
         "binary": rng.choice([-3, 7], 50),
         "multilabel": rng.integers(0, 2, (50, 3))}[y_kind]
    estimator = fastbp.MLPClassifier()
    estimator._label_binarizer = LabelBinarizer().fit(y)
    estimator.n_outputs_ = estimator._label_binarizer.transform(y[:1]).shape[1]
    output = rng.uniform(0, 1, (200, estimator.n_outputs_)).astype(np.float32)
    output[:5] = 0.5  # ties: the threshold's and argmax's
    expected = estimator._label_binarizer.inverse_transform(
        output.ravel() if estimator.n_outputs_ == 1 else output)
    labels = estimator._labels(output)
    assert labels.dtype == expected.dtype
    np.testing.assert_array_equal(labels, expected)

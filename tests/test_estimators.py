"""fastbp.MLPClassifier / MLPRegressor against scikit-learn's MLPs, driven side by side.

scikit-learn is the oracle: with the same initial weights and no shuffling, both libraries run the
same arithmetic, so their weights must agree to float64 rounding. Each feature (warm_start,
partial_fit, early_stopping, sample_weight, ...) has a test that fails if it were ignored.
"""

import subprocess
import sys

import numpy as np
import pytest
from sklearn import neural_network
from sklearn.datasets import load_breast_cancer, load_iris, make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

import fastbp
from fastbp import MLPClassifier, MLPRegressor
from helpers import needs_sklearn

# Short runs on purpose: most tests stop at max_iter.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

#: float64 agreement demanded between fastbp and scikit-learn running the same arithmetic.
RTOL = 1e-8

SGD = dict(solver="sgd", momentum=0.0, shuffle=False, learning_rate_init=0.05)


def _iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _cancer(n=200):
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X)[:n], y[:n]


def _multilabel():
    X, Y = make_multilabel_classification(n_samples=120, n_features=6, n_classes=4,
                                          random_state=0)
    return StandardScaler().fit_transform(X), Y


def _regression(n=150, d=5, k=1, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    Y = np.tanh(X @ rng.standard_normal((d, k))) + 0.1 * rng.standard_normal((n, k))
    return X, (Y[:, 0] if k == 1 else Y)


def _assert_same_weights(ours, theirs, rtol=RTOL):
    assert len(ours.coefs_) == len(theirs.coefs_)
    for name in ("coefs_", "intercepts_"):
        for i, (a, b) in enumerate(zip(getattr(ours, name), getattr(theirs, name))):
            assert a.shape == b.shape, f"{name}[{i}]: shape {a.shape}, expected {b.shape}"
            scale = np.max(np.abs(b))
            error = np.max(np.abs(a - b))
            assert error <= rtol * scale, \
                f"{name}[{i}]: max|a-b| {error:.3e} > {rtol} * {scale:.3e}"

def _train_ten_iterations_from_one_start(ours, theirs, X, y):
    """Give two fitted warm-start estimators one set of starting weights, train both for 10
    iterations, and check they end with the same weights, loss curve and iteration count."""
    rng = np.random.default_rng(7)
    start = [(rng.uniform(-0.5, 0.5, W.shape), rng.uniform(-0.5, 0.5, b.shape))
             for W, b in zip(theirs.coefs_, theirs.intercepts_)]
    for est in (ours, theirs):
        est.coefs_ = [W.copy() for W, _ in start]
        est.intercepts_ = [b.copy() for _, b in start]
        est.set_params(max_iter=10).fit(X, y)
    _assert_same_weights(ours, theirs)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=RTOL)
    assert ours.n_iter_ == theirs.n_iter_ == 10
    assert not np.allclose(ours.coefs_[0], start[0][0])  # training moved the weights



def _both(cls_name, **params):
    return (getattr(fastbp, cls_name)(**params), getattr(neural_network, cls_name)(**params))


# ---- same arithmetic as scikit-learn ------------------------------------------------------------

@pytest.mark.parametrize("data", [_iris, _cancer, _multilabel], ids=["multiclass", "binary",
                                                                    "multilabel"])
def test_sgd_from_identical_weights_matches_sklearn_after_10_iterations(data):
    X, y = data()
    ours, theirs = _both("MLPClassifier", hidden_layer_sizes=(9, 7), batch_size=32, max_iter=1,
                         warm_start=True, random_state=1, **SGD)
    theirs.fit(X, y)
    ours.fit(X, y)  # both now hold fitted state; now give them one set of starting weights
    _train_ten_iterations_from_one_start(ours, theirs, X, y)


@pytest.mark.parametrize("params", [
    dict(solver="sgd", momentum=0.9, nesterovs_momentum=True, learning_rate="invscaling",
         learning_rate_init=0.2, power_t=0.3),
    dict(solver="sgd", momentum=0.5, nesterovs_momentum=False, learning_rate_init=0.02),
    dict(solver="adam", learning_rate_init=0.01),
    dict(solver="adam", activation="logistic", alpha=0.1),
    dict(solver="adam", activation="tanh", batch_size=50),
], ids=["nesterov-invscaling", "momentum", "adam", "adam-logistic-alpha", "adam-tanh"])
def test_same_random_state_gives_sklearn_initial_weights_and_training(params):
    """fastbp draws its initial weights exactly as scikit-learn does, so with shuffle=False the
    two fits are the same computation."""
    X, y = _iris()
    ours, theirs = _both("MLPClassifier", hidden_layer_sizes=(10,), max_iter=15, shuffle=False,
                         random_state=3, **params)
    _assert_same_weights(ours.fit(X, y), theirs.fit(X, y))
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=RTOL)
    assert ours.t_ == theirs.t_ == 15 * len(X)


def test_stopping_on_a_training_loss_plateau_matches_sklearn():
    X, y = _iris()
    ours, theirs = _both("MLPClassifier", hidden_layer_sizes=(8,), max_iter=500, tol=1e-3,
                         n_iter_no_change=3, random_state=0, **SGD)
    ours.fit(X, y)
    theirs.fit(X, y)
    assert 3 < ours.n_iter_ == theirs.n_iter_ < 500
    assert ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=RTOL)
    _assert_same_weights(ours, theirs)


def test_adaptive_learning_rate_matches_sklearn():
    """'adaptive' divides the rate by 5 on each plateau and stops once it is below 1e-6."""
    X, y = _iris()
    ours, theirs = _both("MLPClassifier", hidden_layer_sizes=(8,), max_iter=400, tol=1e-2,
                         n_iter_no_change=2, learning_rate="adaptive", random_state=0, **SGD)
    ours.fit(X, y)
    theirs.fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_ < 400  # stopped by the 1e-6 floor
    constant = MLPClassifier(hidden_layer_sizes=(8,), max_iter=400, tol=1e-2, n_iter_no_change=2,
                             random_state=0, **SGD).fit(X, y)
    assert constant.n_iter_ < ours.n_iter_  # 'constant' stops at the first plateau
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-7)


def test_early_stopping_matches_sklearn_and_keeps_the_best_epoch():
    X, y = _cancer(300)
    ours, theirs = _both("MLPClassifier", hidden_layer_sizes=(20,), max_iter=300,
                         early_stopping=True, validation_fraction=0.2, n_iter_no_change=5,
                         random_state=0, **SGD)
    ours.fit(X, y)
    theirs.fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_ < 300
    np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_)
    assert ours.best_validation_score_ == theirs.best_validation_score_ \
        == max(ours.validation_scores_)
    assert ours.best_loss_ is None and len(ours.validation_loss_curve_) == ours.n_iter_
    _assert_same_weights(ours, theirs)  # both restored the best epoch's weights
    last = MLPClassifier(hidden_layer_sizes=(20,), max_iter=ours.n_iter_, random_state=0,
                         **SGD).fit(X, y)
    assert not np.allclose(last.coefs_[0], ours.coefs_[0])


def test_validation_figures_without_early_stopping():
    X, y = _iris()
    est = MLPClassifier(hidden_layer_sizes=(8,), max_iter=30, validation=True, random_state=0,
                        n_iter_no_change=np.inf).fit(X, y)
    assert est.n_iter_ == 30  # no early stop: the training loss rule never fires with inf
    assert len(est.validation_scores_) == len(est.validation_loss_curve_) == 30
    assert all(0 <= s <= 1 for s in est.validation_scores_)
    assert est.best_validation_score_ == max(est.validation_scores_)
    assert MLPClassifier(max_iter=2).fit(X, y).validation_scores_ is None


@needs_sklearn("1.7", "MLPClassifier.fit(sample_weight=...)")
def test_sample_weight_matches_sklearn_and_equals_repetition():
    X, y = _iris()
    w = np.random.default_rng(0).integers(0, 4, len(y)).astype(float)
    params = dict(hidden_layer_sizes=(6,), max_iter=10, batch_size=len(y), random_state=2,
                  alpha=0.01, **SGD)
    ours, theirs = _both("MLPClassifier", **params)
    _assert_same_weights(ours.fit(X, y, sample_weight=w), theirs.fit(X, y, sample_weight=w))
    repeated = MLPClassifier(**{**params, "batch_size": int(w.sum())}).fit(
        np.repeat(X, w.astype(int), axis=0), np.repeat(y, w.astype(int)))
    _assert_same_weights(ours, repeated)
    unweighted = MLPClassifier(**params).fit(X, y)
    assert not np.allclose(unweighted.coefs_[0], ours.coefs_[0])


def test_class_weight_is_a_sample_weight_per_class():
    X, y = _iris()
    params = dict(hidden_layer_sizes=(6,), max_iter=5, random_state=0, **SGD)
    weights = {0: 1.0, 1: 3.0, 2: 0.5}
    by_class = MLPClassifier(class_weight=weights, **params).fit(X, y)
    by_sample = MLPClassifier(**params).fit(X, y, sample_weight=np.vectorize(weights.get)(y))
    _assert_same_weights(by_class, by_sample, rtol=1e-12)
    assert not np.allclose(MLPClassifier(**params).fit(X, y).coefs_[0], by_class.coefs_[0])
    with pytest.raises(ValueError, match="'balanced' is not supported for partial_fit"):
        MLPClassifier(class_weight="balanced").partial_fit(X, y, classes=[0, 1, 2])


def test_warm_start_continues_from_the_fitted_weights():
    X, y = _iris()
    params = dict(hidden_layer_sizes=(8,), random_state=0, **SGD)
    once = MLPClassifier(max_iter=10, **params).fit(X, y)
    twice = MLPClassifier(max_iter=5, warm_start=True, **params)
    twice.fit(X, y).fit(X, y)
    _assert_same_weights(twice, once, rtol=1e-12)
    assert len(twice.loss_curve_) == 10 and twice.n_iter_ == 5 and twice.t_ == 10 * len(X)
    cold = MLPClassifier(max_iter=5, **params)
    cold.fit(X, y).fit(X, y)
    assert not np.allclose(cold.coefs_[0], once.coefs_[0])
    with pytest.raises(ValueError, match="same classes"):
        twice.fit(X[y < 2], y[y < 2])


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_partial_fit_is_one_epoch_that_keeps_the_optimizer_state(solver):
    X, y = _iris()
    params = dict(hidden_layer_sizes=(8,), random_state=0, shuffle=False, solver=solver,
                  learning_rate="invscaling", learning_rate_init=0.05)
    fitted = MLPClassifier(max_iter=4, **params).fit(X, y)
    ours, theirs = _both("MLPClassifier", **params)
    for _ in range(4):
        ours.partial_fit(X, y, classes=[0, 1, 2])
        theirs.partial_fit(X, y, classes=[0, 1, 2])
    _assert_same_weights(ours, theirs)
    if solver == "adam":  # Adam's moments carry over: 4 calls are one 4-epoch fit
        _assert_same_weights(ours, fitted, rtol=1e-12)
    assert ours.n_iter_ == 1 and len(ours.loss_curve_) == 4 and ours.t_ == 4 * len(X)
    with pytest.raises(ValueError, match="classes"):
        MLPClassifier().partial_fit(X, y)
    with pytest.raises(ValueError, match="not in `self.classes_`"):
        ours.partial_fit(X, y + 1)


def test_partial_fit_needs_a_stochastic_solver():
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    assert not hasattr(MLPRegressor(solver="lbfgs"), "partial_fit")
    with pytest.raises(ValueError, match="early_stopping"):
        MLPRegressor(early_stopping=True).partial_fit(*_regression())


def test_lbfgs_reaches_sklearns_solution():
    X, y = _iris()
    ours, theirs = _both("MLPClassifier", hidden_layer_sizes=(5,), solver="lbfgs", max_iter=50,
                         random_state=0, alpha=1e-2)
    ours.fit(X, y)
    theirs.fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-6)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-5)
    with pytest.raises(ValueError, match="dropout"):
        MLPClassifier(solver="lbfgs", dropout=0.2).fit(X, y)


def test_lbfgs_warns_when_it_runs_out_of_iterations():
    X, y = _iris()
    with pytest.warns(ConvergenceWarning, match="lbfgs failed to converge"):
        MLPClassifier(hidden_layer_sizes=(5,), solver="lbfgs", max_iter=3).fit(X, y)


# ---- the regressor ------------------------------------------------------------------------------

def test_regressor_single_output_matches_sklearn():
    X, y = _regression()
    ours, theirs = _both("MLPRegressor", hidden_layer_sizes=(12,), max_iter=10, batch_size=40,
                         random_state=4, **SGD)
    _assert_same_weights(ours.fit(X, y), theirs.fit(X, y))
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-10)
    assert ours.predict(X).shape == (len(X),)


def test_regressor_multi_output_gradient_is_that_of_the_reported_loss():
    """scikit-learn's multi-output gradient is n_outputs times its loss's; fastbp's is exact, so
    fastbp at k times the learning rate (and no penalty) retraces scikit-learn."""
    X, Y = _regression(k=3)
    params = dict(hidden_layer_sizes=(12,), max_iter=10, batch_size=40, random_state=4,
                  alpha=0.0, solver="sgd", momentum=0.0, shuffle=False)
    theirs = neural_network.MLPRegressor(learning_rate_init=0.01, **params).fit(X, Y)
    ours = MLPRegressor(learning_rate_init=0.03, **params).fit(X, Y)
    _assert_same_weights(ours, theirs)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=RTOL)
    assert ours.predict(X).shape == Y.shape and ours.n_outputs_ == 3


def test_regressor_early_stopping_matches_sklearn():
    X, y = _regression(n=300)
    ours, theirs = _both("MLPRegressor", hidden_layer_sizes=(16,), max_iter=200,
                         early_stopping=True, n_iter_no_change=4, tol=1e-3, random_state=1,
                         **SGD)
    ours.fit(X, y)
    theirs.fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_ < 200
    np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_, rtol=1e-7)
    _assert_same_weights(ours, theirs)


def _counts(n=150, d=5, k=1, seed=0):
    """Poisson counts (zeros included) whose log-rate is a smooth function of X."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    Y = rng.poisson(np.exp(0.5 * np.tanh(X @ rng.standard_normal((d, k))))).astype(np.float64)
    assert np.any(Y == 0) and np.any(Y > 1)
    return X, (Y[:, 0] if k == 1 else Y)


@needs_sklearn("1.7", "MLPRegressor(loss='poisson')")
@pytest.mark.parametrize("k", [1, 3], ids=["single-output", "multi-output"])
def test_poisson_sgd_from_identical_weights_matches_sklearn_after_10_iterations(k):
    """Both libraries sum the Poisson loss over outputs, so even with several outputs the
    gradients, and hence the fits, are the same computation."""
    X, y = _counts(k=k)
    ours, theirs = _both("MLPRegressor", loss="poisson", hidden_layer_sizes=(8, 6),
                         batch_size=32, max_iter=1, warm_start=True, random_state=1,
                         **dict(SGD, learning_rate_init=0.01))
    theirs.fit(X, y)
    ours.fit(X, y)
    assert ours.out_activation_ == theirs.out_activation_ == "exp"
    _train_ten_iterations_from_one_start(ours, theirs, X, y)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=RTOL)
    assert np.all(ours.predict(X) > 0)  # exp output: rates are positive


@needs_sklearn("1.7", "MLPRegressor(loss='poisson')")
def test_poisson_with_same_random_state_and_adam_matches_sklearn():
    X, y = _counts(seed=1)
    ours, theirs = _both("MLPRegressor", loss="poisson", hidden_layer_sizes=(10,), max_iter=15,
                         shuffle=False, random_state=3, solver="adam", learning_rate_init=0.01)
    _assert_same_weights(ours.fit(X, y), theirs.fit(X, y))
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=RTOL)


def test_poisson_refuses_negative_targets():
    X, y = _counts()
    y[3] = -1.0
    with pytest.raises(ValueError, match="non-negative targets.*minimum of -1"):
        MLPRegressor(loss="poisson", max_iter=5).fit(X, y)


# ---- targets, inputs, dtypes --------------------------------------------------------------------

def test_string_labels_and_probabilities():
    X, y = _iris()
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    est = MLPClassifier(hidden_layer_sizes=(10,), max_iter=200, learning_rate_init=0.01,
                        random_state=0).fit(X, labels)
    assert list(est.classes_) == ["setosa", "versicolor", "virginica"]
    assert est.out_activation_ == "softmax" and est.n_layers_ == 3 and est.n_outputs_ == 3
    proba = est.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-12)
    np.testing.assert_allclose(est.predict_log_proba(X), np.log(proba))
    assert np.array_equal(est.predict(X), est.classes_[proba.argmax(axis=1)])
    assert est.score(X, labels) > 0.9


def test_binary_and_multilabel_outputs():
    X, y = _cancer()
    binary = MLPClassifier(hidden_layer_sizes=(5,), max_iter=50, random_state=0).fit(X, y)
    assert binary.out_activation_ == "logistic" and binary.n_outputs_ == 1
    assert binary.predict_proba(X).shape == (len(X), 2)
    X, Y = _multilabel()
    multi = MLPClassifier(hidden_layer_sizes=(5,), max_iter=50, random_state=0).fit(X, Y)
    assert multi.out_activation_ == "logistic" and multi.n_outputs_ == Y.shape[1]
    assert multi.predict(X).shape == Y.shape and multi.predict_proba(X).shape == Y.shape


@pytest.mark.parametrize("dtype, X_dtype, expected", [
    (None, np.float32, np.float32), (None, np.float64, np.float64), (None, np.int64, np.float64),
    ("float64", np.float32, np.float64), ("float32", np.float64, np.float32),
])
def test_dtype_follows_the_input_unless_given(dtype, X_dtype, expected):
    X, y = _iris()
    est = MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, dtype=dtype).fit(
        (X * 4).astype(X_dtype), y)
    assert all(c.dtype == expected for c in est.coefs_ + est.intercepts_)
    assert est.predict_proba(X).dtype == expected


def test_sparse_input_gives_the_dense_result():
    from scipy import sparse

    X, y = _iris()
    X[np.abs(X) < 0.5] = 0
    params = dict(hidden_layer_sizes=(6,), max_iter=5, random_state=0)
    dense = MLPClassifier(**params).fit(X, y)
    sparse_fit = MLPClassifier(**params).fit(sparse.csr_matrix(X), y)
    _assert_same_weights(sparse_fit, dense, rtol=1e-12)
    np.testing.assert_allclose(sparse_fit.predict_proba(sparse.csr_matrix(X)),
                               dense.predict_proba(X), rtol=1e-12)


@pytest.mark.parametrize("activation", ["leaky_relu", "elu", "gelu", "softplus"])
def test_extra_activations_learn(activation):
    X, y = _iris()
    est = MLPClassifier(hidden_layer_sizes=(16,), activation=activation, max_iter=300,
                        learning_rate_init=0.01, random_state=0).fit(X, y)
    assert est.score(X, y) > 0.9


def test_dropout_changes_training_but_not_prediction():
    X, y = _iris()
    params = dict(hidden_layer_sizes=(16,), max_iter=10, random_state=0)
    plain = MLPClassifier(**params).fit(X, y)
    dropped = MLPClassifier(dropout=0.5, **params).fit(X, y)
    assert not np.allclose(plain.coefs_[0], dropped.coefs_[0])
    # prediction drops nothing: the network's plain forward pass, computed here in NumPy
    hidden = np.maximum(X @ dropped.coefs_[0] + dropped.intercepts_[0], 0.0)
    logits = hidden @ dropped.coefs_[1] + dropped.intercepts_[1]
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    first = dropped.predict_proba(X)
    np.testing.assert_allclose(first, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(dropped.predict_proba(X), first)


def test_numpy_backend_trains_like_the_cpu_one():
    X, y = _iris()
    params = dict(hidden_layer_sizes=(8,), max_iter=5, random_state=0)
    _assert_same_weights(MLPClassifier(backend="numpy", **params).fit(X, y),
                         MLPClassifier(backend="cpu", **params).fit(X, y), rtol=1e-10)


def test_coefs_are_the_weights_prediction_uses():
    X, y = _iris()
    est = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0).fit(X, y)
    before = est.predict_proba(X)
    est.coefs_[1][...] = 0  # writing through the fitted arrays, as scikit-learn allows
    est.intercepts_[1][...] = 0
    np.testing.assert_allclose(est.predict_proba(X), 1 / 3)
    est.coefs_ = [np.ones_like(c) for c in est.coefs_]  # replacing them works too
    assert not np.allclose(est.predict_proba(X), before)


@pytest.mark.parametrize("params, error", [
    (dict(hidden_layer_sizes=0), InvalidParameterError),
    (dict(activation="softmax"), InvalidParameterError),
    (dict(solver="newton"), InvalidParameterError),
    (dict(dtype="float16"), InvalidParameterError),
    (dict(backend="gpu"), InvalidParameterError),
    (dict(dropout=1.0), InvalidParameterError),
    (dict(momentum=1.0), InvalidParameterError),
    (dict(hidden_layer_sizes=(4, -1)), ValueError),
])
def test_bad_parameters_raise_sklearns_errors(params, error):
    X, y = _iris()
    with pytest.raises(error):
        MLPClassifier(**params).fit(X, y)


def test_import_fastbp_does_not_import_sklearn():
    code = ("import sys, fastbp; assert 'sklearn' not in sys.modules; "
            "fastbp.MLPClassifier; assert 'sklearn' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


# ---- accuracy with default settings (the full 5-seed comparison is benchmarks/test_estimators.py)

@pytest.mark.parametrize("loader", ["load_iris", "load_wine", "load_breast_cancer"])
def test_default_settings_score_like_sklearn(loader):
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    X, y = getattr(datasets, loader)(return_X_y=True)
    scores = {"fastbp": [], "sklearn": []}
    for seed in range(2):
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y,
                                                            random_state=seed)
        scaler = StandardScaler().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
        for name, module in (("fastbp", fastbp), ("sklearn", neural_network)):
            est = module.MLPClassifier(random_state=seed).fit(X_train, y_train)
            scores[name].append(est.score(X_test, y_test))
    # two seeds of small test sets: 3 points of slack (one or two test samples)
    assert np.mean(scores["fastbp"]) >= np.mean(scores["sklearn"]) - 0.03, scores


def test_regression_targets_beyond_float32_are_refused_not_made_infinite():
    X = np.random.default_rng(0).standard_normal((10, 3)).astype(np.float32)
    est = MLPRegressor(hidden_layer_sizes=(4,), max_iter=2)
    with pytest.raises(ValueError, match="y holds values beyond the range of float32"):
        est.fit(X, np.full(10, 1e39))
    assert not hasattr(est, "coefs_")

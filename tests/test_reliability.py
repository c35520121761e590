"""Promises about failure and concurrency: threads, divergence, refused calls leaving no trace,
interrupted fits, copies, and the estimators' scikit-learn-compatible errors and messages."""

import copy
import pickle
import re
import subprocess
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import fastbp
from fastbp import schedules
from fastbp.training import loop as loop_module

S, D = fastbp.Sequential, fastbp.Dense
SKLEARN_SENTENCE = ("Solver produced non-finite parameter weights. The input data may contain "
                    "large values and need to be preprocessed.")


def _data(n=40, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int)


def _parameters(model):
    return model.parameters.copy()


# ---- concurrent inference ------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["numpy", "cpu"])
def test_forward_from_eight_threads_matches_single_thread_bitwise(backend):
    model = S([D(6, 32, "tanh"), D(32, 3, "softmax")], loss="cross_entropy", dtype="float64",
              backend=backend, seed=0)
    rng = np.random.default_rng(1)
    inputs = [rng.standard_normal((64, 6)) for _ in range(8)]  # one batch size: one buffer set
    expected = [model.forward(X) for X in inputs]

    def work(i):
        return all(np.array_equal(model.forward(inputs[i]), expected[i]) for _ in range(200))

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(work, range(8)))


@pytest.mark.parametrize("backend", ["numpy", "cpu"])
def test_predict_proba_from_eight_threads_matches_single_thread_bitwise(backend):
    X, y = _data(200, 4)
    clf = fastbp.MLPClassifier((16,), max_iter=5, backend=backend, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    rng = np.random.default_rng(2)
    inputs = [rng.standard_normal((50, 4)) for _ in range(8)]
    expected = [clf.predict_proba(X) for X in inputs]

    def work(i):
        return all(np.array_equal(clf.predict_proba(inputs[i]), expected[i]) for _ in range(100))

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(work, range(8)))


# ---- divergence -----------------------------------------------------------------------------------
def test_weights_kept_after_divergence_give_finite_output():
    X = np.random.default_rng(0).standard_normal((60, 3))
    model = S([D(3, 5, "relu"), D(5, 1)], dtype="float64", seed=0)
    with pytest.raises(fastbp.DivergenceError):
        model.fit(X, 100 * X[:, :1], epochs=50, batch_size=16, optimizer=fastbp.SGD(1000), seed=0)
    assert np.all(np.isfinite(model.forward(X)))
    assert np.isfinite(model.loss(X, 100 * X[:, :1]))


@pytest.mark.parametrize("backend", ["numpy", "cpu"])
def test_an_all_zero_weight_batch_takes_no_step(backend):
    X, y = _data(40)
    w = np.ones(40)
    w[:10] = 0  # with shuffle=False and batch_size=10 the first batch weighs nothing
    model = S([D(3, 4, "tanh"), D(4, 1)], dtype="float64", backend=backend, seed=0)
    reference = S([D(3, 4, "tanh"), D(4, 1)], dtype="float64", backend=backend, seed=0)
    history = model.fit(X, y, epochs=2, batch_size=10, optimizer=fastbp.SGD(0.1), shuffle=False,
                        sample_weight=w)
    # the same as training on the other three batches alone
    reference.fit(X[10:], y[10:], epochs=2, batch_size=10, optimizer=fastbp.SGD(0.1),
                  shuffle=False)
    np.testing.assert_array_equal(model.parameters, reference.parameters)
    assert np.all(np.isfinite(history.loss))


def test_class_weight_zero_with_small_batches_trains():
    X, y = _data(60)
    clf = fastbp.MLPClassifier((4,), batch_size=2, max_iter=3, class_weight={0: 0.0},
                               random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    assert np.all(np.isfinite(clf.predict_proba(X)))


def test_every_training_weight_zero_is_refused_before_training():
    X, y = _data(40)
    w = np.r_[np.zeros(30), np.ones(10)]
    model = S([D(3, 1)], dtype="float64", seed=0)
    before = _parameters(model)
    with pytest.raises(ValueError, match="sample weight"):
        model.fit(X, y, validation_split=0.25, sample_weight=w)
    np.testing.assert_array_equal(model.parameters, before)


# ---- overflowing arguments ------------------------------------------------------------------------
def test_step_with_a_learning_rate_beyond_float32_is_refused():
    X, y = _data()
    model = S([D(3, 1)], seed=0)
    before = _parameters(model)
    with pytest.raises(ValueError, match="lr"):
        model.step(X, y, lr=1e39)
    np.testing.assert_array_equal(model.parameters, before)


def test_step_that_would_overflow_the_weights_is_refused():
    X, y = _data()
    model = S([D(3, 1)], seed=0)
    before = _parameters(model)
    with pytest.raises(ValueError, match="finite"):
        model.step(X, 1e30 * y, lr=1e30)
    np.testing.assert_array_equal(model.parameters, before)


def test_loss_with_huge_sample_weights_equals_unweighted():
    X, y = _data()
    model = S([D(3, 1)], dtype="float64", seed=0)
    assert model.loss(X, y, sample_weight=np.full(40, 1e307)) == pytest.approx(model.loss(X, y))


@pytest.mark.parametrize("eps", [1e30, 1e-9])
def test_numerical_gradients_refuse_an_unusable_step(eps):
    X, y = _data()
    model = S([D(3, 1)], seed=0)
    with pytest.raises(ValueError, match="eps"):
        model.numerical_gradients(X, y, eps=eps)


# ---- coefs_ ------------------------------------------------------------------------------------------
def test_coefs_of_another_shape_are_refused():
    X, y = _data()
    clf = fastbp.MLPClassifier((5,), max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    clf.coefs_[-1] = np.zeros((5, 3))
    with pytest.raises(ValueError, match="coefs_"):
        clf.predict_proba(X)


# ---- refused refits leave the estimator as it was --------------------------------------------------
def _fitted(**params):
    X, y = _data()
    clf = fastbp.MLPClassifier((5,), random_state=0, max_iter=5, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    return clf, X, y


def test_refit_with_negative_weight_leaves_estimator_unchanged():
    clf, X, y = _fitted()
    before = clf.predict_proba(X)
    with pytest.raises(ValueError):
        clf.fit(X, y, sample_weight=np.r_[-1.0, np.ones(39)])
    np.testing.assert_array_equal(clf.predict_proba(X), before)


def test_refit_with_refused_settings_leaves_estimator_unchanged():
    clf, X, y = _fitted()
    before = clf.predict_proba(X)
    clf.set_params(solver="lbfgs", dropout=0.5)
    with pytest.raises(ValueError, match="dropout"):
        clf.fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), before)


def test_failed_refit_keeps_classes():
    clf, X, y = _fitted()
    classes = clf.classes_
    with pytest.raises(ValueError):
        clf.fit(X, y + 5, sample_weight=np.r_[-1.0, np.ones(39)])
    np.testing.assert_array_equal(clf.classes_, classes)


# ---- schedules -------------------------------------------------------------------------------------
def test_reduce_on_plateau_without_validation_is_refused_before_training():
    X, y = _data()
    model = S([D(3, 1)], dtype="float64", seed=0)
    before = _parameters(model)
    with pytest.raises(ValueError, match="val_loss"):
        model.fit(X, y, schedule=schedules.ReduceLROnPlateau())
    np.testing.assert_array_equal(model.parameters, before)


# ---- layers ------------------------------------------------------------------------------------------
def test_one_dense_twice_in_a_model_is_refused():
    layer = D(3, 3)
    with pytest.raises(ValueError, match="twice"):
        S([layer, layer])


# ---- Ctrl-C ------------------------------------------------------------------------------------------
def test_interrupt_during_validation_keeps_the_weights_history_reports(monkeypatch):
    X, y = _data()
    model = S([D(3, 1)], dtype="float64", seed=0)
    snapshots = []
    original = loop_module.validation_metric

    def interrupting(*args):
        snapshots.append(_parameters(model))
        if len(snapshots) == 3:
            raise KeyboardInterrupt
        return original(*args)

    monkeypatch.setattr(loop_module, "validation_metric", interrupting)
    with pytest.warns(RuntimeWarning, match="2 completed epochs"):
        history = model.fit(X, y, epochs=5, batch_size=8, validation_split=0.25, seed=0)
    assert history.epochs == 2
    np.testing.assert_array_equal(model.parameters, snapshots[1])
    assert model.samples_seen == 2 * 30


def test_interrupt_inside_fits_cleanup_still_counts_the_samples(monkeypatch):
    X, y = _data()
    model = S([D(3, 1)], dtype="float64", seed=0)

    def interrupting(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(loop_module.Progress, "close", interrupting)
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, y, epochs=3, batch_size=8)
    assert model.samples_seen == 3 * 40


# ---- copies ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
def test_fitted_sequential_copies(how):
    X, y = _data()
    model = S([D(3, 4, "relu"), D(4, 1)], dtype="float64", seed=0)
    model.fit(X, y, epochs=2)
    model.forward(X)  # leave scratch buffers behind
    clone = pickle.loads(pickle.dumps(model)) if how == "pickle" else copy.deepcopy(model)
    np.testing.assert_array_equal(clone.forward(X), model.forward(X))
    clone.layers[0].W = np.zeros((3, 4))
    assert np.all(clone.parameters[:12] == 0) and not np.all(model.layers[0].W == 0)
    clone.fit(X, y, epochs=1)


# ---- small refusals ----------------------------------------------------------------------------------
def test_scalar_target_is_a_value_error():
    X, _ = _data()
    with pytest.raises(ValueError, match="y"):
        S([D(3, 1)], seed=0).loss(X[:1], 1.0)


def test_every_class_weighted_zero_is_a_value_error():
    X, y = _data()
    with pytest.raises(ValueError, match="weight"):
        fastbp.MLPClassifier((3,), class_weight={0: 0.0, 1: 0.0}).fit(X, y)


def test_demo_with_a_negative_seed_is_one_error_line():
    result = subprocess.run([sys.executable, "-m", "fastbp", "demo", "--seed", "-1"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("fastbp demo: error:") or "error:" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# ---- scikit-learn's divergence contract ----------------------------------------------------------------
def _diverging_data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 3)) * 1e3
    return X, (X[:, 0] > 0).astype(int)


def test_estimator_divergence_is_a_value_error_with_sklearns_sentence():
    X, y = _diverging_data()
    clf = fastbp.MLPClassifier((8,), solver="sgd", learning_rate_init=1e5, momentum=0.0,
                               max_iter=50, random_state=0, dtype="float32")
    with pytest.raises(ValueError, match="Solver produced non-finite parameter weights"):
        clf.fit(X.astype(np.float32), y)


def test_early_stopping_finishes_a_diverging_fit_with_the_best_weights():
    X, y = _diverging_data()
    clf = fastbp.MLPClassifier((8,), solver="sgd", learning_rate_init=1e5, momentum=0.0,
                               max_iter=30, random_state=0, dtype="float32", early_stopping=True)
    with pytest.warns(ConvergenceWarning):
        clf.fit(X.astype(np.float32), y)
    assert np.isnan(clf.validation_scores_[-1])
    assert np.all(np.isfinite(clf.predict_proba(X)))
    assert all(np.all(np.isfinite(c)) for c in clf.coefs_)


# ---- verbose -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("verbose", [True, 1, 2, 5])
def test_verbose_prints_sklearns_iteration_lines(verbose, capsys):
    X, y = _data()
    clf = fastbp.MLPClassifier((3,), max_iter=3, random_state=0, verbose=verbose)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    clf.partial_fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    iterations = [line for line in lines if line.startswith("Iteration ")]
    assert iterations[0] == f"Iteration 1, loss = {clf.loss_curve_[0]:.8f}"
    # scikit-learn counts each call's iterations from 1
    assert len(iterations) == 4
    assert iterations[-1] == f"Iteration 1, loss = {clf.loss_curve_[-1]:.8f}"


# ---- stratified split ----------------------------------------------------------------------------------
def test_too_small_class_is_reported_as_sklearn_does():
    from sklearn.neural_network import MLPClassifier as SkClassifier

    X, _ = _data(20)
    y = np.r_[np.zeros(19, int), 1]
    settings = dict(hidden_layer_sizes=(3,), early_stopping=True, validation_fraction=0.2)
    with pytest.raises(ValueError) as theirs:
        SkClassifier(**settings).fit(X, y)
    # the installed scikit-learn's own words (1.7 names the class, ['True'], 1.6 does not)
    with pytest.raises(ValueError, match=re.escape(str(theirs.value))):
        fastbp.MLPClassifier(**settings).fit(X, y)
    assert "least populated class" in str(theirs.value)

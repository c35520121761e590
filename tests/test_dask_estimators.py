"""The Dask estimators against the local ones, on a cluster of two single-threaded worker processes.

The oracle is always a local fit on the same rows. With ``sync='average'`` and one worker the
weights must be bitwise equal: the worker visits the same rows in the same order (worker 0
shuffles with the local fit's seed), runs the same compiled epoch on the same thread count (one:
the worker's budget here, and ``dask_cluster.one_thread`` for the local fit, BLAS included), and
the average of one worker's state is that state itself, untouched. The default gradient-summing
mode is pinned to local steps in ``test_dask_gradient_sync.py``.
"""

import warnings

import numpy as np
import pytest

pytest.importorskip("distributed", reason="the dask extra is not installed")

import dask.array as da
from dask_cluster import by_blocks, local_cluster, one_thread, placed
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning

import fastbp
from fastbp.dask import DaskMLPClassifier, DaskMLPRegressor

SMALL = {"hidden_layer_sizes": (16,), "batch_size": 50, "random_state": 0}


@pytest.fixture(scope="module")
def client():
    with local_cluster(n_workers=2, threads_per_worker=1) as client:
        yield client


@pytest.fixture(scope="module")
def workers(client):
    return sorted(client.nthreads())


@pytest.fixture(scope="module")
def classes3():
    X, y = make_classification(1200, 12, n_informative=8, n_classes=3, random_state=0)
    return X, y


def fit_quietly(estimator, *args, **kwargs):
    """Fit, ignoring only the max_iter ConvergenceWarning (these fits stop early on purpose)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        return estimator.fit(*args, **kwargs)


def local_fit(estimator, *args, **kwargs):
    with one_thread():
        return fit_quietly(estimator, *args, **kwargs)


def assert_same_weights(dask_estimator, local):
    for got, want in zip(dask_estimator.coefs_ + dask_estimator.intercepts_,
                         local.coefs_ + local.intercepts_):
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sync_every", [None, 4])
def test_one_worker_is_bitwise_the_local_fit(client, workers, classes3, dtype, sync_every):
    X, y = classes3
    X = X.astype(dtype)
    Xd, yd = placed(client, X, 300, workers[:1]), placed(client, y, 300, workers[:1])
    params = {**SMALL, "max_iter": 6}
    dask_fit = fit_quietly(DaskMLPClassifier(**params, sync="average", sync_every=sync_every,
                                             client=client), Xd, yd)
    local = local_fit(fastbp.MLPClassifier(**params), X, y)
    assert dask_fit.workers_ == workers[:1]
    assert_same_weights(dask_fit, local)
    assert dask_fit.n_iter_ == local.n_iter_ == 6 and dask_fit.t_ == local.t_
    # one round per epoch: the epoch's loss is the worker's own; several: a sum in another order
    rtol = 0 if sync_every is None else 1e-12 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(dask_fit.loss_curve_, local.loss_curve_, rtol=rtol)


def test_one_worker_regressor_with_weights_and_sgd(client, workers):
    X, y = make_regression(900, 10, n_targets=2, noise=5.0, random_state=1)
    y = y / y.std()
    w = np.random.default_rng(0).uniform(0.0, 2.0, X.shape[0])
    w[:60] = 0.0  # a whole mini-batch of zero weights, skipped by both
    Xd, yd, wd = (placed(client, a, 300, workers[1:]) for a in (X, y, w))
    params = {"hidden_layer_sizes": (12,), "solver": "sgd", "learning_rate": "invscaling",
              "learning_rate_init": 0.05, "batch_size": 60, "max_iter": 5, "random_state": 3,
              "alpha": 0.01}
    dask_fit = fit_quietly(DaskMLPRegressor(**params, sync="average", client=client), Xd, yd,
                           sample_weight=wd)
    local = local_fit(fastbp.MLPRegressor(**params), X, y, sample_weight=w)
    assert_same_weights(dask_fit, local)
    assert dask_fit.loss_curve_ == local.loss_curve_


def test_one_worker_balanced_class_weight(client, workers, classes3):
    X, y = classes3
    keep = (y != 2) | (np.arange(len(y)) % 4 == 0)  # class 2 rare
    X, y = X[keep], y[keep]
    Xd, yd = placed(client, X, 256, workers[:1]), placed(client, y, 256, workers[:1])
    params = {**SMALL, "max_iter": 3, "class_weight": "balanced"}
    dask_fit = fit_quietly(DaskMLPClassifier(**params, sync="average", client=client), Xd, yd)
    local = local_fit(fastbp.MLPClassifier(**params), X, y)
    assert_same_weights(dask_fit, local)
    assert dask_fit.class_weight == "balanced"


def test_two_workers_match_local_accuracy_and_repeat(client, workers):
    # large enough that two fits' accuracies differ by their training, not by a few test rows
    X, y = make_classification(12000, 20, n_informative=10, n_classes=3, class_sep=1.5,
                               random_state=2)
    X_train, y_train, X_test, y_test = X[:8000], y[:8000], X[8000:], y[8000:]
    Xd = placed(client, X_train, 1000, workers)
    yd = placed(client, y_train, 1000, workers)
    params = {"hidden_layer_sizes": (32,), "max_iter": 30, "learning_rate_init": 0.01,
              "random_state": 0, "tol": 0.0}
    first = fit_quietly(DaskMLPClassifier(**params, client=client), Xd, yd)
    again = fit_quietly(DaskMLPClassifier(**params, client=client), Xd, yd)
    local = local_fit(fastbp.MLPClassifier(**params), X_train, y_train)
    assert first.workers_ == workers and first.rows_per_worker_ == [4000, 4000]
    assert first.n_iter_ == local.n_iter_ == 30
    assert_same_weights(first, again)
    dask_accuracy = first.to_local().score(X_test, y_test)
    assert abs(dask_accuracy - local.score(X_test, y_test)) <= 0.01
    assert dask_accuracy > 0.9  # three classes: a guess gets a third
    # every step, each of two workers sends half the gradient and its loss and weight sums twice
    # (the reduce-scatter, then the all-gather): the whole vector, once
    n_params = sum(W.size + b.size for W, b in zip(local.coefs_, local.intercepts_))
    steps = -(-8000 // 200)
    assert first.steps_per_epoch_ == steps
    assert first.bytes_per_round_ is None and first.n_evaluations_ is None  # other modes' figures
    assert first.bytes_per_epoch_ == [[steps * (n_params + 2) * 8] * 2] * 30


def test_weight_averaging_moves_parameters_and_moments(client, workers, classes3):
    X, y = classes3
    Xd, yd = placed(client, X, 300, workers), placed(client, y, 300, workers)
    model = fit_quietly(DaskMLPClassifier(**SMALL, max_iter=3, sync="average", client=client),
                        Xd, yd)
    # a round moves the parameters and Adam's two moments, each way, per worker
    n_params = sum(W.size + b.size for W, b in zip(model.coefs_, model.intercepts_))
    assert model.bytes_per_round_ == [(3 * n_params * 8, 3 * n_params * 8)] * 3
    assert model.bytes_per_epoch_ is None


def test_predictions_on_dask_collections_equal_local(client, workers, classes3):
    X, y = classes3
    Xd, yd = placed(client, X, 300, workers), placed(client, y, 300, workers)
    model = fit_quietly(DaskMLPClassifier(**SMALL, max_iter=3, client=client), Xd, yd)
    local = model.to_local()
    assert isinstance(local, fastbp.MLPClassifier)
    predicted, proba = model.predict(Xd), model.predict_proba(Xd)
    assert isinstance(predicted, da.Array) and isinstance(proba, da.Array)
    np.testing.assert_array_equal(predicted.compute(), by_blocks(local.predict, X, Xd))
    np.testing.assert_array_equal(proba.compute(), by_blocks(local.predict_proba, X, Xd))
    assert model.score(Xd, yd).compute() == pytest.approx(local.score(X, y), abs=1e-15)


def test_dataframes_in_and_regression_predictions(client):
    dd = pytest.importorskip("dask.dataframe", reason="dask's dataframe extra is not installed")
    import pandas as pd

    X, y = make_regression(600, 5, noise=1.0, random_state=0)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(5)])
    Xd = dd.from_pandas(frame, npartitions=3)
    yd = dd.from_pandas(pd.Series(y / y.std()), npartitions=3)
    model = fit_quietly(DaskMLPRegressor(hidden_layer_sizes=(8,), max_iter=3, random_state=0,
                                         client=client), Xd, yd)
    local = model.to_local()
    assert list(model.feature_names_in_) == list(frame.columns)
    np.testing.assert_array_equal(model.predict(Xd).compute(), local.predict(frame))
    assert model.score(Xd, yd).compute() == pytest.approx(local.score(frame, y / y.std()),
                                                          rel=1e-12)


def test_to_local_saves_and_loads(client, workers, classes3, tmp_path):
    X, y = classes3
    Xd, yd = placed(client, X, 600, workers), placed(client, y, 600, workers)
    model = fit_quietly(DaskMLPClassifier(**SMALL, max_iter=2, client=client), Xd, yd)
    path = tmp_path / "clf.safetensors"
    fastbp.save(model.to_local(), path, include_optimizer=True)
    loaded = fastbp.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.to_local().predict_proba(X))


def test_refused_settings_and_inputs(client, workers, classes3):
    X, y = classes3
    Xd, yd = placed(client, X, 600, workers), placed(client, y, 600, workers)
    with pytest.raises(TypeError, match="dask.array.Array.*got numpy.ndarray"):
        DaskMLPClassifier(client=client).fit(X, yd)
    with pytest.raises(ValueError, match="early_stopping=True needs sync='gradient'.*'average'"):
        DaskMLPClassifier(early_stopping=True, sync="average", client=client).fit(Xd, yd)
    with pytest.raises(ValueError, match="sync_every=4 applies to sync='average'"):
        DaskMLPClassifier(sync_every=4, client=client).fit(Xd, yd)
    with pytest.raises(ValueError, match="'sync' parameter .* must be a str among"):
        DaskMLPClassifier(sync="weights", client=client).fit(Xd, yd)
    with pytest.raises(ValueError, match="X has 1200 rows but y has 600"):
        DaskMLPClassifier(client=client).fit(Xd, yd[:600])
    with pytest.raises(ValueError, match="one label per row, or a multilabel indicator matrix "
                                         r"of 0s and 1s; got y of shape \(1200, 2\) holding "
                                         r"\[0, 1, 2\]"):
        DaskMLPClassifier(client=client).fit(Xd, da.stack([yd, yd], axis=1))
    with pytest.raises(ValueError, match="2 dimensions; got shape"):
        DaskMLPClassifier(client=client).fit(Xd[:, 0], yd)
    with pytest.raises(ValueError, match="sync_every"):
        DaskMLPClassifier(sync="average", sync_every=0, client=client).fit(Xd, yd)
    with pytest.raises(TypeError, match="sample_weight must be a dask"):
        DaskMLPClassifier(client=client).fit(Xd, yd, sample_weight=np.ones(1200))
    # refused on the workers, by the local estimator's own checks, and raised here
    with pytest.raises(ValueError, match="poisson' needs non-negative targets"):
        DaskMLPRegressor(loss="poisson", client=client).fit(Xd, Xd[:, 0])
    with pytest.raises(ValueError, match="X has 11 features"):
        fit_quietly(DaskMLPClassifier(**SMALL, max_iter=1, client=client), Xd, yd) \
            .predict(Xd[:, :11])

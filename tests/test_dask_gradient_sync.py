"""The default Dask fit (``sync='gradient'``): the ring all-reduce, the split of the global
batches, one step against a local step on the same batch, the accuracy of whole fits against
local fits, and early stopping on rows held out on the workers.

The oracles are independent of the code under test: ``np.sum`` for the all-reduce, a local
``MLPClassifier``/``MLPRegressor`` fit for the steps and the accuracy, and
:func:`fastbp.training.fit.validation_metric` for the validation sums.
"""

import threading
import warnings

import numpy as np
import pytest

pytest.importorskip("distributed", reason="the dask extra is not installed")

from dask_cluster import local_cluster, one_thread, placed
from sklearn.datasets import make_classification, make_friedman1
from sklearn.exceptions import ConvergenceWarning

import fastbp
from fastbp.dask import DaskMLPClassifier, DaskMLPRegressor
from fastbp.dask.collective import Listener, Ring, RingError, new_token
from fastbp.dask.gradient_sync import batch_shares
from fastbp.dask.validation import validation_figures, validation_sums
from fastbp.training.fit import validation_metric


# ---- the ring, in threads of this process ------------------------------------------------------
def _rings(n, timeout=10.0):
    token = new_token()
    listeners = [Listener("127.0.0.1") for _ in range(n)]
    addresses = [listener.address for listener in listeners]
    rings = [None] * n

    def join(rank):
        rings[rank] = Ring(listeners[rank], addresses, rank, token, timeout)

    _in_threads(join, n)
    return rings


def _in_threads(function, n):
    errors = []

    def run(rank):
        try:
            function(rank)
        except BaseException as error:  # reported by the test below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(rank,)) for rank in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


@pytest.mark.parametrize("n, size", [(2, 60_044), (3, 1001), (4, 3), (5, 1), (1, 17)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ring_allreduce_is_the_sum_and_bitwise_the_same_everywhere(n, size, dtype):
    rings = _rings(n)
    rng = np.random.default_rng(n * size)
    vectors = [rng.standard_normal(size).astype(dtype) for _ in range(n)]
    summed = [v.copy() for v in vectors]
    assert _in_threads(lambda rank: rings[rank].allreduce(summed[rank]), n) == []
    for other in summed[1:]:
        np.testing.assert_array_equal(other, summed[0])
    exact = np.sum(np.array(vectors, np.float64), axis=0)
    np.testing.assert_allclose(summed[0], exact, rtol=0,
                               atol=n * np.finfo(dtype).eps * np.abs(exact).max() * 4)
    assert summed[0].dtype == dtype
    # each worker sends 2 (N - 1) / N of the vector: N - 1 chunks out, N - 1 chunks back
    if n > 1:
        assert sum(ring.bytes_sent for ring in rings) == 2 * (n - 1) * size * np.dtype(
            dtype).itemsize
    for ring in rings:
        ring.close()


def test_ring_reports_a_neighbour_that_left_and_one_that_never_answers():
    rings = _rings(2, timeout=0.5)
    rings[1].close()
    with pytest.raises(RingError, match="worker 1 of the ring closed its connection"):
        rings[0].allreduce(np.ones(1000))
    rings[0].close()
    rings = _rings(2, timeout=0.5)
    with pytest.raises(TimeoutError, match="waited 0.5 s for its neighbours"):
        rings[0].allreduce(np.ones(10))  # worker 1 never calls
    for ring in rings:
        ring.close()


# ---- the split of the global batches -----------------------------------------------------------
@pytest.mark.parametrize("rows, batch_size", [([8000, 8000], 200), ([1000, 17, 0, 501], 200),
                                              ([5, 5, 5], 7), ([1], 1), ([300, 100], 1000)])
def test_batch_shares_cover_every_row_once_in_global_batches(rows, batch_size):
    shares, batch_rows = batch_shares(rows, batch_size)
    n = sum(rows)
    assert shares.sum(axis=1).tolist() == rows  # each worker's rows, once per epoch
    want = [batch_size] * (n // batch_size) + ([n % batch_size] if n % batch_size else [])
    assert batch_rows.tolist() == want  # the local fit's batch sizes
    # each worker's share of every full batch is its fraction of the rows, to a row
    fraction = np.array(rows)[:, None] / n
    full = batch_rows == batch_size
    assert np.all(np.abs(shares[:, full] - fraction * batch_size) < 1 + 1e-9)


# ---- the validation sums -------------------------------------------------------------------------
@pytest.mark.parametrize("loss, outputs", [("cross_entropy", 4), ("binary_cross_entropy", 3),
                                           ("squared_error", 2)])
def test_validation_sums_over_parts_give_the_local_metric(loss, outputs):
    rng = np.random.default_rng(0)
    activation = {"cross_entropy": "softmax", "binary_cross_entropy": "sigmoid"}.get(loss,
                                                                                    "identity")
    model = fastbp.Sequential([fastbp.Dense(5, 8, "tanh"), fastbp.Dense(8, outputs, activation)],
                              loss=loss, dtype="float64", seed=0)
    X = rng.standard_normal((90, 5))
    if loss == "cross_entropy":
        Y = np.eye(outputs)[rng.integers(0, outputs, 90)]
    elif loss == "binary_cross_entropy":
        Y = (rng.random((90, outputs)) < 0.5).astype(np.float64)
    else:
        Y = rng.standard_normal((90, outputs)) + 3.0
    parts = [(X[:40], Y[:40]), (X[40:41], Y[40:41]), (X[41:], Y[41:])]
    scale = (1 / 90, Y.mean(axis=0))
    sums = sum(validation_sums(model, part, model.parameters, scale) for part in parts)
    val_loss, metric = validation_figures(model.network.loss, sums, 90)
    want_loss, output = model.evaluate(X, Y, np.full(90, 1 / 90))
    assert val_loss == pytest.approx(want_loss, rel=1e-12)
    assert metric == pytest.approx(validation_metric(model.network.loss, output, Y), rel=1e-12)


# ---- fits on the cluster -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def two_workers():
    with local_cluster(n_workers=2, threads_per_worker=1) as client:
        yield client


@pytest.fixture(scope="module")
def four_workers():
    with local_cluster(n_workers=4, threads_per_worker=1) as client:
        yield client


@pytest.fixture(params=[2, 4], ids=["2 workers", "4 workers"])
def client(request):
    """A cluster of 2 or 4 single-threaded worker processes, each started once per module."""
    return request.getfixturevalue("two_workers" if request.param == 2 else "four_workers")


def _quiet(estimator, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        return estimator.fit(*args, **kwargs)


def _local_order(rows, shares):
    """The local row order whose consecutive batches are the global batches of a fit on workers
    holding ``rows`` (lists of row indices, in their visiting order) with these ``shares``."""
    order, starts = [], [0] * len(rows)
    for step in range(shares.shape[1]):
        for worker, held in enumerate(rows):
            take = int(shares[worker, step])
            order.extend(held[starts[worker]:starts[worker] + take])
            starts[worker] += take
    return np.array(order)


@pytest.mark.parametrize("case", ["adam", "sgd-weights-penalty"])
def test_steps_on_workers_equal_local_steps_on_the_same_global_batches(client, case):
    """float64, no shuffling: the workers' steps are the local fit's steps on the union of their
    parts of each batch, to 1e-10 relative (only the order of the sums differs)."""
    workers = sorted(client.nthreads())
    n_workers = len(workers)
    X, y = make_classification(700, 8, n_informative=5, n_classes=3, random_state=4)
    weight = np.random.default_rng(1).uniform(0.0, 2.0, 700) if "weights" in case else None
    params = {"hidden_layer_sizes": (12,), "batch_size": 64, "max_iter": 1,
              "shuffle": False, "random_state": 5, "tol": 0.0}
    if case.startswith("sgd"):
        params.update(solver="sgd", momentum=0.9, learning_rate_init=0.05, alpha=0.3)
    chunk = 50  # chunk i on worker i % n_workers
    Xd, yd = placed(client, X, chunk, workers), placed(client, y, chunk, workers)
    args = () if weight is None else (placed(client, weight, chunk, workers),)
    model = _quiet(DaskMLPClassifier(**params, client=client), Xd, yd, *args)
    held = [np.concatenate([np.arange(lo, min(lo + chunk, 700))
                            for lo in range(chunk * w, 700, chunk * n_workers)])
            for w in range(n_workers)]
    shares, _ = batch_shares([len(h) for h in held], 64)
    order = _local_order(held, shares)
    local = fastbp.MLPClassifier(**params)
    with one_thread():
        _quiet(local, X[order], y[order], *(() if weight is None else (weight[order],)))
    assert model.steps_per_epoch_ == shares.shape[1] == 11
    for got, want in zip(model.coefs_ + model.intercepts_, local.coefs_ + local.intercepts_):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-14)
    assert model.loss_ == pytest.approx(local.loss_, rel=1e-10)


def _data_sets():
    X, y = make_classification(20000, 20, n_informative=12, n_classes=5, random_state=0)
    yield "5 classes", X, y, {"hidden_layer_sizes": (32,), "max_iter": 15}
    X, y = make_classification(16000, 10, n_informative=6, n_classes=3, class_sep=0.8,
                               random_state=1)
    yield "3 classes", X, y, {"hidden_layer_sizes": (32,), "max_iter": 15}
    X, y = make_friedman1(16000, 10, noise=1.0, random_state=2)
    yield "regression", X, y, {"hidden_layer_sizes": (48,), "max_iter": 15,
                               "learning_rate_init": 0.01}


def test_default_fits_on_workers_reach_the_local_fits_test_score(client):
    """With the defaults and the same max_iter, the test accuracy within 1 point of a local
    fit's (R^2 within 0.01) on 2 and 4 workers."""
    scores = []
    workers = sorted(client.nthreads())
    for name, X, y, params in _data_sets():
        cut = len(X) * 4 // 5
        regression = name == "regression"
        local_class = fastbp.MLPRegressor if regression else fastbp.MLPClassifier
        dask_class = DaskMLPRegressor if regression else DaskMLPClassifier
        with one_thread():
            local = _quiet(local_class(**params, random_state=0), X[:cut], y[:cut])
        Xd, yd = placed(client, X[:cut], 1000, workers), placed(client, y[:cut], 1000, workers)
        model = _quiet(dask_class(**params, random_state=0, client=client), Xd, yd)
        assert model.n_iter_ == local.n_iter_ == params["max_iter"]
        scores.append((name, local.score(X[cut:], y[cut:]),
                       model.to_local().score(X[cut:], y[cut:])))
    print(f"\n{len(workers)} workers, (data, local, dask) test scores: {scores}")
    for name, local_score, dask_score in scores:
        assert abs(dask_score - local_score) <= 0.01, (name, local_score, dask_score)
        assert dask_score > (0.7 if name == "regression" else 0.75)  # it learned: not a guess


def test_early_stopping_stops_on_the_plateau_and_keeps_the_best_epoch(two_workers):
    client = two_workers
    workers = sorted(client.nthreads())
    X, y = make_classification(6000, 10, n_informative=6, n_classes=3, flip_y=0.1,
                               random_state=3)
    Xd, yd = placed(client, X, 500, workers), placed(client, y, 500, workers)
    params = {"hidden_layer_sizes": (64,), "learning_rate_init": 0.01, "max_iter": 200,
              "n_iter_no_change": 3, "random_state": 0, "client": client}
    model = _quiet(DaskMLPClassifier(**params, early_stopping=True), Xd, yd)
    scores = model.validation_scores_
    assert 3 < model.n_iter_ < 200 and len(scores) == model.n_iter_
    best = int(np.argmax(scores))
    assert model.best_validation_score_ == max(scores)
    assert model.n_iter_ - 1 - best >= 3  # stopped once no epoch beat the best by tol
    local = model.to_local()
    assert local.validation_scores_ == scores
    assert local.best_validation_score_ == model.best_validation_score_
    assert local.n_iter_ == model.n_iter_ and local.loss_curve_ == model.loss_curve_
    # the kept weights are the best epoch's: the same fit stopped after that epoch (same
    # held-out rows: validation=True draws them alike) ends on them
    again = _quiet(DaskMLPClassifier(**{**params, "max_iter": best + 1}, validation=True),
                   Xd, yd)
    assert again.validation_scores_ == scores[:best + 1]
    for got, want in zip(model.coefs_ + model.intercepts_, again.coefs_ + again.intercepts_):
        np.testing.assert_array_equal(got, want)


def test_regressor_validation_scores_are_r2_on_the_held_out_rows(two_workers):
    client = two_workers
    workers = sorted(client.nthreads())
    X, y = make_friedman1(3000, 6, noise=0.5, random_state=0)
    Xd, yd = placed(client, X, 500, workers), placed(client, y, 500, workers)
    model = _quiet(DaskMLPRegressor(hidden_layer_sizes=(16,), learning_rate_init=0.01,
                                    max_iter=8, validation=True, validation_fraction=0.2,
                                    random_state=0, client=client), Xd, yd)
    assert len(model.validation_scores_) == len(model.validation_loss_curve_) == 8
    # R^2 rises from near nothing to most of the variance as the network learns
    assert model.validation_scores_[0] < model.validation_scores_[-1]
    assert 0.5 < model.validation_scores_[-1] < 1.0
    assert model.best_validation_score_ == max(model.validation_scores_)


def test_multilabel_targets_train_and_score_as_locally(two_workers):
    from sklearn.datasets import make_multilabel_classification

    client = two_workers
    workers = sorted(client.nthreads())
    X, Y = make_multilabel_classification(6000, 12, n_classes=4, random_state=0)
    X_train, Y_train, X_test, Y_test = X[:5000], Y[:5000], X[5000:], Y[5000:]
    params = {"hidden_layer_sizes": (32,), "max_iter": 15, "random_state": 0}
    with one_thread():
        local = _quiet(fastbp.MLPClassifier(**params), X_train, Y_train)
    Xd, Yd = placed(client, X_train, 500, workers), placed(client, Y_train, 500, workers)
    model = _quiet(DaskMLPClassifier(**params, early_stopping=True, client=client), Xd, Yd)
    assert model.multilabel() and list(model.classes_) == [0, 1, 2, 3]
    # computed by this cluster's client: the four-worker one, made later, is Dask's default
    Xt, Yt = placed(client, X_test, 500, workers), placed(client, Y_test, 500, workers)
    predicted = client.compute(model.predict(Xt)).result()
    assert predicted.shape == (1000, 4) and predicted.dtype == np.int64
    np.testing.assert_array_equal(predicted, model.to_local().predict(X_test))
    # subset accuracy, as scikit-learn scores multilabel classifiers
    dask_score = client.compute(model.score(Xt, Yt)).result()
    assert dask_score == pytest.approx(np.mean(np.all(predicted == Y_test, axis=1)), abs=1e-15)
    assert abs(dask_score - local.score(X_test, Y_test)) <= 0.03
    with pytest.raises(ValueError, match="class_weight is for one label per row"):
        DaskMLPClassifier(class_weight="balanced", client=client).fit(Xd, Yd)

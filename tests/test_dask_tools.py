"""The local estimators on Dask's own tools: dask-ml's ``Incremental`` and ``ParallelPostFit``,
and a scikit-learn search under joblib's Dask backend, each against the same work done locally.
"""

import warnings

import numpy as np
import pytest

pytest.importorskip("dask_ml", reason="the dask extra is not installed")

import joblib
from dask_cluster import by_blocks, local_cluster, one_thread, placed
from dask_ml.wrappers import Incremental, ParallelPostFit
from distributed import get_task_stream
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

import fastbp

PARAMS = {"hidden_layer_sizes": (16,), "batch_size": 50, "random_state": 0}


@pytest.fixture(scope="module")
def client():
    with local_cluster(n_workers=2, threads_per_worker=1) as client:
        yield client


@pytest.fixture(scope="module")
def data():
    return make_classification(1200, 12, n_informative=8, n_classes=3, random_state=0)


def test_workers_run_plain_fastbp_on_one_thread(client):
    """The README's cluster setting for the local estimators (NUMBA_NUM_THREADS=1 in the workers'
    environment) is what fastbp reads there."""
    from fastbp.kernels.cpu.threads import thread_count

    assert set(client.run(thread_count).values()) == {1}


def test_incremental_is_partial_fit_block_by_block(client, data):
    X, y = data
    workers = sorted(client.nthreads())
    Xd, yd = placed(client, X, 300, workers), placed(client, y, 300, workers)
    incremental = Incremental(fastbp.MLPClassifier(**PARAMS), shuffle_blocks=False)
    incremental.fit(Xd, yd, classes=[0, 1, 2])
    local = fastbp.MLPClassifier(**PARAMS)
    with one_thread():
        for start in range(0, 1200, 300):  # the blocks, in order, as Incremental passes them
            local.partial_fit(X[start:start + 300], y[start:start + 300], classes=[0, 1, 2])
    # the estimator went from worker to worker by pickle between blocks: its weights, optimizer
    # moments and step count must all have travelled for these to be equal
    fitted = incremental.estimator_
    assert fitted.n_iter_ == local.n_iter_ and fitted.t_ == local.t_ == 1200
    for got, want in zip(fitted.coefs_ + fitted.intercepts_, local.coefs_ + local.intercepts_):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(incremental.predict(Xd).compute(),
                                  by_blocks(local.predict, X, Xd))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_parallel_post_fit_predicts_on_dask_arrays(client, data, dtype):
    X, y = data
    X = X.astype(dtype)
    workers = sorted(client.nthreads())
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        wrapped = ParallelPostFit(fastbp.MLPClassifier(**PARAMS, max_iter=5)).fit(X, y)
        local = fastbp.MLPClassifier(**PARAMS, max_iter=5).fit(X, y)
    Xd = placed(client, X, 300, workers)
    predicted, proba = wrapped.predict(Xd), wrapped.predict_proba(Xd)
    assert proba.dtype == dtype
    np.testing.assert_array_equal(predicted.compute(), by_blocks(local.predict, X, Xd))
    np.testing.assert_array_equal(proba.compute(), by_blocks(local.predict_proba, X, Xd))
    np.testing.assert_allclose(proba.compute(), local.predict_proba(X),
                               rtol=1e-5 if dtype == np.float32 else 1e-12)


def test_grid_search_under_joblibs_dask_backend(client, data):
    X, y = data
    grid = {"alpha": [1e-4, 1e-1], "learning_rate_init": [1e-3, 1e-2]}
    estimator = fastbp.MLPClassifier(**PARAMS, max_iter=8)
    on_dask = GridSearchCV(estimator, grid, cv=2)
    # scikit-learn hands this process's warning filters to the tasks that run the fits
    with get_task_stream(client) as tasks, joblib.parallel_backend("dask"), \
            warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        on_dask.fit(X, y)
    assert tasks.data, "no task reached the cluster"
    local = GridSearchCV(estimator, grid, cv=2, n_jobs=1)
    with one_thread(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        local.fit(X, y)
    np.testing.assert_array_equal(on_dask.cv_results_["mean_test_score"],
                                  local.cv_results_["mean_test_score"])
    assert on_dask.best_params_ == local.best_params_

"""Threads inside a Dask worker: one worker process with two threads, Numba's ``workqueue``
threading layer (the one that aborts the process when two threads enter parallel regions at
once) and ``NUMBA_NUM_THREADS=1`` (:data:`dask_cluster.WORKER_ENV`)."""

import concurrent.futures
import os
import time
import warnings

import numpy as np
import pytest

pytest.importorskip("distributed", reason="the dask extra is not installed")

from dask_cluster import local_cluster, one_thread, placed
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning

import fastbp
from fastbp.dask import DaskMLPClassifier

#: Wide enough that a batch's work (200 rows x 25,000 parameters) passes
#: kernels/cpu_threads.MIN_THREADED_WORK: an epoch granted two threads runs on two.
WIDE = {"hidden_layer_sizes": (1024,), "max_iter": 3, "batch_size": 200}


@pytest.fixture(scope="module")
def client():
    with local_cluster(n_workers=1, threads_per_worker=2) as client:
        yield client


@pytest.fixture(scope="module")
def data():
    return make_classification(2000, 20, n_informative=10, n_classes=3, random_state=0)


def _hold(seconds):
    """On a worker: take a thread budget, keep it ``seconds``; returns what was granted."""
    from fastbp.kernels.cpu.threads import thread_count
    from threadpoolctl import threadpool_info

    from fastbp.dask.threads import worker_threads

    with worker_threads(timeout=30) as threads:
        start = time.monotonic()
        counted = thread_count()
        blas = max(info["num_threads"] for info in threadpool_info()
                   if info["user_api"] == "blas")
        time.sleep(seconds)
        return start, time.monotonic(), threads, counted, blas


def test_a_task_alone_gets_the_workers_threads_and_single_threaded_blas(client):
    _, _, threads, counted, blas = client.submit(_hold, 0.0, pure=False).result(timeout=60)
    assert (threads, counted, blas) == (2, 2, 1)


def test_concurrent_tasks_never_hold_more_threads_than_the_worker(client):
    futures = [client.submit(_hold, 0.5, pure=False) for _ in range(3)]
    held = [future.result(timeout=60) for future in futures]
    for start, _, _, _, _ in held:
        running = sum(threads for s, e, threads, _, _ in held if s <= start < e)
        assert running <= 2, held


def _fit(params, X, y):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        return fastbp.MLPClassifier(**params).fit(X, y)


@pytest.mark.parametrize("sync", ["gradient", "average"])
def test_two_dask_fits_at_once_in_one_worker(client, data, sync):
    X, y = data
    pid = client.run(os.getpid)
    Xd, yd = placed(client, X, 500, list(pid)), placed(client, y, 500, list(pid))

    def dask_fit(seed):
        return DaskMLPClassifier(**WIDE, random_state=seed, sync=sync, client=client).fit(Xd, yd)

    # the filter set once around both threads: catch_warnings is not thread-safe
    with warnings.catch_warnings(), concurrent.futures.ThreadPoolExecutor(2) as pool:
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        fits = list(pool.map(dask_fit, [0, 1]))
    assert client.run(os.getpid) == pid  # the worker process neither aborted nor restarted
    for seed, model in zip([0, 1], fits):
        with one_thread():
            local = _fit({**WIDE, "random_state": seed}, X, y)
        # averaging: the two fits shared the worker's threads round by round, so an epoch ran on
        # one or two threads; gradient: one worker's replica takes the local fit's steps on the
        # same batches through the layer loop's kernels: the same arithmetic summed in another
        # order
        for got, want in zip(model.coefs_, local.coefs_):
            np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_two_local_fits_at_once_in_one_worker(client, data):
    """The local estimator in a worker's tasks, as a joblib search runs it."""
    X, y = data
    pid = client.run(os.getpid)
    params = [{**WIDE, "random_state": seed} for seed in (0, 1)]
    futures = [client.submit(_fit, p, X, y, pure=False) for p in params]
    fits = [future.result(timeout=300) for future in futures]
    assert client.run(os.getpid) == pid
    for p, model in zip(params, fits):
        with one_thread():
            local = _fit(p, X, y)
        for got, want in zip(model.coefs_, local.coefs_):
            np.testing.assert_array_equal(got, want)  # NUMBA_NUM_THREADS=1: one thread each

"""``DaskMLPClassifier`` on one and two workers: time per epoch and bytes moved per round.

A synthetic data set (``--profile full``: 200,000 x 100, float32, ten classes labelled by a fixed
random linear teacher) is generated on the workers, half its row chunks on each; the network is
100-256-128-10 (60,042 parameters) trained by Adam, batch 256, synchronised once per epoch. Each
worker is a process with one thread, so one worker computes on one core and two on two. A local
``MLPClassifier`` on one thread, on the same rows, gives the compute the workers share out.

``extra_info`` holds the epochs' seconds, the bytes of weights and moments sent to each worker and
received from it per round (the estimator's own count of the arrays it scatters and gathers), and
the scaling model's prediction of both. The quick profile (CI's smoke run) uses 4,000 x 20 rows.
Run: ``pytest benchmarks/test_dask.py --profile full -s --benchmark-json=...``.
"""

import os
import platform
import statistics
import time
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

pytest.importorskip("distributed", reason="the dask extra is not installed")

from fastbp.kernels.cpu_threads import thread_budget

import fastbp

SIZES = {"full": {"rows": 200_000, "features": 100, "epochs": 4, "chunks": 8},
         "quick": {"rows": 4_000, "features": 20, "epochs": 2, "chunks": 4}}
NETWORK = {"hidden_layer_sizes": (256, 128), "batch_size": 256, "dtype": "float32",
           "random_state": 0, "tol": 0.0}
CLASSES = 10
#: Each profile's figures of the local one-thread epoch, for the Dask tests' predictions.
_LOCAL = {}


def _data(sizes, workers=None):
    """The synthetic rows as Dask arrays; with ``workers``, chunk ``i`` made and kept on
    ``workers[i % len(workers)]``."""
    import dask
    import dask.array as da

    rows, features = sizes["rows"], sizes["features"]
    pin = {} if workers is None else {
        "workers": lambda key: [workers[key[1] % len(workers)]], "allow_other_workers": False}
    teacher = np.random.default_rng(0).standard_normal((features, CLASSES)).astype(np.float32)
    with dask.annotate(**pin):
        X = da.random.RandomState(0).standard_normal(
            (rows, features), chunks=(rows // sizes["chunks"], features)).astype(np.float32)
        y = (X @ teacher).argmax(axis=1)
    return X, y


def _machine():
    try:
        from cpuinfo import get_cpu_info

        model = get_cpu_info().get("brand_raw", "")
    except ImportError:
        model = platform.processor()
    return {"cpu": model, "cores": os.cpu_count()}


def _median_epoch(seconds):
    """The median epoch, the first left out when there are others (it loads the kernels)."""
    return statistics.median(seconds[1:] if len(seconds) > 1 else seconds)


def test_local_epoch_one_thread(benchmark, profile):
    sizes = SIZES[profile]
    X, y = (a.compute(scheduler="synchronous") for a in _data(sizes))
    benchmark.group = "dask epochs"
    elapsed = []

    def fit(max_iter, rows):
        # one epoch thread and one BLAS thread, as on a worker of one thread
        with thread_budget(1), threadpool_limits(limits=1, user_api="blas"), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            start = time.perf_counter()
            model = fastbp.MLPClassifier(**NETWORK, max_iter=max_iter).fit(X[:rows], y[:rows])
            elapsed.append(time.perf_counter() - start)
        return model

    fit(1, 2000)  # loads the kernels outside the timing
    # best of three: this VM's first runs after a pause are slow by up to several times
    model = benchmark.pedantic(fit, args=(sizes["epochs"], sizes["rows"]), rounds=3,
                               iterations=1)
    n_params = sum(W.size + b.size for W, b in zip(model.coefs_, model.intercepts_))
    _LOCAL[profile] = {"seconds_per_epoch": min(elapsed[1:]) / sizes["epochs"]}
    benchmark.extra_info.update({**_machine(), "profile": profile, "rows": sizes["rows"],
                                 "features": sizes["features"], "n_params": n_params,
                                 "epochs": sizes["epochs"], **_LOCAL[profile]})


@pytest.mark.parametrize("n_workers", [1, 2])
def test_dask_epoch(benchmark, profile, n_workers):
    from distributed import Client, LocalCluster, wait

    from fastbp.dask import DaskMLPClassifier

    sizes = SIZES[profile]
    benchmark.group = "dask epochs"
    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                      dashboard_address=":0", worker_dashboard_address=None) as cluster, \
            Client(cluster) as client:
        workers = sorted(client.nthreads())
        X, y = client.persist(list(_data(sizes, workers)), optimize_graph=False)
        wait([X, y], timeout=300)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            # each worker loads the kernels from Numba's cache outside the timing
            DaskMLPClassifier(**NETWORK, max_iter=1, client=client).fit(X[:2000], y[:2000])
            model = DaskMLPClassifier(**NETWORK, max_iter=sizes["epochs"], client=client)
            benchmark.pedantic(model.fit, args=(X, y), rounds=1, iterations=1)
        accuracy = float(model.score(X, y).compute())
    n_params = sum(W.size + b.size for W, b in zip(model.coefs_, model.intercepts_))
    sent, received = model.bytes_per_round_[0]
    modelled = 3 * n_params * np.dtype(np.float32).itemsize  # weights and Adam's two moments
    assert model.workers_ == workers
    assert set(model.bytes_per_round_) == {(modelled, modelled)}
    info = {**_machine(), "profile": profile, "n_workers": n_workers, "rows": sizes["rows"],
            "features": sizes["features"], "n_params": n_params, "epochs": model.n_iter_,
            "epoch_seconds": model.epoch_seconds_,
            "seconds_per_epoch": _median_epoch(model.epoch_seconds_),
            "bytes_sent_per_round_per_worker": sent,
            "bytes_received_per_round_per_worker": received,
            "model_bytes_per_round_per_worker": 2 * modelled, "training_accuracy": accuracy}
    local = _LOCAL.get(profile)
    if local is not None:
        info["local_one_thread_seconds_per_epoch"] = local["seconds_per_epoch"]
        info["compute_share_seconds"] = local["seconds_per_epoch"] / n_workers
    benchmark.extra_info.update(info)
    print(f"\n{n_workers} worker(s): " + ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in info.items()
        if k != "epoch_seconds"))
    assert accuracy > 1.5 / CLASSES  # it learned something: a guess gets 0.1

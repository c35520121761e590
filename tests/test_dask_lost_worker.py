"""A worker process killed in the middle of a fit: the documented error, soon, not a hang; then
``warm_start`` carries on from the weights kept, on the workers that remain.

Every wait of the fit is bounded by its ``timeout`` (60 s here), so this test ends even if the
lost worker went unnoticed: with a ``TimeoutError``, which fails it.
"""

import os
import signal
import threading
import time
import warnings

import numpy as np
import pytest

pytest.importorskip("distributed", reason="the dask extra is not installed")

import dask.array as da
from dask_cluster import local_cluster
from distributed import futures_of, wait
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning

from fastbp.dask import DaskMLPClassifier, WorkerLostError


@pytest.fixture(scope="module")
def client():
    with local_cluster(n_workers=2, threads_per_worker=1) as client:
        yield client


#: The task that trains, per synchronisation mode.
TRAINING_TASK = {"gradient": "replica_epoch", "average": "train_round"}


def _kill_while_training(client, victim, pid, killed, task):
    """Kill ``victim``'s process in its third ``task`` of training or later (so some epochs have
    finished); looks for 60 s at most."""
    deadline, rounds = time.monotonic() + 60, set()
    while time.monotonic() < deadline and not killed.is_set():
        rounds |= {key for key in client.processing([victim])[victim] if task in key}
        if len(rounds) >= 3:
            os.kill(pid, signal.SIGKILL)
            killed.set()
        time.sleep(0.01)


@pytest.mark.parametrize("sync", ["gradient", "average"])
def test_killed_worker_ends_the_fit_and_warm_start_continues(client, sync):
    X, y = make_classification(4000, 12, n_informative=8, n_classes=3, random_state=0)
    # rows Dask can compute again from their graph once their worker is gone
    Xd, yd = client.persist([da.from_array(X, chunks=500), da.from_array(y, chunks=500)])
    wait([Xd, yd], timeout=60)
    victim = min(client.who_has(futures_of(Xd))[Xd.__dask_keys__()[0][0]])
    pid = client.run(os.getpid, workers=[victim])[victim]
    killed = threading.Event()
    killer = threading.Thread(target=_kill_while_training,
                              args=(client, victim, pid, killed, TRAINING_TASK[sync]))
    model = DaskMLPClassifier(hidden_layer_sizes=(16,), max_iter=100_000, tol=0.0,
                              random_state=0, timeout=60, sync=sync, client=client)
    killer.start()
    try:
        with pytest.raises(WorkerLostError, match="left the cluster during (round|epoch)") as lost:
            model.fit(Xd, yd)
    finally:
        killed.set()
        killer.join()
    assert lost.value.workers == [victim]
    assert "warm_start=True" in str(lost.value)
    assert model.n_iter_ == len(model.loss_curve_) >= 1
    kept = [W.copy() for W in model.coefs_]
    assert all(np.all(np.isfinite(W)) for W in kept)
    first_loss = model.loss_curve_[0]

    model.set_params(warm_start=True, max_iter=2)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        model.fit(Xd, yd)
    assert victim not in model.workers_ and sum(model.rows_per_worker_) == 4000
    assert model.n_iter_ == 2
    # resumed from the kept weights, not from a fresh start: its first epoch already beats the
    # killed fit's first
    assert model.loss_curve_[-2] < first_loss
    assert not all(np.array_equal(a, b) for a, b in zip(model.coefs_, kept))


def test_a_worker_lost_between_its_task_finishing_and_the_fetch_is_reported():
    """The worker is frozen once its task has finished, so the client sees the task finished and
    starts fetching from a worker that cannot answer; then it is killed. The fetch must give up
    and report the lost worker, not wait for the task Dask reschedules onto a worker that is
    gone (a wait that would end in ``TimeoutError`` once ``timeout`` has passed)."""
    from fastbp.dask.waiting import results

    with local_cluster(n_workers=1, threads_per_worker=1) as client:
        (victim,) = client.nthreads()
        pid = client.run(os.getpid)[victim]
        future = client.submit(np.arange, 1000, workers=[victim], pure=False)
        wait([future], timeout=60)
        os.kill(pid, signal.SIGSTOP)
        killer = threading.Timer(2.0, os.kill, (pid, signal.SIGKILL))
        killer.start()
        try:
            with pytest.raises(WorkerLostError, match="left the cluster during round 1") as lost:
                results(client, [future], [victim], timeout=30, doing="round 1")
        finally:
            killer.join()
        assert lost.value.workers == [victim]
        assert future.status == "cancelled"

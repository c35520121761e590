"""A Dask cluster for a test module, and Dask arrays whose row chunks sit on chosen workers.

Test modules import this by name (``from dask_cluster import ...``), as they import ``helpers``.
"""

import contextlib

import numpy as np

#: Worker environment of every test cluster: Numba's ``workqueue`` threading layer, the one that
#: aborts a process when two threads enter Numba parallel regions at once (fastbp must never enter
#: one), and one Numba thread, the cluster setting the README gives for the local estimators.
WORKER_ENV = {"NUMBA_THREADING_LAYER": "workqueue", "NUMBA_NUM_THREADS": "1"}


@contextlib.contextmanager
def local_cluster(n_workers, threads_per_worker):
    """A ``LocalCluster`` of worker processes and its client, closed on exit.

    Yields
    ------
    distributed.Client
    """
    from distributed import Client, LocalCluster

    # The scheduler serves HTTP even with no dashboard; on a port of its own (":0"), so two test
    # clusters at once never contend for the default one (a warning, an error under pytest).
    with LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker, processes=True,
                      dashboard_address=":0", worker_dashboard_address=None,
                      env=WORKER_ENV) as cluster, Client(cluster) as client:
        client.wait_for_workers(n_workers, timeout=60)
        yield client


@contextlib.contextmanager
def one_thread():
    """Run local fits as a single-threaded Dask task runs them: one epoch thread, and BLAS on one
    thread (as Dask's nanny sets it in worker processes; an OpenBLAS of several threads splits a
    large GEMM's sums differently)."""
    from fastbp.kernels.cpu.threads import thread_budget
    from threadpoolctl import threadpool_limits

    with thread_budget(1), threadpool_limits(limits=1, user_api="blas"):
        yield


def placed(client, array, chunk_rows, workers):
    """``array`` as a persisted Dask array whose ``i``-th row chunk is held by
    ``workers[i % len(workers)]``.

    Parameters
    ----------
    array : ndarray of shape (n, ...)
    chunk_rows : int
    workers : list of str

    Returns
    -------
    dask.array.Array
    """
    import dask
    import dask.array as da
    from distributed import wait

    with dask.annotate(workers=lambda key: [workers[key[1] % len(workers)]],
                       allow_other_workers=False):
        chunked = da.from_array(array, chunks=(chunk_rows,) + array.shape[1:])
    # unoptimised, so that every chunk keeps its annotation
    chunked = client.persist(chunked, optimize_graph=False)
    wait(chunked, timeout=60)
    return chunked


def by_blocks(method, X, Xd):
    """``method`` (a local estimator's ``predict``/``predict_proba``) on ``X`` one block of
    ``Xd``'s rows at a time, concatenated: what a prediction on the Dask array computes. A whole
    array computed at once can differ in the last bits, since BLAS's result for a row depends on
    the rows it is computed with (see ``Sequential.forward``)."""
    bounds = np.cumsum((0,) + tuple(Xd.chunks[0]))
    return np.concatenate([method(X[lo:hi]) for lo, hi in zip(bounds[:-1], bounds[1:])])

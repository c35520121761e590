"""The threads a fastbp training task may use on a Dask worker: the worker's, never more.

A Dask worker runs up to ``nthreads`` tasks at once and assumes each keeps to one core. Dask holds
OpenMP and BLAS to one thread in its worker processes, but not Numba, and Numba's thread setting is
one figure per process, so without this module every epoch on a worker would split its batches
across as many threads as the machine has cores, whatever the worker was given.

:func:`worker_threads` hands a training task a share of the worker's threads for one round of
training and takes it back afterwards:

* a task alone on its worker gets every thread no other task is running on;
* while another fastbp task holds threads, or waits for them, a task gets one;
* a task that finds no thread free (another fastbp task holds them all for its round) waits for
  the end of that round, at most ``timeout`` seconds.

So the epoch threads of all fastbp tasks in a worker process, plus the worker's other running
tasks, never exceed ``nthreads``, and at most one epoch in the process runs on several threads at
a time. Two would share the epoch thread pool of :mod:`fastbp.kernels.cpu.threads`, whose threads
take work in the order it arrives: two epochs of two threads each would take turns, and two of
three or more, handing out their work at the same moment, could each hold a pool thread that
waits for work queued behind the other's, for ever. BLAS is held to one thread in the whole worker process, as
Dask's nanny does through ``OPENBLAS_NUM_THREADS``: an epoch calls BLAS from each of its threads.
fastbp runs no Numba parallel region, so no Numba threading layer (``workqueue`` included) is ever
entered, by one task or by several at once.
"""

import threading
import time
from contextlib import contextmanager

from ..kernels.cpu import threads as cpu_threads

_turns = threading.Condition()
_granted = {}  # thread id -> threads granted to the fastbp task running on that thread
_waiting = [0]  # fastbp tasks waiting for threads in this process
_blas = []  # threadpoolctl's limit, kept for the life of the process once set


def _hold_blas_to_one():
    """BLAS on one thread for the rest of the process (never restored: a limit restored by one
    task while another runs would hand that one a threaded BLAS)."""
    if not _blas:
        from threadpoolctl import threadpool_limits

        _blas.append(threadpool_limits(limits=1, user_api="blas"))


def _free(nthreads, executing):
    """Threads no task holds: the worker's, less those granted to fastbp tasks, less one for each
    other task the worker is running (``executing`` counts every running task, waiters too)."""
    others = max(0, executing - len(_granted) - _waiting[0])
    return nthreads - sum(_granted.values()) - others


def _acquire(worker, timeout):
    me = threading.get_ident()
    deadline = time.monotonic() + timeout
    with _turns:
        _waiting[0] += 1
        try:
            while True:
                free = _free(worker.state.nthreads, worker.state.executing_count)
                if free >= 1:
                    alone = not _granted and _waiting[0] == 1
                    _granted[me] = free if alone else 1
                    return _granted[me]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"a fastbp task on worker {worker.address} waited {timeout:g} s for a "
                        f"thread of its {worker.state.nthreads}; other fastbp tasks held them "
                        f"all (raise the estimator's timeout, or give the worker more threads)")
                _turns.wait(left)
        finally:
            _waiting[0] -= 1


def _release():
    with _turns:
        _granted.pop(threading.get_ident(), None)
        _turns.notify_all()


@contextmanager
def worker_threads(timeout):
    """Context for one round of training in a Dask task: yields the epoch threads it may use.

    Parameters
    ----------
    timeout : float
        Seconds to wait for a thread when other fastbp tasks hold all of the worker's.

    Yields
    ------
    int
        Threads granted, at least 1.
    """
    from distributed import get_worker

    worker = get_worker()
    _hold_blas_to_one()
    threads = _acquire(worker, timeout)
    try:
        with cpu_threads.thread_budget(threads):
            yield threads
    finally:
        _release()

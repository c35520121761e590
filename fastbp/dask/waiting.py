"""Waiting for the workers' tasks, never without end.

Every task of a fit is pinned to the worker holding its rows. Dask does not fail such a task when
its worker dies: it waits for a worker that may never come back. So the client waits in slices of
``POLL_SECONDS``, asks the scheduler after each which workers are alive, and gives up with
:class:`WorkerLostError` as soon as one of the fit's workers has gone, or with ``TimeoutError``
once the fit's ``timeout`` has passed.
"""

import contextlib
import threading
import time

#: How often a waiting fit checks that its workers are alive: a lost worker is reported about
#: this long after the scheduler has noticed it.
POLL_SECONDS = 0.5


class WorkerLostError(RuntimeError):
    """A worker holding part of the training data left the cluster during a fit.

    Parameters
    ----------
    message : str
        What was lost, and during which step of the fit.
    workers : iterable of str
        The addresses of the workers lost (empty when the scheduler dropped a task without
        naming one).

    Attributes
    ----------
    workers : list of str
        The addresses of the workers lost.
    """

    def __init__(self, message, workers):
        super().__init__(message)
        self.workers = list(workers)


def _cancelled():
    """The exceptions ``distributed.wait`` raises for futures the scheduler cancelled."""
    from concurrent.futures import CancelledError

    try:
        from distributed.client import FuturesCancelledError
    except ImportError:  # distributed before 2024.11 raised CancelledError itself
        return (CancelledError,)
    return (CancelledError, FuturesCancelledError)


def _lost(client, workers):
    alive = client.nthreads()
    return [worker for worker in workers if worker not in alive]


def _slice(deadline, seconds):
    return max(0.0, min(seconds, deadline - time.monotonic()))


def _raise_if_dropped(futures, doing, dropped):
    """Raise if a task was dropped or failed."""
    if dropped is not None:
        raise WorkerLostError(f"the scheduler dropped a task of {doing} ({dropped})", [])
    failed = [future for future in futures if future.status == "error"]
    if failed:
        failed[0].result()  # raises the task's own exception
    gone = [future for future in futures if future.status in ("cancelled", "lost")]
    if gone:
        raise WorkerLostError(f"the result of {doing} was {gone[0].status} (its worker or the "
                              f"scheduler dropped it)", [])


@contextlib.contextmanager
def _cancelled_if_lost(client, futures, workers, deadline):
    """Cancel ``futures`` from a watching thread once one of ``workers`` has gone or ``deadline``
    has passed, for as long as the body runs.

    A worker can die after its task finished and before the client has fetched the result; the
    fetch then waits for the task Dask reschedules onto the worker that is gone. Cancelling makes
    the fetch raise ``CancelledError``. (A time limit on the fetch itself would end it too, but
    would leave Dask's own gathering tasks to fail later, unobserved.)
    """
    stop = threading.Event()

    def watch():
        try:
            while not stop.wait(_slice(deadline, POLL_SECONDS)):
                if time.monotonic() >= deadline or _lost(client, workers):
                    for future in futures:
                        future.cancel()
                    return
        except Exception:  # the client failing (closed, say): the fetch reports that itself
            return

    watcher = threading.Thread(target=watch, name="fastbp-dask-fetch-watch", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join()


def results(client, futures, workers, timeout, doing):
    """The results of ``futures``, waiting at most ``timeout`` seconds in all.

    Parameters
    ----------
    client : distributed.Client
    futures : list of distributed.Future
    workers : list of str
        The workers the futures run on (their rows live there).
    timeout : float
    doing : str
        What the futures do, for the error messages ("round 3 of epoch 2").

    Returns
    -------
    list
        In the order of ``futures``.

    Raises
    ------
    WorkerLostError
        As soon as one of ``workers`` has left the cluster; the futures are cancelled.
    TimeoutError
        After ``timeout`` seconds; the futures are cancelled.
    """
    from distributed import wait

    deadline = time.monotonic() + timeout
    try:
        while True:
            dropped = None
            try:
                wait(futures, timeout=_slice(deadline, POLL_SECONDS))
                if all(future.status == "finished" for future in futures):
                    with _cancelled_if_lost(client, futures, workers, deadline):
                        return [future.result() for future in futures]
            except TimeoutError:
                pass
            except _cancelled() as error:  # the scheduler forgot a task, as it does when the
                dropped = error            # worker a pinned task waits for has gone
            lost = _lost(client, workers)
            if lost:
                raise WorkerLostError(f"worker {', '.join(lost)} left the cluster during {doing}",
                                      lost)
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{doing} did not finish within timeout={timeout:g} s")
            _raise_if_dropped(futures, doing, dropped)
    except BaseException:
        for future in futures:
            future.cancel()
        raise

"""How many threads a CPU epoch may split its batches across; BLAS held to one thread meanwhile.

:func:`fastbp.kernels.cpu.train_epoch` runs one row shard of each mini-batch per Numba thread, each
shard calling BLAS itself. That only pays when every BLAS call stays on its calling thread: an
OpenBLAS with its own worker threads, called from two threads at once, stalls for milliseconds a
call. So the epoch runs threaded only where that can be guaranteed, and serially otherwise:

* BLAS is limited to one thread (threadpoolctl) for the epoch's duration, which needs threadpoolctl
  to recognise the BLAS that Numba calls (SciPy's);
* Numba's threading layer is OpenMP or TBB (``workqueue`` wakes its threads too slowly and aborts on
  launches from two Python threads at once);
* the process is not a ``fork()`` child of one that had started GNU OpenMP, where Numba would
  abort at the first parallel launch.
"""

import os
import threading
from contextlib import contextmanager

import numba

#: Fewest rows worth a thread of their own. On this project's 2-core VM, digits-sized layers
#: (64->100->10) trained 1.2x faster per epoch with two 16-row shards than with one 32-row batch,
#: and 1.7x with two 100-row shards.
MIN_SHARD_ROWS = 16

#: Fewest parameters worth splitting the optimizer update across threads: on a 418-parameter
#: model the second parallel region cost more than it saved; at 7,510 (digits) it paid.
MIN_CHUNK_PARAMETERS = 4096

_state = {"blas": None, "blas_limit_holds": None, "layer": None, "forked_after_gnu_openmp": False}
_held = threading.local()  # the thread count granted by an enclosing epoch_threads, per thread


def _threading_layer():
    """Numba's threading layer, started if it was not; "none" when no layer can start."""
    if _state["layer"] is None:
        # Numba has no public call that starts its threads without compiling a parallel function
        from numba.np.ufunc import parallel
        try:
            parallel._launch_threads()
            _state["layer"] = numba.threading_layer()
        except (ImportError, ValueError, AttributeError):
            _state["layer"] = "none"
    return _state["layer"]


def _after_fork_in_child():
    from numba.np.ufunc import parallel
    # GNU OpenMP is not fork-safe: Numba aborts a child's parallel launch if the parent had one
    if getattr(parallel, "_is_initialized", False) and _state["layer"] == "omp":
        _state["forked_after_gnu_openmp"] = True


os.register_at_fork(after_in_child=_after_fork_in_child)


def _blas():
    """threadpoolctl's handle on the BLAS libraries loaded, SciPy's (Numba's) among them."""
    if _state["blas"] is None:
        import scipy.linalg.cython_blas  # noqa: F401  (loads the BLAS Numba calls, if not yet)
        from threadpoolctl import ThreadpoolController
        _state["blas"] = ThreadpoolController().select(user_api="blas")
    return _state["blas"]


@contextmanager
def epoch_threads():
    """Context for one epoch: yields how many threads it may use, with BLAS single-threaded
    while it runs if that is more than one.

    Yields
    ------
    int
        ``numba.get_num_threads()`` where the conditions in this module's docstring hold, else 1.
    """
    granted = getattr(_held, "threads", 0)
    if granted:  # inside a training session: BLAS is already held
        yield granted
        return
    threads = numba.get_num_threads()
    if (threads < 2 or _threading_layer() not in ("omp", "tbb")
            or _state["forked_after_gnu_openmp"]):
        yield 1
        return
    blas = _blas()
    if not blas.lib_controllers:
        yield 1  # a BLAS threadpoolctl cannot limit
        return
    with blas.limit(limits=1):
        if _state["blas_limit_holds"] is None:
            _state["blas_limit_holds"] = all(info["num_threads"] == 1 for info in blas.info())
        _held.threads = threads if _state["blas_limit_holds"] else 1
        try:
            yield _held.threads
        finally:
            _held.threads = 0


def shard_count(threads, rows):
    """Row shards per batch of ``rows``: one per thread, each of at least ``MIN_SHARD_ROWS``."""
    return max(1, min(threads, rows // MIN_SHARD_ROWS))


def chunk_count(threads, n_parameters):
    """Pieces the optimizer update is split into: one per thread for large enough models."""
    return threads if n_parameters >= MIN_CHUNK_PARAMETERS else 1

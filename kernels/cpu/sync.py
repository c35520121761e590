"""How the CPU epoch's worker threads share a batch's work, in compiled code.

The epoch's workers are ordinary Python threads, each running one compiled, GIL-free function for
the whole epoch. A mini-batch has two phases of tasks: its row shards, then its parameter chunks.
A worker takes its own task of the phase, then every other one still free (:func:`take`), so
that when every worker runs each computes its own share, whose data stays in its core's cache; the
worker that finishes the phase's last task does the phase's bookkeeping and opens the next phase,
for which the others wait (:func:`wait_for`). No worker waits for a particular other one: a thread
the OS has descheduled (another process on the same cores) holds up the batch only while it holds
a task, and the threads that run do the rest. Which thread computes a task does not change its
result, so the weights do not depend on the thread count or on scheduling.

Numba offers no atomics on the CPU, so the three operations needed are emitted as LLVM atomics
(:mod:`fastbp.kernels.cpu.numba_internals`). A waiting thread spins briefly (a phase's tasks take
tens to hundreds of microseconds), then yields its core with ``sched_yield`` on every further check,
so that a worker the OS has descheduled gets the core back instead of spinning threads keeping it
out.

On the public path (:mod:`fastbp.kernels.cpu.numba_path`) the same three functions enter Python
(``numba.objmode``, which takes the GIL) and act under one lock, and a waiting thread checks under
the lock, yielding its core (and the GIL) between checks: each meeting costs microseconds more.
"""

import os
import threading

import numba
from numba import njit

from ..disk_cache import check_once
from .numba_path import FAST, WITHOUT_WRAPPERS

check_once()  # before anything here can be loaded from Numba's disk cache (kernels/disk_cache.py)

#: Checks a waiting thread makes before it starts yielding its core.
SPINS_BEFORE_YIELD = 2000

if FAST:
    from .numba_internals import (atomic_add as _atomic_add, atomic_load as _atomic_load,
                                  compare_exchange as _compare_exchange,
                                  sched_yield as _sched_yield, spin_hint as _spin_hint)


# compiled code only calls these: no wrappers for Python
_internal = njit(cache=True, nogil=True, **WITHOUT_WRAPPERS)


# inlined at Numba's IR level: one compare-and-swap is not worth a compile of its own
@njit(cache=True, nogil=True, inline="always")
def _take_atomic(taken, task, batch):
    """Take ``task`` of mini-batch ``batch`` if no worker has: each task's entry in ``taken``
    counts the batches whose task has been taken, so it holds ``batch`` until this one is.

    Parameters
    ----------
    taken : ndarray of int64
        One entry per task of a batch, shared by the workers; zeros at the epoch's start.
    task, batch : int

    Returns
    -------
    bool
        Whether this call took it.
    """
    return _compare_exchange(taken, task, batch, batch + 1)


@_internal
def _wait_for_atomic(sync, index, value, abort):
    """Wait until ``sync[index] >= value``, or until ``sync[abort]`` is not zero.

    Parameters
    ----------
    sync : ndarray of int64
        Shared by the workers.
    index : int
        The counter waited on; written with ``atomic_add``.
    value : int
    abort : int
        Where a worker that stops early (its error, a diverged loss) writes a non-zero value.

    Returns
    -------
    bool
        True if the workers were told to stop: the caller must.
    """
    checks = 0
    while _atomic_load(sync, index) < value:
        if _atomic_load(sync, abort) != 0:
            return True
        checks += 1
        if checks > SPINS_BEFORE_YIELD:
            _sched_yield()
        else:
            _spin_hint()
    return _atomic_load(sync, abort) != 0


# ---- the public path: Python, under a lock ------------------------------------------------------

_lock = threading.Lock()


def _add(array, index, value):
    with _lock:
        old = int(array[index])
        array[index] = old + value
    return old


def _exchange(array, index, expected, value):
    with _lock:
        if array[index] != expected:
            return False
        array[index] = value
    return True


def _wait(sync, index, value, abort):
    while True:
        with _lock:  # a read under the lock sees every write made before the writer's release
            reached, stop = sync[index] >= value, sync[abort] != 0
        if stop:
            return True
        if reached:
            return False
        os.sched_yield()  # lets the GIL and the core go


# Without nogil: the objmode block takes the GIL whatever the caller holds, and Numba warns of a
# nogil function that runs one.
_python_bound = njit(cache=True)


@_python_bound
def _atomic_add_locked(array, index, value):
    with numba.objmode(old="int64"):
        old = _add(array, index, value)
    return old


@_python_bound
def _take_locked(taken, task, batch):
    with numba.objmode(done="boolean"):
        done = _exchange(taken, task, batch, batch + 1)
    return done


@_python_bound
def _wait_for_locked(sync, index, value, abort):
    with numba.objmode(stop="boolean"):
        stop = _wait(sync, index, value, abort)
    return stop


if FAST:
    atomic_add, take, wait_for = _atomic_add, _take_atomic, _wait_for_atomic
else:
    atomic_add, take, wait_for = _atomic_add_locked, _take_locked, _wait_for_locked

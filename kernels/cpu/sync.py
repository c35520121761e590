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
(``numba.objmode``, which takes the GIL) and act under one lock, and a waiting thread sleeps on a
condition that each addition notifies: each meeting costs a microsecond or two more, and a worker
that waits for another is woken later than a spinning one would see the phase open.
"""

import platform
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
_changed = threading.Condition(_lock)  # notified at an addition, which is what a waiter awaits
_waiters = [0]  # threads waiting on _changed: an addition with none to wake notifies no one
_ADD, _TAKE, _WAIT = range(3)

#: How long a waiting thread sleeps at most before it looks again: a stop written from Python
#: (a failed worker, kernels/cpu/epoch.py) comes with no notice.
WAIT_SECONDS = 0.01


def _meet(operation, array, index, a, b):
    """``_ADD``: ``array[index] += a``, returning the old value; ``_TAKE``: ``array[index] = b``
    if it holds ``a``, returning 1 if it did; ``_WAIT``: wait until ``array[index] >= a`` or
    ``array[b] != 0``, returning 1 in the second case. Each under the lock: a read under it sees
    every write made before a release of it. A waiting thread sleeps (holding neither the GIL nor
    its core) until an addition wakes it: threads that took turns with the GIL to check would hand
    it to each other too slowly."""
    if operation == _ADD:
        with _lock:
            old = array.item(index)
            array[index] = old + a
            if _waiters[0]:
                _changed.notify_all()
        return old
    if operation == _TAKE:
        with _lock:
            if array.item(index) != a:
                return 0
            array[index] = b
        return 1
    with _lock:
        _waiters[0] += 1
        try:
            while array.item(index) < a and array.item(b) == 0:
                _changed.wait(WAIT_SECONDS)
        finally:
            _waiters[0] -= 1
        return int(array.item(b) != 0)


if not FAST:  # compiled (or loaded) on import, for one signature: the public path's alone
    # One block in Python for the three, compiled for one signature (not for each literal its
    # callers pass), so that a process compiles few: Numba compiles the Python side of an objmode
    # block anew in each process, once for each cached function it is part of. Without nogil, as
    # the block takes the GIL whatever its caller holds, and Numba warns of a nogil function that
    # runs one.
    @njit("int64(int64, int64[::1], int64, int64, int64)", cache=True)
    def _meeting(operation, array, index, a, b):
        with numba.objmode(result="int64"):
            result = _meet(operation, array, index, a, b)
        return result


@njit(cache=True, nogil=True, inline="always")
def _atomic_add_locked(array, index, value):
    return _meeting(_ADD, array, index, value, 0)


@njit(cache=True, nogil=True, inline="always")
def _take_locked(taken, task, batch):
    return _meeting(_TAKE, taken, task, batch, batch + 1) != 0


# x86 keeps a thread's loads in order (its memory model is total store order): a plain read that
# finds the phase open already, as a worker that opened it itself always does, needs no meeting,
# since every write made before the opener's release is visible to the loads after it. Elsewhere
# every check meets under the lock.
_IN_ORDER_LOADS = platform.machine().lower() in ("x86_64", "amd64")


@njit(cache=True, nogil=True, inline="always")
def _wait_for_locked(sync, index, value, abort):
    if _IN_ORDER_LOADS and sync[index] >= value and sync[abort] == 0:
        return False
    return _meeting(_WAIT, sync, index, value, abort) != 0


if FAST:
    atomic_add, take, wait_for = _atomic_add, _take_atomic, _wait_for_atomic
else:
    atomic_add, take, wait_for = _atomic_add_locked, _take_locked, _wait_for_locked

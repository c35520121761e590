"""BLAS held to one thread by compiled code: a process-wide hold, counted, that a compiled call
takes on entry and gives back on exit, without the GIL and for a few nanoseconds.

Every compiled GEMM of this backend must run on one BLAS thread (:mod:`fastbp.kernels.cpu.threads`
says why: results that do not depend on the thread count, and OpenBLAS's own threads stalling when
two callers share them or another process shares the cores). threadpoolctl sets the limit in
microseconds, with the GIL, and, since its version 3.8, only from the first Python thread that set
an OpenBLAS limit (from any other it silently does nothing). A one-row prediction takes a few
microseconds in all, so the forward pass (:mod:`fastbp.kernels.cpu.forward`) takes this hold from
its own compiled code instead, and so do training sessions (through :func:`take` and
:func:`give_back`, from Python), so that both count on the same holders.

The hold is one int64 array (:func:`hold`): a spin lock, the number of holders, the number of
libraries, then per library the addresses of its ``get_num_threads`` and ``set_num_threads`` and
the thread count it had before the first holder came. The first holder saves every library's
count and sets it to one; the last puts the saved counts back. The calls to those functions and
the lock's atomics are Numba internals (:mod:`.numba_internals`): on the public-API path
(:mod:`.numba_path`) the hold covers no library, :func:`available` is False, and callers take
threadpoolctl's limit instead. It covers the BLAS libraries
threadpoolctl finds that are OpenBLAS on its own threads (a process-wide setting, which OpenBLAS
on OpenMP and other vendors' BLAS are not): where any other BLAS is loaded, :func:`hold` has no
libraries and :func:`available` is False, and callers take threadpoolctl's limit instead.
"""

import ctypes
import os
import threading

import numpy as np
from numba import njit

from ..disk_cache import check_once
from .numba_path import FAST
from .sync import SPINS_BEFORE_YIELD, atomic_add

if FAST:
    from .numba_internals import (call_int_getter as _c_get, call_int_setter as _c_set,
                                  compare_exchange as _compare_exchange,
                                  sched_yield as _sched_yield, spin_hint as _spin_hint)

check_once()  # before anything here can be loaded from Numba's disk cache (kernels/disk_cache.py)

LOCK, HOLDERS, LIBRARIES, FIRST = 0, 1, 2, 3  # the hold's header; each library: get, set, saved
MAX_LIBRARIES = 8

# the hold array, each library's ctypes set_num_threads, and whether the hold covers every BLAS
_state = {"hold": None, "setters": [], "available": False}
_make_lock = threading.Lock()


_inline = njit(cache=True, nogil=True, error_model="numpy", inline="always")


@_inline
def _lock(hold):
    checks = 0
    while not _compare_exchange(hold, LOCK, 0, 1):
        checks += 1
        if checks > SPINS_BEFORE_YIELD:
            _sched_yield()
        else:
            _spin_hint()


@_inline
def hold_blas(hold):
    """Join the holders of ``hold``: the first saves each library's thread count and sets it to
    one. For compiled code; inlined."""
    if hold[LIBRARIES] == 0:
        return
    _lock(hold)
    if hold[HOLDERS] == 0:
        for library in range(hold[LIBRARIES]):
            entry = FIRST + 3 * library
            saved = _c_get(hold[entry])
            hold[entry + 2] = saved
            if saved != 1:
                _c_set(hold[entry + 1], 1)
    hold[HOLDERS] += 1
    atomic_add(hold, LOCK, -1)  # unlocks, after every write above


@_inline
def release_blas(hold):
    """Leave the holders of ``hold``: the last puts each library's thread count back."""
    if hold[LIBRARIES] == 0:
        return
    _lock(hold)
    hold[HOLDERS] -= 1
    if hold[HOLDERS] == 0:
        for library in range(hold[LIBRARIES]):
            entry = FIRST + 3 * library
            if hold[entry + 2] != 1:
                _c_set(hold[entry + 1], hold[entry + 2])
    atomic_add(hold, LOCK, -1)


@njit(cache=True, nogil=True, error_model="numpy")
def take(hold):
    """:func:`hold_blas`, for Python callers (a training session)."""
    hold_blas(hold)


@njit(cache=True, nogil=True, error_model="numpy")
def give_back(hold):
    """:func:`release_blas`, for Python callers."""
    release_blas(hold)


@njit(cache=True, nogil=True, error_model="numpy")
def user_limit(hold):
    """The fewest threads any held library is set to by its user: the count saved by the first
    holder while the hold is taken (the one thread is fastbp's own), else the current count;
    ``-1`` without libraries."""
    least = -1
    _lock(hold)
    for library in range(hold[LIBRARIES]):
        entry = FIRST + 3 * library
        threads = hold[entry + 2] if hold[HOLDERS] > 0 else _c_get(hold[entry])
        if least < 0 or threads < least:
            least = threads
    atomic_add(hold, LOCK, -1)
    return least


if not FAST:
    # Numba's public API alone: the hold covers no library (:func:`hold` makes it with none), so
    # there is nothing to call, and the functions above, which call through addresses, are
    # replaced before anything compiles them.
    @_inline
    def hold_blas(hold):  # noqa: F811
        """Nothing: no library is held on the public-API path."""

    @_inline
    def release_blas(hold):  # noqa: F811
        """Nothing: no library is held on the public-API path."""

    @njit(cache=True, nogil=True, error_model="numpy")
    def take(hold):  # noqa: F811
        """Nothing: no library is held on the public-API path."""

    @njit(cache=True, nogil=True, error_model="numpy")
    def give_back(hold):  # noqa: F811
        """Nothing: no library is held on the public-API path."""

    @njit(cache=True, nogil=True, error_model="numpy")
    def user_limit(hold):  # noqa: F811
        """``-1``: no library is held on the public-API path."""
        return -1


def _symbol(controller, name):
    """The ctypes function ``name`` of an OpenBLAS, with the prefix and suffix its build gave it
    (``scipy_openblas_get_num_threads``, ``openblas_get_num_threads64_``); None where
    threadpoolctl does not give the library's handle (its ``dynlib``, which older releases lack):
    the callers then take threadpoolctl's limit."""
    library = getattr(controller, "dynlib", None)
    if library is None:
        return None
    for prefix in ("", "scipy_"):
        for suffix in ("", "64_", "_64"):
            function = getattr(library, f"{prefix}{name}{suffix}", None)
            if function is not None:
                return function
    return None


def _libraries(controllers):
    """``(get, set)`` ctypes functions of each library the hold covers, or None where a BLAS it
    cannot hold (another vendor's, or OpenBLAS on OpenMP) is loaded."""
    found = []
    for controller in controllers:
        if controller.internal_api != "openblas":
            return None
        layer = getattr(controller, "threading_layer", "unknown")
        if layer == "disabled":
            continue  # a single-threaded build: nothing to hold
        if layer != "pthreads":
            return None
        functions = (_symbol(controller, "openblas_get_num_threads"),
                     _symbol(controller, "openblas_set_num_threads"))
        if None in functions:
            return None
        found.append(functions)
    return found if len(found) <= MAX_LIBRARIES else None


def hold(controllers):
    """The process's hold: an int64 array for :func:`hold_blas`, made on the first call for the
    BLAS libraries of ``controllers`` (:func:`fastbp.kernels.cpu.threads.blas_hold_state` passes
    them), the same array after.

    Parameters
    ----------
    controllers : threadpoolctl.ThreadpoolController
        threadpoolctl's selection of the BLAS libraries loaded.

    Returns
    -------
    ndarray of int64
        With no libraries where a BLAS it cannot hold is loaded (:func:`available` is False).
    """
    made = _state["hold"]
    if made is not None:
        return made
    with _make_lock:
        if _state["hold"] is None:
            libraries = _libraries(controllers.lib_controllers) if FAST else None
            state = np.zeros(FIRST + 3 * MAX_LIBRARIES, np.int64)
            for i, (get, set_) in enumerate(libraries or ()):
                get.restype, get.argtypes = ctypes.c_int, []
                set_.restype, set_.argtypes = None, [ctypes.c_int]
                state[FIRST + 3 * i] = ctypes.cast(get, ctypes.c_void_p).value
                state[FIRST + 3 * i + 1] = ctypes.cast(set_, ctypes.c_void_p).value
            state[LIBRARIES] = len(libraries or ())
            _state["setters"] = [set_ for _, set_ in libraries or ()]
            _state["available"] = libraries is not None
            _state["hold"] = state
    return _state["hold"]


def available():
    """Whether :func:`hold` covers every BLAS loaded (False before it is made)."""
    return _state["available"]


def _reset_in_child():
    # a forked child has one thread: holders that were in the parent's other threads never give
    # the hold back, so the child puts the counts back and starts with no holder and no lock
    state = _state["hold"]
    if state is None or state[HOLDERS] == 0:
        if state is not None:
            state[LOCK] = 0
        return
    for i, set_ in enumerate(_state["setters"]):
        saved = int(state[FIRST + 3 * i + 2])
        if saved != 1:
            set_(saved)
    state[LOCK] = state[HOLDERS] = 0


os.register_at_fork(after_in_child=_reset_in_child)

"""One line on stderr when the CPU kernels are about to be compiled, so a slow first call is
explained rather than mistaken for a hang.

The line goes through :mod:`logging` (logger ``fastbp``, level WARNING, so that Python prints it
even where the application configured no logging), at most once per process and dtype. It is
silenced by ``FASTBP_QUIET=1``, by setting the ``fastbp`` logger's level above WARNING, and inside
:func:`silenced` (``fastbp warmup``, whose whole point is to compile).

How "about to compile" is detected: Numba broadcasts a ``"numba:compile"`` event when a
dispatcher has found nothing in memory or in its disk cache for a signature and starts compiling
it; a signature loaded from the cache broadcasts nothing. So the notice is said exactly when a
compile starts, before its seconds are spent, for the very function and argument types concerned,
and never when the cache serves. Numba's event API is not among its documented ones: it is reached
through :func:`fastbp.kernels.numba_internals.listen_to_compiles`, and where that is unavailable
(``FASTBP_NUMBA_PUBLIC_ONLY=1``, an untested Numba) no notice is given. The listener reports
only the outermost compile in a thread (the helpers a kernel calls compile inside its compile) and
only this package's CPU kernels (modules ``fastbp.kernels.cpu*``) that take floating-point
arrays; the dtype is the first floating-point array among the compiled signature's arguments.

:func:`install` is called once, before any kernel can be loaded or compiled, by
:func:`fastbp.kernels.disk_cache.check_once`. This module imports nothing but the standard library,
Numba and :mod:`fastbp.kernels.numba_internals`.
"""

import contextlib
import logging
import os
import threading

LOGGER = logging.getLogger("fastbp")

#: Modules whose compiles are announced: the CPU backend's (``cpu.py``, ``cpu_*.py``).
MODULE_PREFIX = "fastbp.kernels.cpu"

#: The environment variable that silences the notice (any value but "", "0", "false", "no").
QUIET_VARIABLE = "FASTBP_QUIET"

_state = {"installed": False, "listening": False, "announced": set(), "silenced": 0}
_lock = threading.Lock()
_depth = threading.local()  # compiles in progress on this thread, outermost first


def message(dtype):
    """The notice for ``dtype`` (a name such as ``"float64"``, or None where unknown)."""
    kernels = "the CPU kernels" + (f" for {dtype}" if dtype else "")
    return (f"fastbp: compiling {kernels}, once; later runs load them from the cache (run "
            f"`fastbp warmup` to do this ahead of time)")


def quiet():
    """Whether ``FASTBP_QUIET`` asks for silence."""
    return os.environ.get(QUIET_VARIABLE, "").strip().lower() not in ("", "0", "false", "no")


def install():
    """Start listening to Numba's compiles (idempotent; thread-safe).

    Returns
    -------
    bool
        Whether compiles will be noticed (Numba's compile events are available).
    """
    with _lock:
        if not _state["installed"]:
            from .numba_internals import listen_to_compiles

            _state["listening"] = listen_to_compiles(_compile_started, _compile_ended)
            _state["installed"] = True
        return _state["listening"]


@contextlib.contextmanager
def silenced():
    """No notice while the block runs (in any thread): for code that compiles on purpose."""
    with _lock:
        _state["silenced"] += 1
    try:
        yield
    finally:
        with _lock:
            _state["silenced"] -= 1


def announce(module, argument_types):
    """Log the notice if a compile of ``module``'s function for ``argument_types`` is one to
    announce: a CPU kernel, for a dtype not announced yet in this process, nothing silencing it.

    Parameters
    ----------
    module : str
        The module of the function about to be compiled.
    argument_types : sequence of numba types

    Returns
    -------
    bool
        Whether the notice was logged.
    """
    if not module.startswith(MODULE_PREFIX) or quiet():
        return False
    dtype = dtype_of(argument_types)
    if dtype is None:
        # no floating-point array: a small helper (the BLAS hold, the orders' draw, a meeting),
        # compiled in a fraction of a second, whose notice would take the place of the kernels'
        return False
    with _lock:
        if _state["silenced"] or dtype in _state["announced"]:
            return False
        _state["announced"].add(dtype)
    if not LOGGER.isEnabledFor(logging.WARNING):
        return False
    LOGGER.warning(message(dtype))
    return True


def dtype_of(argument_types):
    """The name of the first floating-point array's dtype among ``argument_types`` (searched
    through tuples and records too), or None."""
    from numba import types

    pending = list(argument_types)
    while pending:
        found = pending.pop(0)
        if isinstance(found, types.Array) and isinstance(found.dtype, types.Float):
            return str(found.dtype)
        inner = getattr(found, "types", None)  # tuples and named tuples (the kernels' records)
        if isinstance(inner, tuple):
            pending[:0] = inner
    return None


def _compile_started(module, argument_types):
    """Announce the outermost compile on each thread (:func:`announce`); never raises, so that it
    cannot break a compile."""
    depth = getattr(_depth, "value", 0)
    _depth.value = depth + 1
    if depth:
        return  # a helper compiled inside a compile already announced (or not to be)
    try:
        announce(module, argument_types)
    except Exception:  # noqa: BLE001  a notice is never worth a failed compile
        pass


def _compile_ended():
    _depth.value = max(0, getattr(_depth, "value", 1) - 1)

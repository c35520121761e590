"""Which Numba the CPU backend builds on: its internals (the fast path) or its documented API alone.

Decided once, at import, before any kernel module defines a compiled function:

* the **fast path** uses :mod:`fastbp.kernels.cpu.numba_internals` (calls through addresses,
  Numba's BLAS helpers, LLVM atomics, functions without wrappers) where the running Numba is within
  :data:`fastbp.kernels.numba_internals.TESTED_NUMBA`, ``FASTBP_NUMBA_PUBLIC_ONLY`` is unset, and
  every probe of :func:`fastbp.kernels.cpu.numba_internals.probe` passes;
* the **public path** otherwise: the same kernels built on ``@njit`` calls, branches on the integer
  codes (:mod:`fastbp.kernels.cpu.public_tables`), ``np.dot`` for BLAS, ``numba.objmode`` and a
  lock for the threads' meetings, and Numba's own ``cache=True``. Its results agree with the fast
  path's within the tests' tolerances; it compiles more on a cold start (every kernel of a table at
  once, the epoch's parts inside the epoch), and each call from Python, each of the threads'
  meetings and each matrix product costs a little more. Unless the variable asked for it, one
  ``RuntimeWarning`` says so.

The kernel modules import the pieces that differ from :mod:`~fastbp.kernels.cpu.tables`,
:mod:`~fastbp.kernels.cpu.calls`, :mod:`~fastbp.kernels.cpu.blas` and
:mod:`~fastbp.kernels.cpu.sync` under the same names on both paths, and their compile options and
entry points from here.

The two paths never serve each other's compiled code from a shared cache: every compiled function
whose code differs between them takes a kernel table, and a table is an int64 array of addresses on
the fast path, an int32 array of codes on the public one, so their signatures differ.
"""

import warnings
from typing import NamedTuple

import numba

from .. import numba_internals as shared


class NumbaPath(NamedTuple):
    """The path the CPU kernels take, and why."""
    fast: bool
    reason: str         # why the public path; "" on the fast path
    numba_version: str

    def describe(self):
        """One line for ``fastbp info``."""
        if self.fast:
            return (f"fast path: Numba {self.numba_version}'s internals (tested with "
                    f"{shared.TESTED_NUMBA[0]} to {shared.TESTED_NUMBA[1]})")
        return f"public API path: {self.reason}"


def _choose():
    version = numba.__version__
    if shared.public_only_requested():
        return NumbaPath(False, f"{shared.PUBLIC_ONLY_VARIABLE}=1 is set", version)
    reason = shared.untested_version(version)
    if reason is None:
        try:
            from . import numba_internals
        except Exception as error:  # noqa: BLE001  any failure sends the backend to the public path
            first = (str(error).strip().splitlines() or [""])[0]
            reason = (f"Numba {version}'s internals could not be imported "
                      f"({type(error).__name__}: {first[:200]})")
        else:
            failed = numba_internals.probe()
            if failed is None:
                return NumbaPath(True, "", version)
            reason = f"a probe of Numba {version}'s internals failed: {failed}"
    warnings.warn(
        f"fastbp: the CPU kernels run on Numba's documented API alone ({reason}). Results are "
        f"the same; the first compile takes longer, and small epochs and one-row predictions are "
        f"slower. Set {shared.PUBLIC_ONLY_VARIABLE}=1 to choose this path without the warning.",
        RuntimeWarning, stacklevel=2)
    return NumbaPath(False, reason, version)


#: The path chosen for this process.
PATH = _choose()

#: Whether the CPU kernels use Numba's internals.
FAST = PATH.fast

if FAST:
    from .numba_internals import (WITHOUT_CFUNC_WRAPPER, WITHOUT_WRAPPERS, entry_point,
                                  is_compiled)
else:
    #: Compile options of a function only compiled code calls (no wrappers on the fast path).
    WITHOUT_WRAPPERS = {}
    #: Compile options of a function only Python calls (no C wrapper on the fast path).
    WITHOUT_CFUNC_WRAPPER = {}

    def is_compiled(dispatcher, argument_types):
        """Whether ``dispatcher`` holds compiled code for ``argument_types``."""
        return tuple(argument_types) in dispatcher.signatures

    def entry_point(dispatcher, argument_types):
        """What Python calls for ``dispatcher``'s compiled code: the dispatcher itself, which
        types its arguments on every call."""
        return dispatcher

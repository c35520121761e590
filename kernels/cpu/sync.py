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
here. A waiting thread spins briefly (a phase's tasks take tens to hundreds of microseconds), then
yields its core with ``sched_yield`` on every further check, so that a worker the OS has
descheduled gets the core back instead of spinning threads keeping it out.
"""

import platform

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from ..disk_cache import check_once

check_once()  # before anything here can be loaded from Numba's disk cache (kernels/disk_cache.py)

#: Checks a waiting thread makes before it starts yielding its core.
SPINS_BEFORE_YIELD = 2000

_sched_yield = types.ExternalFunction("sched_yield", types.intc())


# The processor's spin-wait hint: it keeps a spinning thread from taking execution resources from
# the thread it waits for (an SMT sibling) and lets a hypervisor see the spin; GNU OpenMP's
# barriers use the same instruction.
_X86 = platform.machine().lower() in ("x86_64", "amd64")


@intrinsic
def _spin_hint(typingctx):
    """One spin-wait hint instruction, ``pause``, on x86 (nothing elsewhere)."""
    def codegen(context, builder, sig, args):
        if _X86:
            pause = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.VoidType(), []), "llvm.x86.sse2.pause")
            builder.call(pause, [])
        return context.get_dummy_value()
    return types.void(), codegen


def _element_pointer(context, builder, array_type, array, index):
    ary = context.make_array(array_type)(context, builder, array)
    return cgutils.get_item_pointer(context, builder, array_type, ary, [index])


@intrinsic
def atomic_add(typingctx, array, index, value):
    """``array[index] += value`` atomically (sequentially consistent); returns the old value."""
    def codegen(context, builder, sig, args):
        pointer = _element_pointer(context, builder, sig.args[0], args[0], args[1])
        return builder.atomic_rmw("add", pointer, args[2], "seq_cst")
    return types.int64(array, index, types.int64), codegen


@intrinsic
def _atomic_load(typingctx, array, index):
    """``array[index]``, read atomically with acquire ordering."""
    def codegen(context, builder, sig, args):
        pointer = _element_pointer(context, builder, sig.args[0], args[0], args[1])
        return builder.load_atomic(pointer, "acquire", 8)
    return types.int64(array, index), codegen


@intrinsic
def _compare_exchange(typingctx, array, index, expected, value):
    """``array[index] = value`` if it holds ``expected`` (atomically, sequentially consistent);
    returns whether it did."""
    def codegen(context, builder, sig, args):
        pointer = _element_pointer(context, builder, sig.args[0], args[0], args[1])
        pair = builder.cmpxchg(pointer, args[2], args[3], "seq_cst", "seq_cst")
        return builder.extract_value(pair, 1)
    return types.boolean(array, index, types.int64, types.int64), codegen


# compiled code only calls these: no wrappers for Python
_internal = njit(cache=True, nogil=True, no_cpython_wrapper=True, no_cfunc_wrapper=True)


# inlined at Numba's IR level: one compare-and-swap is not worth a compile of its own
@njit(cache=True, nogil=True, inline="always")
def take(taken, task, batch):
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
def wait_for(sync, index, value, abort):
    """Wait until ``sync[index] >= value``, or until ``sync[abort]`` is not zero.

    Parameters
    ----------
    sync : ndarray of int64
        Shared by the workers.
    index : int
        The counter waited on; written with :func:`atomic_add`.
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

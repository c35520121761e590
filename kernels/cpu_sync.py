"""A barrier for the CPU epoch's worker threads, in compiled code.

The epoch's workers are ordinary Python threads, each running one compiled, GIL-free function for
the whole epoch; they meet twice per mini-batch (after the shard gradients, after the update). A
barrier in Python would cost tens of microseconds per meeting, and Numba offers no atomics on the
CPU, so the two operations it needs are emitted as LLVM atomics here.

A waiting thread spins briefly (a meeting between running threads takes well under a
microsecond), then yields its core with ``sched_yield`` on every further check, so that a worker the
OS has descheduled (another process on the same cores) gets the core back instead of spinning
threads keeping it out.
"""

import platform

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

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


# compiled code only calls this: no wrappers for Python
@njit(cache=True, nogil=True, no_cpython_wrapper=True, no_cfunc_wrapper=True)
def barrier(sync, n_workers):
    """Wait until ``n_workers`` threads have called this with the same ``sync``, or until one
    of them gives up.

    Parameters
    ----------
    sync : ndarray of int64, shape (3,)
        Zeros before the first meeting: ``[arrived, generation, abort]``, shared by the workers.
        A thread that fails sets ``abort`` to 1 (from Python: a plain store is enough).
    n_workers : int

    Returns
    -------
    bool
        True if the workers were told to abort: the caller must stop.
    """
    if n_workers == 1:
        return False
    generation = _atomic_load(sync, 1)
    if atomic_add(sync, 0, 1) == n_workers - 1:
        atomic_add(sync, 0, -n_workers)  # the last to arrive resets the count...
        atomic_add(sync, 1, 1)           # ...then releases the others
        return _atomic_load(sync, 2) != 0
    checks = 0
    while _atomic_load(sync, 1) == generation:
        if _atomic_load(sync, 2) != 0:
            return True
        checks += 1
        if checks > SPINS_BEFORE_YIELD:
            _sched_yield()
        else:
            _spin_hint()
    return _atomic_load(sync, 2) != 0

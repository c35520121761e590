"""Every use of Numba beyond its documented API in the CPU backend, and the probes that check them.

The CPU backend's speed and its short cold start rest on these (the modules that use them say why):

* compiled functions without Python or C wrappers (the ``no_cpython_wrapper`` and
  ``no_cfunc_wrapper`` flags): :data:`WITHOUT_WRAPPERS`, :data:`WITHOUT_CFUNC_WRAPPER`;
* the address of a compiled function and calls to an address in Numba's calling convention
  (``overloads``, ``library.get_pointer_to_function``, ``context.call_conv``): :func:`address`,
  :func:`call_3` ... :func:`call_7`, :func:`float64_call_7`, :func:`float64_call_9`;
* a dispatcher's compiled entry point, called without typing its arguments: :func:`entry_point`;
* Numba's BLAS helpers ``numba_xxgemm`` and ``numba_xxgemv`` (``numba.np.linalg``): :data:`xxgemm`,
  :data:`xxgemv`;
* LLVM atomics and a spin-wait hint emitted through ``numba.core.cgutils`` and llvmlite, and
  ``sched_yield`` linked as an external function: :func:`atomic_add`, :func:`atomic_load`,
  :func:`compare_exchange`, :func:`spin_hint`, :data:`sched_yield`;
* calls to a C function at an address (a BLAS's ``get_num_threads``/``set_num_threads``, for the
  compiled BLAS hold of :mod:`fastbp.kernels.cpu.blas_hold`): :func:`call_int_getter`,
  :func:`call_int_setter`; a bit generator's ``next_uint32``/``next_uint64`` (for the orders
  drawn in compiled code, :mod:`fastbp.kernels.cpu.orders`): :func:`call_uint32_at`,
  :func:`call_uint64_at`.

:func:`probe` checks each on a tiny compiled function. :mod:`fastbp.kernels.cpu.numba_path`
imports this module only where Numba is of a tested version and ``FASTBP_NUMBA_PUBLIC_ONLY`` is
unset, and runs the CPU backend on Numba's documented API alone where the import or a probe fails.
Nothing else in the backend names these internals (``tests/test_numba_internals_audit.py``).
"""

import platform

import numpy as np
from llvmlite import ir
from numba import njit, typeof, types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.linalg import ensure_blas

from ..compile_notice import silenced
from .scipy_blas import load as load_scipy_blas
from ..disk_cache import check_once

check_once()  # before the probes can be loaded from Numba's disk cache (kernels/disk_cache.py)

#: Options of a function only compiled code calls: no wrapper for Python, none for C.
WITHOUT_WRAPPERS = {"no_cpython_wrapper": True, "no_cfunc_wrapper": True}

#: Options of a function called from Python only: no wrapper for C.
WITHOUT_CFUNC_WRAPPER = {"no_cfunc_wrapper": True}


# ---- compiled functions and their addresses -----------------------------------------------------

def address(dispatcher, argument_types):
    """The address of ``dispatcher`` compiled (or loaded from the cache) for ``argument_types``,
    callable in Numba's calling convention by :func:`call_3` and its siblings.

    Parameters
    ----------
    dispatcher : numba dispatcher
    argument_types : tuple of numba types

    Returns
    -------
    int
    """
    argument_types = tuple(argument_types)
    result = dispatcher.overloads.get(argument_types)
    if result is None:
        dispatcher.compile(argument_types)
        result = dispatcher.overloads[argument_types]
    return result.library.get_pointer_to_function(result.fndesc.llvm_func_name)


def is_compiled(dispatcher, argument_types):
    """Whether ``dispatcher`` holds compiled code for ``argument_types`` (a tuple of numba
    types)."""
    return tuple(argument_types) in dispatcher.overloads


def entry_point(dispatcher, argument_types):
    """The compiled code of ``dispatcher`` for ``argument_types``, callable from Python without the
    dispatcher's typing of every argument on every call; it must be compiled already."""
    return dispatcher.overloads[tuple(argument_types)].entry_point


def _call_at_address(context, builder, signature, args):
    """Codegen of an intrinsic that calls the compiled function at address ``args[0]`` with
    ``args[1:]`` in Numba's calling convention; its error returns from the caller, as a call of a
    jitted function would."""
    argument_types = signature.args[1:]
    function_type = context.call_conv.get_function_type(signature.return_type, argument_types)
    pointer = builder.inttoptr(args[0], function_type.as_pointer())
    status, result = context.call_conv.call_function(builder, pointer, signature.return_type,
                                                     argument_types, args[1:])
    with cgutils.if_unlikely(builder, status.is_error):
        context.call_conv.return_status_propagate(builder, status)
    return result


@intrinsic
def call_3(typingctx, address, a, b, c):
    """Call the compiled function at ``address`` with three arguments; it returns nothing."""
    return types.void(types.int64, a, b, c), _call_at_address


@intrinsic
def call_4_float64(typingctx, address, a, b, c, d):
    """Call the compiled function at ``address`` with four arguments; it returns a float64."""
    return types.float64(types.int64, a, b, c, d), _call_at_address


@intrinsic
def call_5(typingctx, address, a, b, c, d, e):
    """Call the compiled function at ``address`` with five arguments; it returns nothing."""
    return types.void(types.int64, a, b, c, d, e), _call_at_address


@intrinsic
def call_7(typingctx, address, a, b, c, d, e, f, g):
    """Call the compiled function at ``address`` with seven arguments; it returns nothing."""
    return types.void(types.int64, a, b, c, d, e, f, g), _call_at_address


def float64_call_7(name, check):
    """An intrinsic named ``name`` calling the function at an address with seven arguments,
    returning a float64; ``check(argument_types)`` runs when a call is compiled and raises where
    they are wrong (an address carries no type)."""
    def call(typingctx, address, a, b, c, d, e, f, g):
        arguments = (a, b, c, d, e, f, g)
        check(arguments)
        return types.float64(types.int64, *arguments), _call_at_address
    call.__name__ = call.__qualname__ = name
    return intrinsic(call)


def float64_call_9(name, check):
    """As :func:`float64_call_7`, with nine arguments."""
    def call(typingctx, address, a, b, c, d, e, f, g, h, i):
        arguments = (a, b, c, d, e, f, g, h, i)
        check(arguments)
        return types.float64(types.int64, *arguments), _call_at_address
    call.__name__ = call.__qualname__ = name
    return intrinsic(call)


# ---- BLAS, through Numba's helpers --------------------------------------------------------------

load_scipy_blas()  # SciPy's BLAS alone, before Numba imports it with all of scipy.linalg
ensure_blas()  # SciPy's BLAS, which the helpers call, must be importable

#: ``numba_xxgemm(kind, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)``: BLAS's
#: ``?gemm`` for ``kind`` ``"s"`` or ``"d"``, column-major, scalars passed by address.
xxgemm = types.ExternalFunction("numba_xxgemm", types.intc(
    types.char, types.char, types.char,        # kind, transa, transb
    types.intp, types.intp, types.intp,        # m, n, k
    types.voidptr, types.voidptr, types.intp,  # alpha, a, lda
    types.voidptr, types.intp, types.voidptr,  # b, ldb, beta
    types.voidptr, types.intp))                # c, ldc

#: ``numba_xxgemv(kind, trans, m, n, alpha, a, lda, x, beta, y)``: BLAS's ``?gemv``.
xxgemv = types.ExternalFunction("numba_xxgemv", types.intc(
    types.char, types.char, types.intp, types.intp,  # kind, trans, m, n
    types.voidptr, types.voidptr, types.intp,        # alpha, a, lda
    types.voidptr, types.voidptr, types.voidptr))    # x, beta, y


# ---- atomics and waiting ------------------------------------------------------------------------

#: ``sched_yield()`` of the C library: gives the core to another thread.
sched_yield = types.ExternalFunction("sched_yield", types.intc())

# The processor's spin-wait hint: it keeps a spinning thread from taking execution resources from
# the thread it waits for (an SMT sibling) and lets a hypervisor see the spin; GNU OpenMP's
# barriers use the same instruction.
_X86 = platform.machine().lower() in ("x86_64", "amd64")


@intrinsic
def spin_hint(typingctx):
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
    """``array[index] += value`` atomically (sequentially consistent) on an int64 array; returns
    the old value."""
    def codegen(context, builder, sig, args):
        pointer = _element_pointer(context, builder, sig.args[0], args[0], args[1])
        return builder.atomic_rmw("add", pointer, args[2], "seq_cst")
    return types.int64(array, index, types.int64), codegen


@intrinsic
def atomic_load(typingctx, array, index):
    """``array[index]`` of an int64 array, read atomically with acquire ordering."""
    def codegen(context, builder, sig, args):
        pointer = _element_pointer(context, builder, sig.args[0], args[0], args[1])
        return builder.load_atomic(pointer, "acquire", 8)
    return types.int64(array, index), codegen


@intrinsic
def compare_exchange(typingctx, array, index, expected, value):
    """``array[index] = value`` if it holds ``expected`` (atomically, sequentially consistent) on
    an int64 array; returns whether it did."""
    def codegen(context, builder, sig, args):
        pointer = _element_pointer(context, builder, sig.args[0], args[0], args[1])
        pair = builder.cmpxchg(pointer, args[2], args[3], "seq_cst", "seq_cst")
        return builder.extract_value(pair, 1)
    return types.boolean(array, index, types.int64, types.int64), codegen


@intrinsic
def call_int_getter(typingctx, address):
    """``int f(void)`` at ``address``, called (a BLAS's ``get_num_threads``); returns an int64."""
    def codegen(context, builder, sig, args):
        function = builder.inttoptr(args[0], ir.FunctionType(ir.IntType(32), []).as_pointer())
        return builder.sext(builder.call(function, []), ir.IntType(64))
    return types.int64(types.int64), codegen


@intrinsic
def call_int_setter(typingctx, address, value):
    """``void f(int)`` at ``address``, called with ``value`` (a BLAS's ``set_num_threads``)."""
    def codegen(context, builder, sig, args):
        function_type = ir.FunctionType(ir.VoidType(), [ir.IntType(32)])
        function = builder.inttoptr(args[0], function_type.as_pointer())
        builder.call(function, [builder.trunc(args[1], ir.IntType(32))])
        return context.get_dummy_value()
    return types.void(types.int64, types.int64), codegen


def _call_next(bits):
    """An intrinsic calling a bit generator's ``uint<bits>_t next(void *state)`` at an address."""
    @intrinsic
    def call(typingctx, address, state):
        def codegen(context, builder, signature, args):
            pointer = ir.IntType(8).as_pointer()
            function = ir.FunctionType(ir.IntType(bits), [pointer])
            target = builder.inttoptr(args[0], function.as_pointer())
            return builder.call(target, [builder.inttoptr(args[1], pointer)])
        return getattr(types, f"uint{bits}")(types.int64, types.int64), codegen
    return call


#: ``next_uint32(state)`` at ``(address, state)``, as NumPy's ``BitGenerator.ctypes`` gives them.
call_uint32_at = _call_next(32)
#: ``next_uint64(state)`` at ``(address, state)``.
call_uint64_at = _call_next(64)


# ---- probes -------------------------------------------------------------------------------------

_VECTOR = types.float64[::1]
_TARGET = types.float64(_VECTOR, _VECTOR, _VECTOR, _VECTOR)


@njit(cache=True, nogil=True, **WITHOUT_WRAPPERS)
def _probe_target(a, b, c, d):
    c[0] = a[0] * b[0] + d[0]
    return c[0] + 0.5


@njit(cache=True, nogil=True, **WITHOUT_CFUNC_WRAPPER)
def _probe_all(target, vectors, matrices, counters):
    # one compile exercises every internal: a call through an address, gemm and gemv through
    # Numba's helpers, the atomics, the spin hint and sched_yield
    a, b, c, d = vectors
    returned = call_4_float64(target, a, b, c, d)
    left, right, product, row, scalars = matrices
    kind, no = 100, 110  # ord("d"), ord("n")
    # row-major c = a @ b is column-major c^T = b^T a^T
    xxgemm(kind, no, no, 2, 2, 2, scalars.ctypes, right.ctypes, 2, left.ctypes, 2,
           scalars[1:].ctypes, product.ctypes, 2)
    xxgemv(kind, no, 2, 2, scalars.ctypes, right.ctypes, 2, left.ctypes, scalars[1:].ctypes,
           row.ctypes)
    old = atomic_add(counters, 0, 5)
    swapped = compare_exchange(counters, 1, 7, 9)
    refused = compare_exchange(counters, 1, 7, 11)
    spin_hint()
    sched_yield()
    return returned, old, swapped, refused, atomic_load(counters, 0)


def probe():
    """Check every internal this module uses on tiny compiled functions.

    Returns
    -------
    str or None
        The first probe that failed and how, or None if all passed.
    """
    with silenced():  # not the user's kernels: no compile notice
        try:
            outcome = _run_probes()
        except Exception as error:  # noqa: BLE001  any failure sends the backend to the public path
            first = (str(error).strip().splitlines() or [""])[0]
            return f"compiling the probes failed ({type(error).__name__}: {first[:200]})"
    return outcome


def _run_probes():
    vectors = tuple(np.array([value]) for value in (3.0, 4.0, 0.0, 1.0))
    left, right = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[5.0, 6.0], [7.0, 8.0]])
    matrices = (left, right, np.zeros((2, 2)), np.zeros(2), np.array([1.0, 0.0]))
    counters = np.array([2, 7], np.int64)
    arguments = (address(_probe_target, _TARGET.args), vectors, matrices, counters)
    signature = tuple(typeof(value) for value in arguments)
    if not is_compiled(_probe_all, signature):
        _probe_all.compile(signature)
    returned, old, swapped, refused, loaded = entry_point(_probe_all, signature)(*arguments)
    if not (returned == 13.5 and vectors[2][0] == 13.0):
        return (f"a call through a compiled function's address returned {returned} and wrote "
                f"{vectors[2][0]} (expected 13.5 and 13.0)")
    if not np.array_equal(matrices[2], left @ right):
        return (f"gemm through numba_xxgemm gave {matrices[2].tolist()}, NumPy "
                f"{(left @ right).tolist()}")
    if not np.array_equal(matrices[3], left[0] @ right):
        return (f"gemv through numba_xxgemv gave {matrices[3].tolist()}, NumPy "
                f"{(left[0] @ right).tolist()}")
    if (old, swapped, refused, loaded, counters.tolist()) != (2, True, False, 7, [7, 9]):
        return (f"the atomics gave (old, swapped, swapped again, loaded, array) = {old}, "
                f"{swapped}, {refused}, {loaded}, {counters.tolist()} (expected 2, True, False, 7, "
                f"[7, 9])")
    return None

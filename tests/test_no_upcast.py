"""No float32 kernel of the dense layer computes in float64.

A float64 literal such as ``0.1 * v`` silently widens a float32 value to double in Numba, doubling
the cost of the element math and changing its rounding. This reads the LLVM IR of each kernel
compiled for float32 arrays and fails on any ``double`` or ``fpext``. Numba only shows IR it has
just compiled (not code loaded from its disk cache), so each kernel is recompiled here, uncached,
from its Python source; callees are compiled into the same IR and are checked with it.

``loss_forward`` is left out on purpose: it sums ``n * k`` per-element terms into a float64
accumulator (each term is computed in the arrays' dtype) so the loss of a large float32 batch does
not lose digits. The training kernels (optimizers, penalties, dropout) are checked in
``test_training_kernels.py``.
"""

import re

import numba
import numpy as np
import pytest

from fastbp.kernels import codes, cpu
from fastbp.kernels.cpu import activations as cpu_activations, epoch as cpu_epoch
from fastbp.kernels.cpu import losses as cpu_losses, tables as cpu_tables

F32 = np.float32


def _m(*shape):
    return np.ones(shape, F32)


def _activation_args():
    return _m(3, 4), _m(3, 4), _m(3, 4)


def _dense_forward_args():
    return (_m(3, 4), _m(3, 4), _m(3, 2), _m(2, 4), _m(4),
            cpu_tables.table("activation_forward", F32, [codes.GELU]), codes.GELU)


def _dense_backward_args():
    return (_m(3, 2), _m(2, 4), _m(4), _m(3, 4), _m(3, 2), _m(2, 4), _m(3, 4), _m(3, 4),
            cpu_tables.table("activation_backward", F32, [codes.GELU]), codes.GELU)


#: Each kernel checked, with float32 arguments (n=3, n_in=2, n_out=4). Every activation's forward
#: and backward body; the dense layer's compiled parts (which call the activation kernels through
#: a table, so those are checked on their own above); the loss gradients.
FLOAT32_KERNELS = {
    "_sigmoid": (cpu_activations._sigmoid.py_func, lambda: (F32(0.5),)),
    **{f"{name}_{direction}": (getattr(cpu_activations, f"{name}_{direction}"), _activation_args)
       for name in codes.ACTIVATION_CODES for direction in ("forward", "backward")},
    "_column_sums": (cpu_epoch._column_sums.py_func, lambda: (_m(4), _m(3, 4))),
    "_dense_forward": (cpu._dense_forward.py_func, _dense_forward_args),
    "_dense_backward": (cpu._dense_backward.py_func, _dense_backward_args),
    **{name: (getattr(cpu_losses, name), lambda: (_m(3, 4), _m(3, 4), _m(3, 4), _m(3, 4), _m(3)))
       for name in ("squared_error_backward", "mse_backward", "logits_backward")},
}

_FUNCTION = re.compile(r"^define [^\n]*?@(\"?[\w.$]+\"?)\(.*?^\}", re.M | re.S)
# The wrappers Numba adds around every compiled function convert between Python objects and C
# values, and a Python float is a C double there: they are the boundary, not kernel arithmetic.
_WRAPPER = re.compile(r"^\"?(cfunc\.|_ZN7cpython)")
_WIDE = re.compile(r"\bdouble\b|\bfpext\b")


def widening_lines(llvm_ir):
    """Lines of the compiled functions' bodies (wrappers excluded) that touch float64."""
    found = []
    for match in _FUNCTION.finditer(llvm_ir):
        if _WRAPPER.match(match.group(1)):
            continue
        found += [line.strip() for line in match.group(0).splitlines() if _WIDE.search(line)]
    return found


def fresh_llvm(py_func, args):
    """LLVM IR of ``py_func`` compiled now, uncached, for ``args``."""
    dispatcher = numba.njit(py_func)
    dispatcher(*args)
    [signature] = dispatcher.signatures
    # float32 data; int64 codes and kernel tables (addresses, not arithmetic; int32 codes on the
    # public Numba path, kernels/cpu/numba_path.py)
    assert all(t in (numba.float32, numba.int64, numba.none) or t.dtype in (numba.float32,
                                                                            numba.int64,
                                                                            numba.int32)
               for t in signature), f"not a float32 signature: {signature}"
    return dispatcher.inspect_llvm(signature)


@pytest.mark.parametrize("name", list(FLOAT32_KERNELS))
def test_float32_kernel_has_no_float64(name):
    py_func, args = FLOAT32_KERNELS[name]
    lines = widening_lines(fresh_llvm(py_func, args()))
    assert not lines, f"{name} computes in float64 for float32 data:\n" + "\n".join(lines[:10])


def _upcasting(out, x):
    for i in range(x.shape[0]):
        # a float64 literal: each element is widened to double (0.1, not 0.5: LLVM narrows an
        # exact power-of-two product back to float by itself)
        out[i] = x[i] * 0.1


def _typed(out, x):
    tenth = x.dtype.type(0.1)
    for i in range(x.shape[0]):
        out[i] = x[i] * tenth


def test_the_check_catches_an_upcast():
    args = (np.empty(4, F32), np.ones(4, F32))
    assert widening_lines(fresh_llvm(_upcasting, args))
    assert not widening_lines(fresh_llvm(_typed, args))

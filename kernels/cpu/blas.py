"""Matrix products for the CPU kernels: BLAS ``gemm`` called straight from compiled code.

Numba's ``np.dot`` reaches the same BLAS (SciPy's, through Numba's ``numba_xxgemm`` helper) but
compiles layout checks, copies and error formatting into every function that uses it. Calling the
helper directly compiles to one external call, keeps the code of every caller small (cold JIT time
is user-facing), and lets BLAS read a transposed operand in place instead of a copy.

The helpers are Numba internals (:mod:`fastbp.kernels.cpu.numba_internals`). On the public path
(:mod:`fastbp.kernels.cpu.numba_path`) :func:`gemm`, :func:`affine` and :func:`affine_row` are
built on ``np.dot`` with an output array instead: the same BLAS calls, a larger compile, and the
bias added in a pass of its own.
"""

import numpy as np
from numba import njit

from ..disk_cache import check_once
from .numba_path import FAST
from .scipy_blas import load as load_scipy_blas

check_once()  # before anything here can be loaded from Numba's disk cache (kernels/disk_cache.py)

load_scipy_blas()  # before Numba looks for it: SciPy's BLAS without the rest of scipy.linalg

if FAST:
    from .numba_internals import xxgemm as _xxgemm, xxgemv as _xxgemv

_N, _T = 110, 116        # ord("n"), ord("t"): BLAS's transpose flags
_SINGLE, _DOUBLE = 115, 100  # ord("s"), ord("d"): its precisions


# inline: typed inside each caller rather than compiled on its own, one compile fewer per caller
@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _gemm_blas(a, trans_a, b, trans_b, c, scalars):
    """``c = op(a) @ op(b)`` for C-contiguous 2-D arrays of one dtype, where ``op`` transposes if
    asked; ``c`` is overwritten.

    Parameters
    ----------
    a : ndarray, shape (m, k), or (k, m) with ``trans_a``
    trans_a : bool
    b : ndarray, shape (k, n), or (n, k) with ``trans_b``
    trans_b : bool
    c : ndarray, shape (m, n)
    scalars : ndarray, shape (2,), of the arrays' dtype
        ``[1, 0]``: BLAS's ``alpha`` and ``beta``, passed by address.
    """
    # c (m, n) <- op(a) (m, k) @ op(b) (k, n)
    m, n = c.shape
    k = a.shape[0] if trans_a else a.shape[1]
    if m != 0 and n != 0 and k == 0:
        for i in range(m):
            for j in range(n):
                c[i, j] = 0
    _product(a, trans_a, b, trans_b, c, scalars, 1)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _affine_blas(a, b, bias, c, scalars):
    """``c = a @ b + bias``, the bias added to every row, for C-contiguous arrays of one dtype.

    The bias rows are written into ``c`` and BLAS adds the product to them (``beta = 1``). With
    ``beta = 0`` OpenBLAS first clears ``c`` and a bias pass then reads and writes it again: one
    pass over the output more, which the layer timings of ``benchmarks/test_kernels.py`` and the
    training cases of ``benchmarks/test_training.py`` pay at every product. Where ``k`` fits in
    one of OpenBLAS's depth blocks (as 100 and 256 do), each entry is rounded as in the product
    followed by the bias; past that, the bias joins the first partial sum and the last bits may
    differ.

    Parameters
    ----------
    a : ndarray, shape (m, k)
    b : ndarray, shape (k, n)
    bias : ndarray, shape (n,)
    c : ndarray, shape (m, n)
    scalars : ndarray, shape (2,), of the arrays' dtype
        ``[1, 0]``, as for ``gemm``.
    """
    # c (m, n) <- a (m, k) @ b (k, n) + bias (n,)
    m, n = c.shape
    for i in range(m):
        for j in range(n):
            c[i, j] = bias[j]
    _product(a, False, b, False, c, scalars, 0)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _product(a, trans_a, b, trans_b, c, scalars, beta):
    # c (m, n) <- op(a) @ op(b) + scalars[beta] * c, alpha = scalars[0] = 1
    m, n = c.shape
    k = a.shape[0] if trans_a else a.shape[1]
    if m == 0 or n == 0 or k == 0:
        return
    kind = _SINGLE if c.itemsize == 4 else _DOUBLE
    # BLAS is column-major: a row-major c = op(a) op(b) is the column-major c^T = op(b)^T op(a)^T
    _xxgemm(kind, _T if trans_b else _N, _T if trans_a else _N, n, m, k,
            scalars.ctypes, b.ctypes, b.shape[1], a.ctypes, a.shape[1],
            scalars[beta:].ctypes, c.ctypes, n)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _affine_row_blas(x, b, bias, y, scalars):
    """``y = x @ b + bias`` for one row ``x``: BLAS's matrix-vector product adding to the bias
    (``beta = 1``), which on a single row costs a fraction of ``gemm``'s time: ``gemm`` has a fixed
    cost, packing ``b`` included, that a one-row product never earns back (the one-row predictions
    of ``benchmarks/test_prediction.py`` and ``benchmarks/test_model_files.py`` time this path).

    Parameters
    ----------
    x : ndarray, shape (k,)
    b : ndarray, shape (k, n), C-contiguous
    bias : ndarray, shape (n,)
    y : ndarray, shape (n,)
    scalars : ndarray, shape (2,), of the arrays' dtype
        ``[1, 0]``, as for ``gemm``.
    """
    # y (n,) <- x (k,) @ b (k, n) + bias (n,)
    k, n = b.shape
    for j in range(n):
        y[j] = bias[j]
    if n == 0 or k == 0:
        return
    kind = _SINGLE if y.itemsize == 4 else _DOUBLE
    # the row-major b is the column-major b^T (n x k): y = b^T x + y
    _xxgemv(kind, _N, n, k, scalars.ctypes, b.ctypes, n, x.ctypes, scalars.ctypes, y.ctypes)


# ---- the public path: np.dot with an output array ----------------------------------------------

@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _gemm_dot(a, trans_a, b, trans_b, c, scalars):
    # c (m, n) <- op(a) (m, k) @ op(b) (k, n); a transposed view is F-ordered, which np.dot
    # hands to BLAS in place
    m, n = c.shape
    k = a.shape[0] if trans_a else a.shape[1]
    if m == 0 or n == 0:
        return
    if k == 0:
        for i in range(m):
            for j in range(n):
                c[i, j] = 0
    elif trans_a and trans_b:
        np.dot(a.T, b.T, c)
    elif trans_a:
        np.dot(a.T, b, c)
    elif trans_b:
        np.dot(a, b.T, c)
    else:
        np.dot(a, b, c)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _affine_dot(a, b, bias, c, scalars):
    # c (m, n) <- a (m, k) @ b (k, n) + bias (n,)
    m, n = c.shape
    if m != 0 and n != 0 and a.shape[1] != 0:
        np.dot(a, b, c)
        for i in range(m):
            for j in range(n):
                c[i, j] += bias[j]
    else:
        for i in range(m):
            for j in range(n):
                c[i, j] = bias[j]


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _affine_row_dot(x, b, bias, y, scalars):
    # y (n,) <- x (k,) @ b (k, n) + bias (n,)
    k, n = b.shape
    if n != 0 and k != 0:
        np.dot(x, b, y)
        for j in range(n):
            y[j] += bias[j]
    else:
        for j in range(n):
            y[j] = bias[j]


if FAST:
    gemm, affine, affine_row = _gemm_blas, _affine_blas, _affine_row_blas
else:
    gemm, affine, affine_row = _gemm_dot, _affine_dot, _affine_row_dot

"""CUDA device functions shared by the kernels: activation math, per-row losses, block reductions.

The activation math is written once here and used both by the GEMM epilogue and by the standalone
activation kernels; it matches :mod:`fastbp.kernels.cpu` formula for formula (stable sigmoid,
softplus through ``log1p(exp(-|z|))``, GELU through ``erf``). Constants are made in the argument's
own type (``type(z)(c)``) so float32 code never computes in float64.
"""

import math

import numpy as np
from numba import cuda

from ..codes import (
    BINARY_CROSS_ENTROPY,
    CROSS_ENTROPY,
    ELU,
    EXP,
    GELU,
    LEAKY_RELU,
    LEAKY_RELU_SLOPE,
    MSE,
    POISSON,
    RELU,
    SIGMOID,
    SOFTPLUS,
    SQUARED_ERROR,
    TANH,
)

_SQRT_HALF = 0.7071067811865476  # 1/sqrt(2)
_INV_SQRT_2PI = 0.3989422804014327  # 1/sqrt(2*pi)


@cuda.jit(device=True)
def sigmoid(z):
    one = type(z)(1)
    if z >= 0:
        return one / (one + math.exp(-z))
    e = math.exp(z)  # z < 0: exp cannot overflow
    return e / (one + e)


@cuda.jit(device=True)
def activate(z, activation):
    """``act(z)`` for every activation but softmax (row-wise, see ``softmax_rows``)."""
    t = type(z)
    zero, one = t(0), t(1)
    if activation == SIGMOID:
        return sigmoid(z)
    if activation == TANH:
        return math.tanh(z)
    if activation == RELU:
        return max(z, zero)
    if activation == LEAKY_RELU:
        return z if z > zero else t(LEAKY_RELU_SLOPE) * z
    if activation == ELU:
        return z if z > zero else math.expm1(z)
    if activation == GELU:
        return t(0.5) * z * (one + math.erf(z * t(_SQRT_HALF)))
    if activation == SOFTPLUS:
        return max(z, zero) + math.log1p(math.exp(-abs(z)))
    if activation == EXP:
        return math.exp(z)  # inf beyond ~88 (float32) / ~709 (float64): the true value overflows
    return z  # IDENTITY


@cuda.jit(device=True)
def delta(g, a, z, activation):
    """``g * act'(z)`` from the saved output ``a`` (the pre-activation ``z`` only for GELU).

    Softmax is row-wise, see ``softmax_backward_rows``.
    """
    t = type(g)
    zero, one = t(0), t(1)
    if activation == SIGMOID:
        return g * (a * (one - a))
    if activation == TANH:
        return g * (one - a * a)
    if activation == RELU:
        return g if a > zero else zero
    if activation == LEAKY_RELU:
        return g if a > zero else g * t(LEAKY_RELU_SLOPE)
    if activation == ELU:
        return g if a > zero else g * (a + one)
    if activation == GELU:
        half = t(0.5)
        return g * (half * (one + math.erf(z * t(_SQRT_HALF)))
                    + z * t(_INV_SQRT_2PI) * math.exp(-half * z * z))
    if activation == SOFTPLUS:
        return g * -math.expm1(-a)  # sigma(z) = 1 - exp(-softplus(z))
    if activation == EXP:
        return g * a  # exp' = exp
    return g  # IDENTITY


@cuda.jit(device=True)
def row_loss(pre, out, y, i, loss):
    """Row ``i``'s loss terms, each in the arrays' dtype, summed in float64."""
    k = out.shape[1]
    t = out.dtype.type
    zero, half = t(0), t(0.5)
    inv_k = t(1) / t(k)
    row = 0.0
    if loss == SQUARED_ERROR:
        for j in range(k):
            r = out[i, j] - y[i, j]
            row += np.float64(half * r * r * inv_k)
    elif loss == MSE:
        for j in range(k):
            r = out[i, j] - y[i, j]
            row += np.float64(r * r * inv_k)
    elif loss == CROSS_ENTROPY:
        # log-sum-exp = m + log1p(sum of the other exp(z - m)), as in the reference: the max
        # term is exactly 1, and log1p keeps a confident row's tiny loss where log(1 + tiny)
        # would round it to zero
        top = 0
        for j in range(1, k):
            if pre[i, j] > pre[i, top]:
                top = j
        others = zero
        for j in range(k):
            if j != top:
                others += math.exp(pre[i, j] - pre[i, top])
        log_sum_exp = pre[i, top] + math.log1p(others)
        for j in range(k):
            row += np.float64(y[i, j] * (log_sum_exp - pre[i, j]))
    elif loss == BINARY_CROSS_ENTROPY:
        for j in range(k):
            z = pre[i, j]
            row += np.float64(max(z, zero) - z * y[i, j] + math.log1p(math.exp(-abs(z))))
    elif loss == POISSON:
        # exp(z) - y z + (xlogy(y, y) - y), as in the CPU kernel; out holds exp(z) already
        for j in range(k):
            v, z = y[i, j], pre[i, j]
            y_log_y = v * math.log(v) if v > zero else zero
            row += np.float64((out[i, j] - v * z) + (y_log_y - v))
    return row


@cuda.jit(device=True)
def reduce_rows(buf, tx, ty, cols, rows):
    """Sum ``buf[r * cols + tx]`` over ``r < rows`` into ``buf[tx]``, as a tree in shared memory.

    Every thread ``(tx, ty)`` of the block must call it, having written its own ``buf[ty * cols +
    tx]``; the result is visible to all of them on return.
    """
    s = 1
    while 2 * s < rows:  # the largest power of two below rows (1 if rows <= 2)
        s *= 2
    while s > 0:
        cuda.syncthreads()
        if ty < s and ty + s < rows:
            buf[ty * cols + tx] += buf[(ty + s) * cols + tx]
        s //= 2
    cuda.syncthreads()


@cuda.jit(device=True)
def block_total(buf, value):
    """Sum ``value`` over the threads of a 1-D block through ``buf``; every thread gets the total."""
    tid = cuda.threadIdx.x
    buf[tid] = value
    reduce_rows(buf, 0, tid, 1, cuda.blockDim.x)
    return buf[0]

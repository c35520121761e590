"""Loss kernels of the CPU backend: one forward and one backward body per loss.

Compiled per dtype on first use by :mod:`fastbp.kernels.cpu.tables`, like the activations.
Forward bodies take ``(pre, out, y, weight)`` and return the weighted loss of the batch as a
float64 (each term in the arrays' dtype, the ``n * k``-term sum in float64 on purpose, so a large
float32 batch keeps its digits); backward bodies take ``(grad, pre, out, y, weight)`` and write
dL/d(out), or dL/d(pre) for the logits-form losses (see :mod:`fastbp.kernels.codes`). Arrays are
C-contiguous: ``pre``, ``out``, ``y``, ``grad`` of shape (n, k), ``weight`` of shape (n,).
"""

import math

import numpy as np
from numba import njit

from ..disk_cache import check_once

check_once()  # before anything here can be loaded from Numba's disk cache (kernels/disk_cache.py)


# inlined into each loss gradient: a separate compile would cost more than the loop
@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _weighted_residual(grad, out, y, weight, scale):
    # grad (n, k) <- (out - y) * weight * scale
    n, k = out.shape
    for i in range(n):
        w = weight[i] * scale
        for j in range(k):
            grad[i, j] = (out[i, j] - y[i, j]) * w


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _weighted_squares(out, y, weight, scale):
    # sum over samples of weight * scale * sum over outputs of (a - y)^2
    n, k = out.shape
    total = 0.0
    for i in range(n):
        row = 0.0
        for j in range(k):
            r = out[i, j] - y[i, j]
            row += np.float64(r * r * scale)
        total += row * np.float64(weight[i])
    return total


def squared_error_forward(pre, out, y, weight):
    # 1/2 mean over outputs of (a - y)^2, weighted over samples (scikit-learn's)
    t = out.dtype.type
    return _weighted_squares(out, y, weight, t(0.5) / t(out.shape[1]))


def squared_error_backward(grad, pre, out, y, weight):
    t = out.dtype.type
    _weighted_residual(grad, out, y, weight, t(1) / t(out.shape[1]))


def mse_forward(pre, out, y, weight):
    # mean over outputs of (a - y)^2 (PyTorch's and Keras's)
    t = out.dtype.type
    return _weighted_squares(out, y, weight, t(1) / t(out.shape[1]))


def mse_backward(grad, pre, out, y, weight):
    t = out.dtype.type
    _weighted_residual(grad, out, y, weight, t(2) / t(out.shape[1]))


def cross_entropy_forward(pre, out, y, weight):
    # log-sum-exp = m + log1p(sum of the other exp(z - m)), as in the reference; the softmax
    # output holds those exps already: exp(z_j - m) = a_j / a_max
    n, k = out.shape
    zero = out.dtype.type(0)
    total = 0.0
    for i in range(n):
        top = 0
        for j in range(1, k):
            if pre[i, j] > pre[i, top]:
                top = j
        others = zero
        for j in range(k):
            if j != top:
                others += out[i, j]
        log_sum_exp = pre[i, top] + math.log1p(others / out[i, top])
        row = 0.0
        for j in range(k):
            row += np.float64(y[i, j] * (log_sum_exp - pre[i, j]))
        total += row * np.float64(weight[i])
    return total


def logits_backward(grad, pre, out, y, weight):
    # the fused softmax / sigmoid / exp delta w * (a - y), w.r.t. the pre-activation
    _weighted_residual(grad, out, y, weight, out.dtype.type(1))


def binary_cross_entropy_forward(pre, out, y, weight):
    # summed over outputs, from logits: max(z, 0) - z y + log1p(exp(-|z|))
    n, k = out.shape
    zero = out.dtype.type(0)
    total = 0.0
    for i in range(n):
        row = 0.0
        for j in range(k):
            z = pre[i, j]
            row += np.float64(max(z, zero) - z * y[i, j] + math.log1p(math.exp(-abs(z))))
        total += row * np.float64(weight[i])
    return total


def poisson_forward(pre, out, y, weight):
    # exp(z) - y z + (xlogy(y, y) - y), as in the reference; out holds exp(z) already.
    # xlogy as a select: y log y is NaN at y = 0, where the select takes 0
    n, k = out.shape
    zero = out.dtype.type(0)
    total = 0.0
    for i in range(n):
        row = 0.0
        for j in range(k):
            v, z = y[i, j], pre[i, j]
            y_log_y = v * math.log(v) if v > zero else zero
            row += np.float64((out[i, j] - v * z) + (y_log_y - v))
        total += row * np.float64(weight[i])
    return total

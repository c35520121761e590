"""Numba CPU kernels: the same interface as :mod:`fastbp.kernels.reference`, compiled.

GEMMs go to BLAS through ``np.dot`` (Numba routes it to SciPy's BLAS for contiguous float32/float64
operands); everything elementwise is a Numba loop fused into the GEMM's epilogue. Every constant is
made in the arrays' own dtype (``x.dtype.type(c)``) so a float32 kernel never computes in float64.
Functions compile lazily on first call and are cached on disk. See :mod:`fastbp.kernels` for the
shared conventions.
"""

import math

import numpy as np
from numba import njit

from .codes import (
    BINARY_CROSS_ENTROPY,
    CROSS_ENTROPY,
    ELU,
    GELU,
    IDENTITY,
    LEAKY_RELU,
    LEAKY_RELU_SLOPE,
    MSE,
    RELU,
    SIGMOID,
    SOFTMAX,
    SOFTPLUS,
    SQUARED_ERROR,
    TANH,
)

_SQRT_HALF = 0.7071067811865476  # 1/sqrt(2)
_INV_SQRT_2PI = 0.3989422804014327  # 1/sqrt(2*pi)

jit = njit(cache=True, nogil=True)


@jit
def _sigmoid(z):
    one = type(z)(1)
    if z >= 0:
        return one / (one + math.exp(-z))
    e = math.exp(z)  # z < 0: exp cannot overflow
    return e / (one + e)


@jit
def activation_forward(out, z, activation):
    """Apply an activation elementwise (row-wise for softmax); ``out`` may be ``z``.

    Parameters
    ----------
    out : ndarray, shape (n, k)
    z : ndarray, shape (n, k)
    activation : int
    """
    # out (n, k) <- act(z (n, k))
    n, k = z.shape
    t = z.dtype.type
    zero, one = t(0), t(1)
    if activation == IDENTITY:
        for i in range(n):
            for j in range(k):
                out[i, j] = z[i, j]
    elif activation == SIGMOID:
        for i in range(n):
            for j in range(k):
                out[i, j] = _sigmoid(z[i, j])
    elif activation == TANH:
        for i in range(n):
            for j in range(k):
                out[i, j] = math.tanh(z[i, j])
    elif activation == RELU:
        for i in range(n):
            for j in range(k):
                out[i, j] = max(z[i, j], zero)
    elif activation == LEAKY_RELU:
        slope = t(LEAKY_RELU_SLOPE)
        for i in range(n):
            for j in range(k):
                v = z[i, j]
                out[i, j] = v if v > zero else slope * v
    elif activation == ELU:
        for i in range(n):
            for j in range(k):
                v = z[i, j]
                out[i, j] = v if v > zero else math.expm1(v)
    elif activation == GELU:
        half, c = t(0.5), t(_SQRT_HALF)
        for i in range(n):
            for j in range(k):
                v = z[i, j]
                out[i, j] = half * v * (one + math.erf(v * c))
    elif activation == SOFTPLUS:
        for i in range(n):
            for j in range(k):
                v = z[i, j]
                out[i, j] = max(v, zero) + math.log1p(math.exp(-abs(v)))
    elif activation == SOFTMAX:
        for i in range(n):
            m = z[i, 0]
            for j in range(1, k):
                m = max(m, z[i, j])
            s = zero
            for j in range(k):
                e = math.exp(z[i, j] - m)
                out[i, j] = e
                s += e
            inv = one / s
            for j in range(k):
                out[i, j] *= inv


@jit
def activation_backward(grad, out, pre, activation):
    """Turn dL/da into dL/dz in place, from the saved output (or pre-activation for GELU).

    Parameters
    ----------
    grad : ndarray, shape (n, k)
    out : ndarray, shape (n, k)
    pre : ndarray, shape (n, k)
    activation : int
    """
    # grad (n, k) <- grad * act'(z), from out (n, k) or, for GELU, pre (n, k)
    n, k = grad.shape
    t = grad.dtype.type
    zero, one = t(0), t(1)
    if activation == IDENTITY:
        return
    elif activation == SIGMOID:
        for i in range(n):
            for j in range(k):
                a = out[i, j]
                grad[i, j] *= a * (one - a)
    elif activation == TANH:
        for i in range(n):
            for j in range(k):
                a = out[i, j]
                grad[i, j] *= one - a * a
    elif activation == RELU:
        for i in range(n):
            for j in range(k):
                if not out[i, j] > zero:
                    grad[i, j] = zero
    elif activation == LEAKY_RELU:
        slope = t(LEAKY_RELU_SLOPE)
        for i in range(n):
            for j in range(k):
                if not out[i, j] > zero:
                    grad[i, j] *= slope
    elif activation == ELU:
        for i in range(n):
            for j in range(k):
                a = out[i, j]
                if not a > zero:
                    grad[i, j] *= a + one
    elif activation == GELU:
        half, c, d = t(0.5), t(_SQRT_HALF), t(_INV_SQRT_2PI)
        for i in range(n):
            for j in range(k):
                v = pre[i, j]
                grad[i, j] *= half * (one + math.erf(v * c)) + v * d * math.exp(-half * v * v)
    elif activation == SOFTPLUS:
        for i in range(n):
            for j in range(k):
                grad[i, j] *= -math.expm1(-out[i, j])  # sigma(z) = 1 - exp(-softplus(z))
    elif activation == SOFTMAX:
        for i in range(n):
            dot = zero
            for j in range(k):
                dot += grad[i, j] * out[i, j]
            for j in range(k):
                grad[i, j] = out[i, j] * (grad[i, j] - dot)


@jit
def _add_bias(pre, b):
    n, k = pre.shape
    for i in range(n):
        for j in range(k):
            pre[i, j] += b[j]


@jit
def dense_forward(out, pre, x, W, b, activation):
    """One dense layer: ``out = act(x @ W + b)``; ``pre`` may be ``out`` itself.

    Parameters
    ----------
    out : ndarray, shape (n, n_out)
    pre : ndarray, shape (n, n_out)
    x : ndarray, shape (n, n_in)
    W : ndarray, shape (n_in, n_out)
    b : ndarray, shape (n_out,)
    activation : int
    """
    # out, pre (n, n_out) <- act(x (n, n_in) @ W (n_in, n_out) + b (n_out,))
    np.dot(np.ascontiguousarray(x), np.ascontiguousarray(W), pre)
    _add_bias(pre, b)
    activation_forward(out, pre, activation)


@jit
def _column_sums(db, delta):
    n, k = delta.shape
    for j in range(k):
        db[j] = 0
    for i in range(n):
        for j in range(k):
            db[j] += delta[i, j]


@jit
def dense_backward(dx, dW, db, grad, x, W, out, pre, activation):
    """Backpropagate through one dense layer; ``grad`` is overwritten with delta.

    Parameters
    ----------
    dx : ndarray, shape (n, n_in), or None
        dL/dx = delta @ W.T; None skips it (the first layer).
    dW : ndarray, shape (n_in, n_out)
    db : ndarray, shape (n_out,)
    grad : ndarray, shape (n, n_out)
        dL/d(out) on entry, delta = dL/d(pre) on exit.
    x, W, out, pre : as in :func:`dense_forward`.
    activation : int
    """
    # dx (n, n_in), dW (n_in, n_out), db (n_out,) <- grad (n, n_out) through act, W, x
    activation_backward(grad, out, pre, activation)
    # x.T and W.T are Fortran-ordered views: BLAS reads them transposed, no copy is made
    np.dot(np.ascontiguousarray(x).T, grad, dW)
    _column_sums(db, grad)
    if dx is not None:
        np.dot(grad, np.ascontiguousarray(W).T, dx)


@jit
def loss_forward(pre, out, y, weight, loss):
    """Weighted loss of a batch, accumulated in float64.

    Parameters
    ----------
    pre : ndarray, shape (n, k)
    out : ndarray, shape (n, k)
    y : ndarray, shape (n, k)
    weight : ndarray, shape (n,)
    loss : int

    Returns
    -------
    float
    """
    # () <- pre, out, y (n, k), weight (n,)
    n, k = out.shape
    t = out.dtype.type
    zero, half = t(0), t(0.5)
    inv_k = t(1) / t(k)
    total = 0.0  # float64 accumulator on purpose: a sum of n*k terms, not an elementwise path
    for i in range(n):
        row = zero
        if loss == SQUARED_ERROR:
            for j in range(k):
                r = out[i, j] - y[i, j]
                row += half * r * r * inv_k
        elif loss == MSE:
            for j in range(k):
                r = out[i, j] - y[i, j]
                row += r * r * inv_k
        elif loss == CROSS_ENTROPY:
            m = pre[i, 0]
            for j in range(1, k):
                m = max(m, pre[i, j])
            s = zero
            for j in range(k):
                s += math.exp(pre[i, j] - m)
            log_sum_exp = m + math.log(s)
            for j in range(k):
                row += y[i, j] * (log_sum_exp - pre[i, j])
        elif loss == BINARY_CROSS_ENTROPY:
            for j in range(k):
                z = pre[i, j]
                row += max(z, zero) - z * y[i, j] + math.log1p(math.exp(-abs(z)))
        total += float(row) * float(weight[i])
    return total


@jit
def loss_backward(grad, pre, out, y, weight, loss):
    """Gradient of :func:`loss_forward` w.r.t. ``out`` (w.r.t. ``pre`` for the logits-form losses).

    Parameters
    ----------
    grad : ndarray, shape (n, k)
    pre, out, y, weight, loss : as in :func:`loss_forward`.
    """
    # grad (n, k) <- d loss / d out (or d pre for the logits-form losses)
    n, k = out.shape
    t = out.dtype.type
    if loss == SQUARED_ERROR:
        scale = t(1) / t(k)
    elif loss == MSE:
        scale = t(2) / t(k)
    else:
        scale = t(1)
    for i in range(n):
        w = weight[i] * scale
        for j in range(k):
            grad[i, j] = (out[i, j] - y[i, j]) * w

"""Activation kernels of the CPU backend: one forward and one backward body per activation.

Each body is plain Python, compiled by :mod:`fastbp.kernels.cpu.tables` for one dtype when a model
first uses that activation, so a network pays the JIT time of its own activations only. Forward
bodies take ``(out, z, pre)`` and write ``act(z)`` to ``out`` (which may be ``z``; ``pre`` is unused
and keeps one signature for the table); backward bodies take ``(grad, out, pre)`` and turn dL/da
into dL/dz in place. All arrays are C-contiguous, shape (n, k), of one dtype, and every constant is
made in that dtype so a float32 kernel never computes in float64.
"""

import math

from numba import njit

from ..codes import LEAKY_RELU_SLOPE
from ..disk_cache import check_once
from .numba_path import WITHOUT_WRAPPERS

check_once()  # before anything here can be loaded from Numba's disk cache (kernels/disk_cache.py)

_SQRT_HALF = 0.7071067811865476  # 1/sqrt(2)
_INV_SQRT_2PI = 0.3989422804014327  # 1/sqrt(2*pi)


@njit(cache=True, nogil=True, error_model="numpy", **WITHOUT_WRAPPERS)
def _sigmoid(z):
    one = type(z)(1)
    if z >= 0:
        return one / (one + math.exp(-z))
    e = math.exp(z)  # z < 0: exp cannot overflow
    return e / (one + e)


def identity_forward(out, z, pre):
    # out (n, k) <- z (n, k)
    n, k = z.shape
    for i in range(n):
        for j in range(k):
            out[i, j] = z[i, j]


def identity_backward(grad, out, pre):
    # grad (n, k) unchanged
    return


def sigmoid_forward(out, z, pre):
    n, k = z.shape
    for i in range(n):
        for j in range(k):
            out[i, j] = _sigmoid(z[i, j])


def sigmoid_backward(grad, out, pre):
    n, k = grad.shape
    one = grad.dtype.type(1)
    for i in range(n):
        for j in range(k):
            a = out[i, j]
            grad[i, j] *= a * (one - a)


def tanh_forward(out, z, pre):
    n, k = z.shape
    for i in range(n):
        for j in range(k):
            out[i, j] = math.tanh(z[i, j])


def tanh_backward(grad, out, pre):
    n, k = grad.shape
    one = grad.dtype.type(1)
    for i in range(n):
        for j in range(k):
            a = out[i, j]
            grad[i, j] *= one - a * a


def relu_forward(out, z, pre):
    n, k = z.shape
    zero = z.dtype.type(0)
    for i in range(n):
        for j in range(k):
            out[i, j] = max(z[i, j], zero)


# the ReLU family as selects, not conditional stores: LLVM vectorises selects
def relu_backward(grad, out, pre):
    n, k = grad.shape
    zero = grad.dtype.type(0)
    for i in range(n):
        for j in range(k):
            grad[i, j] = grad[i, j] if out[i, j] > zero else zero


def leaky_relu_forward(out, z, pre):
    n, k = z.shape
    t = z.dtype.type
    zero, slope = t(0), t(LEAKY_RELU_SLOPE)
    for i in range(n):
        for j in range(k):
            v = z[i, j]
            out[i, j] = v if v > zero else slope * v


def leaky_relu_backward(grad, out, pre):
    n, k = grad.shape
    t = grad.dtype.type
    zero, one, slope = t(0), t(1), t(LEAKY_RELU_SLOPE)
    for i in range(n):
        for j in range(k):
            grad[i, j] *= one if out[i, j] > zero else slope


def elu_forward(out, z, pre):
    n, k = z.shape
    zero = z.dtype.type(0)
    for i in range(n):
        for j in range(k):
            v = z[i, j]
            out[i, j] = v if v > zero else math.expm1(v)


def elu_backward(grad, out, pre):
    n, k = grad.shape
    t = grad.dtype.type
    zero, one = t(0), t(1)
    for i in range(n):
        for j in range(k):
            a = out[i, j]
            grad[i, j] *= one if a > zero else a + one


def gelu_forward(out, z, pre):
    n, k = z.shape
    t = z.dtype.type
    one, half, c = t(1), t(0.5), t(_SQRT_HALF)
    for i in range(n):
        for j in range(k):
            v = z[i, j]
            out[i, j] = half * v * (one + math.erf(v * c))


def gelu_backward(grad, out, pre):
    # GELU's derivative needs z, not a: read from pre
    n, k = grad.shape
    t = grad.dtype.type
    one, half, c, d = t(1), t(0.5), t(_SQRT_HALF), t(_INV_SQRT_2PI)
    for i in range(n):
        for j in range(k):
            v = pre[i, j]
            grad[i, j] *= half * (one + math.erf(v * c)) + v * d * math.exp(-half * v * v)


def softplus_forward(out, z, pre):
    n, k = z.shape
    zero = z.dtype.type(0)
    for i in range(n):
        for j in range(k):
            v = z[i, j]
            out[i, j] = max(v, zero) + math.log1p(math.exp(-abs(v)))


def softplus_backward(grad, out, pre):
    n, k = grad.shape
    for i in range(n):
        for j in range(k):
            grad[i, j] *= -math.expm1(-out[i, j])  # sigma(z) = 1 - exp(-softplus(z))


def softmax_forward(out, z, pre):
    # row-wise
    n, k = z.shape
    t = z.dtype.type
    zero, one = t(0), t(1)
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


def softmax_backward(grad, out, pre):
    n, k = grad.shape
    zero = grad.dtype.type(0)
    for i in range(n):
        dot = zero
        for j in range(k):
            dot += grad[i, j] * out[i, j]
        for j in range(k):
            grad[i, j] = out[i, j] * (grad[i, j] - dot)


def exp_forward(out, z, pre):
    # inf beyond ~88 (float32) / ~709 (float64): the true value overflows, as in the reference
    n, k = z.shape
    for i in range(n):
        for j in range(k):
            out[i, j] = math.exp(z[i, j])


def exp_backward(grad, out, pre):
    n, k = grad.shape
    for i in range(n):
        for j in range(k):
            grad[i, j] *= out[i, j]  # exp' = exp

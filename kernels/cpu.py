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
    EXP,
    GELU,
    IDENTITY,
    LEAKY_RELU,
    LEAKY_RELU_SLOPE,
    MSE,
    POISSON,
    RELU,
    SIGMOID,
    SOFTMAX,
    SOFTPLUS,
    SQUARED_ERROR,
    TANH,
)

# part of this backend's interface: where its arrays live, and the context of a training run
from .cpu_threads import epoch_threads as training_session  # noqa: F401
from .host_memory import copy_to_device, empty, to_device, to_host  # noqa: F401

_SQRT_HALF = 0.7071067811865476  # 1/sqrt(2)
_INV_SQRT_2PI = 0.3989422804014327  # 1/sqrt(2*pi)

# error_model="numpy": IEEE semantics for x/0 instead of a ZeroDivisionError check per division,
# which would keep LLVM from vectorising every loop that divides.
jit = njit(cache=True, nogil=True, error_model="numpy")


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
    elif activation == EXP:
        # inf beyond ~88 (float32) / ~709 (float64): the true value overflows, as in the reference
        for i in range(n):
            for j in range(k):
                out[i, j] = math.exp(z[i, j])


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
    # the ReLU family as selects, not conditional stores: LLVM vectorises selects
    elif activation == RELU:
        for i in range(n):
            for j in range(k):
                grad[i, j] = grad[i, j] if out[i, j] > zero else zero
    elif activation == LEAKY_RELU:
        slope = t(LEAKY_RELU_SLOPE)
        for i in range(n):
            for j in range(k):
                grad[i, j] *= one if out[i, j] > zero else slope
    elif activation == ELU:
        for i in range(n):
            for j in range(k):
                a = out[i, j]
                grad[i, j] *= one if a > zero else a + one
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
    elif activation == EXP:
        for i in range(n):
            for j in range(k):
                grad[i, j] *= out[i, j]  # exp' = exp


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
    # Each term is computed in the arrays' dtype; the n*k-term sums are float64 on purpose.
    total = 0.0
    for i in range(n):
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
            # log-sum-exp = m + log1p(sum of the other exp(z - m)), as in the reference; the
            # softmax output holds those exps already: exp(z_j - m) = a_j / a_max
            top = 0
            for j in range(1, k):
                if pre[i, j] > pre[i, top]:
                    top = j
            others = zero
            for j in range(k):
                if j != top:
                    others += out[i, j]
            log_sum_exp = pre[i, top] + math.log1p(others / out[i, top])
            for j in range(k):
                row += np.float64(y[i, j] * (log_sum_exp - pre[i, j]))
        elif loss == BINARY_CROSS_ENTROPY:
            for j in range(k):
                z = pre[i, j]
                row += np.float64(max(z, zero) - z * y[i, j] + math.log1p(math.exp(-abs(z))))
        elif loss == POISSON:
            # exp(z) - y z + (xlogy(y, y) - y), as in the reference; out holds exp(z) already.
            # xlogy as a select: y log y is NaN at y = 0, where the select takes 0
            for j in range(k):
                v, z = y[i, j], pre[i, j]
                y_log_y = v * math.log(v) if v > zero else zero
                row += np.float64((out[i, j] - v * z) + (y_log_y - v))
        total += row * np.float64(weight[i])
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


# ---- regularisation -------------------------------------------------------------------------

@jit
def penalty_forward(W, l2, l1):
    """``0.5 * l2 * sum(W^2) + l1 * sum(|W|)`` as a float, accumulated in float64.

    Parameters
    ----------
    W : ndarray, shape (n_in, n_out)
    l2, l1 : float
    """
    # () <- W (n_in, n_out)
    return 0.5 * l2 * _sum_of_squares(W.ravel()) + (l1 * _sum_of_abs(W.ravel()) if l1 else 0.0)


# reassoc lets LLVM split these float64 sums into SIMD lanes (the order changes, not the
# precision); indexed loops, because Numba's array iterator defeats the vectoriser
@njit(cache=True, nogil=True, fastmath={"reassoc"})
def _sum_of_squares(w):
    total = 0.0
    for i in range(w.size):
        v = np.float64(w[i])  # Numba's float() keeps a float32 a float32
        total += v * v
    return total


@njit(cache=True, nogil=True, fastmath={"reassoc"})
def _sum_of_abs(w):
    total = 0.0
    for i in range(w.size):
        total += abs(np.float64(w[i]))
    return total


@jit
def penalty_backward(dW, W, l2, l1):
    """Add ``l2 * W + l1 * sign(W)`` to ``dW`` in place.

    Parameters
    ----------
    dW, W : ndarray, shape (n_in, n_out)
    l2, l1 : float
    """
    # dW (n_in, n_out) += d penalty / d W (n_in, n_out)
    if l2 == 0 and l1 == 0:
        return
    t = W.dtype.type
    a, c = t(l2), t(l1)
    g, w = dW.ravel(), W.ravel()
    for i in range(w.size):
        g[i] += a * w[i] + c * np.sign(w[i])


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


@jit
def _dropout_uniform(key, index):
    """splitmix64 of (key, element index) -> a uniform float in [0, 1); see the reference."""
    z = key ^ (np.uint64(index) * _MIX2)
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    z = z ^ (z >> np.uint64(31))
    return float(z >> np.uint64(11)) * 2.0**-53


@jit
def dropout_forward(dropped, mask, out, rate, seed, step, layer):
    """Inverted dropout with a counter-based mask; see the reference for the parameters.

    Parameters
    ----------
    dropped, mask, out : ndarray, shape (n, k)
    rate : float
    seed, step, layer : int
    """
    # dropped, mask (n, k) <- out (n, k)
    dropout_rows(dropped, mask, out, rate, seed, step, layer, 0)


@jit
def dropout_rows(dropped, mask, out, rate, seed, step, layer, first_row):
    """:func:`dropout_forward` on rows ``first_row:first_row + n`` of a batch: the mask of a row
    depends on its place in the whole batch, so a batch split into row shards drops exactly what
    the whole batch would."""
    # dropped, mask (n, k) <- out (n, k), rows first_row.. of the batch
    n, k = out.shape
    t = out.dtype.type
    keep, zero = t(1.0 / (1.0 - rate)), t(0)
    key = np.uint64(seed) ^ (np.uint64(step) * _GOLDEN) ^ (np.uint64(layer) * _MIX1)
    for i in range(n):
        row = (first_row + i) * k
        for j in range(k):
            s = keep if _dropout_uniform(key, row + j) >= rate else zero
            mask[i, j] = s
            dropped[i, j] = out[i, j] * s


@jit
def dropout_backward(grad, mask):
    """``grad *= mask``.

    Parameters
    ----------
    grad, mask : ndarray, shape (n, k)
    """
    # grad (n, k) *= mask (n, k)
    n, k = grad.shape
    for i in range(n):
        for j in range(k):
            grad[i, j] *= mask[i, j]


# ---- optimizers -----------------------------------------------------------------------------

@jit
def sgd_update(theta, grad, velocity, lr, momentum, nesterov):
    """SGD with (Nesterov) momentum in scikit-learn's form, in place; see the reference.

    Parameters
    ----------
    theta, grad, velocity : ndarray, shape (P,)
    lr, momentum : float
    nesterov : bool
    """
    # theta, velocity (P,) <- grad (P,)
    t = theta.dtype.type
    a, mu = t(lr), t(momentum)
    for i in range(theta.size):
        v = mu * velocity[i] - a * grad[i]
        velocity[i] = v
        theta[i] += mu * v - a * grad[i] if nesterov else v


@jit
def adam_update(theta, grad, m, v, lr_t, beta_1, beta_2, epsilon):
    """Adam in scikit-learn's form, in place; see the reference.

    Parameters
    ----------
    theta, grad, m, v : ndarray, shape (P,)
    lr_t, beta_1, beta_2, epsilon : float
    """
    # theta, m, v (P,) <- grad (P,)
    t = theta.dtype.type
    a, b1, b2, eps = t(lr_t), t(beta_1), t(beta_2), t(epsilon)
    # 1 - beta in float64 first: in float32, 1 - 0.999 cancels to 0.00099998713
    c1, c2 = t(1.0 - beta_1), t(1.0 - beta_2)
    for i in range(theta.size):
        g = grad[i]
        m[i] = b1 * m[i] + c1 * g
        v[i] = b2 * v[i] + c2 * g * g
        theta[i] -= a * m[i] / (math.sqrt(v[i]) + eps)


@jit
def adam_learning_rate(lr, beta_1, beta_2, t):
    """Adam's bias-corrected step size after ``t`` updates (``t >= 1``)."""
    return lr * math.sqrt(1.0 - beta_2**t) / (1.0 - beta_1**t)


# ---- one epoch ------------------------------------------------------------------------------

def __getattr__(name):
    # train_epoch lives in cpu_epoch, which builds on the kernels above: resolved on first use so
    # that either module may be imported first
    if name == "train_epoch":
        from .cpu_epoch import train_epoch
        return train_epoch
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""Training kernels of the CPU backend: penalties, dropout and the optimizers.

``penalty_*``, ``dropout_*``, ``sgd_update``, ``adam_update`` and ``adam_learning_rate`` are the
backend interface (see :mod:`fastbp.kernels.reference`). ``sgd_step`` and ``adam_step`` are the
bodies the compiled epoch calls through :mod:`fastbp.kernels.cpu.tables`: one signature
``(theta, grad, moment_1, moment_2, hyper, lr, step)`` for every optimizer, where ``hyper`` is
the optimizer's own float64 record (:func:`optimizer_hyper`), so a new optimizer compiles its own
small kernel rather than a new epoch.
"""

import math

import numpy as np
from numba import njit

from ..codes import ADAM, SGD
from ..disk_cache import check_once
from .numba_path import WITHOUT_WRAPPERS

check_once()  # before anything here can be loaded from Numba's disk cache (kernels/disk_cache.py)

jit = njit(cache=True, nogil=True, error_model="numpy")
# Called from Python these compile like any function; called from compiled code (the epoch, the
# optimizer steps) they are inlined at Numba's IR level, each used in one place there, so that
# the cold JIT does not compile and optimise them separately first.
inline = njit(cache=True, nogil=True, error_model="numpy", inline="always")


def optimizer_hyper(settings):
    """The float64 record the optimizer's step kernel reads, from its settings
    (:mod:`fastbp.kernels.records`): SGD ``[momentum, nesterov]``, Adam ``[beta_1, beta_2,
    epsilon]``."""
    if settings.code == SGD:
        return np.array([settings.momentum, float(settings.nesterov)])
    assert settings.code == ADAM, settings
    return np.array([settings.beta_1, settings.beta_2, settings.epsilon])


# ---- regularisation -------------------------------------------------------------------------

@inline
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
@njit(cache=True, nogil=True, fastmath={"reassoc"}, **WITHOUT_WRAPPERS)
def _sum_of_squares(w):
    total = 0.0
    for i in range(w.size):
        v = np.float64(w[i])  # Numba's float() keeps a float32 a float32
        total += v * v
    return total


@njit(cache=True, nogil=True, fastmath={"reassoc"}, **WITHOUT_WRAPPERS)
def _sum_of_abs(w):
    total = 0.0
    for i in range(w.size):
        total += abs(np.float64(w[i]))
    return total


@inline
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


# reassoc, as in the sums below: the float64 sums then vectorise; without it they are a chain of
# dependent adds, which cost case (c) of benchmarks/test_training.py a sixth of its time
@njit(cache=True, nogil=True, fastmath={"reassoc"}, **WITHOUT_WRAPPERS)
def penalty_step(grad, theta, l2, l1):
    """:func:`penalty_backward` and :func:`penalty_forward` of a flat slice in one pass: adds the
    penalty's gradient to ``grad`` and returns the penalty (float64 sums) of ``theta``.

    Parameters
    ----------
    grad, theta : ndarray, shape (m,)
    l2, l1 : float
    """
    # grad (m,) += d penalty / d theta (m,); () <- penalty of theta
    t = theta.dtype.type
    a, c = t(l2), t(l1)
    squares, absolutes = 0.0, 0.0
    if l1 == 0:
        for i in range(theta.size):
            w = theta[i]
            v = np.float64(w)
            squares += v * v
            grad[i] += a * w
        return 0.5 * l2 * squares
    for i in range(theta.size):
        w = theta[i]
        v = np.float64(w)
        squares += v * v
        absolutes += abs(v)
        grad[i] += a * w + c * np.sign(w)
    return 0.5 * l2 * squares + l1 * absolutes


# ---- dropout --------------------------------------------------------------------------------

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


@inline
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


@inline
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


@inline
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

@inline
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


@inline
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


@inline
def adam_learning_rate(lr, beta_1, beta_2, t):
    """Adam's bias-corrected step size after ``t`` updates (``t >= 1``)."""
    # math.pow: the C pow() that Python's ** calls (Numba's ** with an integer exponent is a
    # multiplication loop, with its own rounding and compile time)
    return lr * math.sqrt(1.0 - math.pow(beta_2, t)) / (1.0 - math.pow(beta_1, t))


def sgd_step(theta, grad, moment_1, moment_2, hyper, lr, step):
    # theta, moment_1 (P,) <- grad (P,); hyper = [momentum, nesterov]
    sgd_update(theta, grad, moment_1, lr, hyper[0], hyper[1] != 0)


def adam_step(theta, grad, moment_1, moment_2, hyper, lr, step):
    # theta, moment_1, moment_2 (P,) <- grad (P,); hyper = [beta_1, beta_2, epsilon]; step >= 1
    rate = adam_learning_rate(lr, hyper[0], hyper[1], step)
    adam_update(theta, grad, moment_1, moment_2, rate, hyper[0], hyper[1], hyper[2])

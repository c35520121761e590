"""The NumPy oracle: every kernel written the obvious way, vectorised, with no compilation.

This module defines what each kernel means. It never imports numba, so a bug in the compiled
backends cannot leak into the answers they are tested against. Same names and argument order as
:mod:`fastbp.kernels.cpu`; see :mod:`fastbp.kernels` for the shared conventions.
"""

import numpy as np
from scipy.special import erf

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


def activation_forward(out, z, activation):
    """Apply an activation elementwise (row-wise for softmax).

    Parameters
    ----------
    out : ndarray, shape (n, k)
        Written with ``act(z)``; may be ``z`` itself.
    z : ndarray, shape (n, k)
        Pre-activation.
    activation : int
        Code from :mod:`fastbp.kernels.codes`.
    """
    # out (n, k) <- act(z (n, k))
    if activation == IDENTITY:
        out[...] = z
    elif activation == SIGMOID:
        e = np.exp(-np.abs(z))  # exp of a non-positive number never overflows
        out[...] = np.where(z >= 0, 1 / (1 + e), e / (1 + e))
    elif activation == TANH:
        out[...] = np.tanh(z)
    elif activation == RELU:
        out[...] = np.maximum(z, 0)
    elif activation == LEAKY_RELU:
        out[...] = np.where(z > 0, z, LEAKY_RELU_SLOPE * z)
    elif activation == ELU:
        out[...] = np.where(z > 0, z, np.expm1(np.minimum(z, 0)))
    elif activation == GELU:
        out[...] = 0.5 * z * (1 + erf(z * _SQRT_HALF))
    elif activation == SOFTPLUS:
        out[...] = np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))
    elif activation == SOFTMAX:
        e = np.exp(z - z.max(axis=1, keepdims=True))
        out[...] = e / e.sum(axis=1, keepdims=True)
    else:
        raise ValueError(f"unknown activation code {activation}")


def activation_backward(grad, out, pre, activation):
    """Turn the gradient w.r.t. an activation's output into the gradient w.r.t. its input, in place.

    Parameters
    ----------
    grad : ndarray, shape (n, k)
        dL/da on entry, dL/dz on exit.
    out : ndarray, shape (n, k)
        The saved output ``a``; derivatives come from it wherever the activation allows.
    pre : ndarray, shape (n, k)
        The saved pre-activation ``z``; read only for GELU.
    activation : int
        Code from :mod:`fastbp.kernels.codes`.
    """
    # grad (n, k) <- grad * act'(z), from out (n, k) or, for GELU, pre (n, k)
    a = out
    if activation == IDENTITY:
        return
    elif activation == SIGMOID:
        grad *= a * (1 - a)
    elif activation == TANH:
        grad *= 1 - a * a
    elif activation == RELU:
        grad *= a > 0
    elif activation == LEAKY_RELU:
        grad *= np.where(a > 0, 1, LEAKY_RELU_SLOPE).astype(grad.dtype)
    elif activation == ELU:
        grad *= np.where(a > 0, 1, a + 1)
    elif activation == GELU:
        z = pre
        grad *= 0.5 * (1 + erf(z * _SQRT_HALF)) + z * _INV_SQRT_2PI * np.exp(-0.5 * z * z)
    elif activation == SOFTPLUS:
        grad *= -np.expm1(-a)  # sigma(z) = 1 - exp(-softplus(z))
    elif activation == SOFTMAX:
        # Jacobian-vector product of softmax: a * (g - <g, a>) per row
        grad[...] = a * (grad - (grad * a).sum(axis=1, keepdims=True))
    else:
        raise ValueError(f"unknown activation code {activation}")


def dense_forward(out, pre, x, W, b, activation):
    """One dense layer: ``out = act(x @ W + b)``.

    Parameters
    ----------
    out : ndarray, shape (n, n_out)
        Written with the layer's output.
    pre : ndarray, shape (n, n_out)
        Written with ``x @ W + b``; may be ``out`` itself when nothing reads it later.
    x : ndarray, shape (n, n_in)
    W : ndarray, shape (n_in, n_out)
    b : ndarray, shape (n_out,)
    activation : int
    """
    # out, pre (n, n_out) <- act(x (n, n_in) @ W (n_in, n_out) + b (n_out,))
    np.matmul(x, W, out=pre)
    pre += b
    activation_forward(out, pre, activation)


def dense_backward(dx, dW, db, grad, x, W, out, pre, activation):
    """Backpropagate through one dense layer.

    Parameters
    ----------
    dx : ndarray, shape (n, n_in), or None
        Written with dL/dx = delta @ W.T; None skips it (the first layer).
    dW : ndarray, shape (n_in, n_out)
        Written with x.T @ delta.
    db : ndarray, shape (n_out,)
        Written with the column sums of delta.
    grad : ndarray, shape (n, n_out)
        dL/d(out) on entry; overwritten with delta = dL/d(pre).
    x, W : the layer's saved input and weights, as in :func:`dense_forward`.
    out, pre : the layer's saved output and pre-activation, as in :func:`dense_forward`.
    activation : int
    """
    # dx (n, n_in), dW (n_in, n_out), db (n_out,) <- grad (n, n_out) through act, W, x
    activation_backward(grad, out, pre, activation)
    np.matmul(x.T, grad, out=dW)
    np.sum(grad, axis=0, out=db)
    if dx is not None:
        np.matmul(grad, W.T, out=dx)


def _per_sample_loss(pre, out, y, loss):
    """Elementwise loss terms of shape (n, k), in the arrays' dtype."""
    if loss == SQUARED_ERROR:
        return 0.5 * (out - y) ** 2 / out.shape[1]
    if loss == MSE:
        return (out - y) ** 2 / out.shape[1]
    if loss == CROSS_ENTROPY:
        m = pre.max(axis=1, keepdims=True)
        log_sum_exp = m + np.log(np.exp(pre - m).sum(axis=1, keepdims=True))
        return y * (log_sum_exp - pre)  # -y * log_softmax(z)
    if loss == BINARY_CROSS_ENTROPY:
        return np.maximum(pre, 0) - pre * y + np.log1p(np.exp(-np.abs(pre)))
    raise ValueError(f"unknown loss code {loss}")


def loss_forward(pre, out, y, weight, loss):
    """Weighted loss of a batch.

    Parameters
    ----------
    pre : ndarray, shape (n, k)
        The output layer's pre-activation (read by the logits-form losses).
    out : ndarray, shape (n, k)
        The network's output.
    y : ndarray, shape (n, k)
        Targets (one-hot or probabilities for the cross-entropies).
    weight : ndarray, shape (n,)
        Per-sample weights that already include the batch mean (``1/n`` each for a plain mean).
    loss : int

    Returns
    -------
    float
        ``sum_i weight_i * l_i``, accumulated in float64.
    """
    # () <- pre, out, y (n, k), weight (n,)
    per_sample = _per_sample_loss(pre, out, y, loss).sum(axis=1, dtype=np.float64)
    return float(per_sample @ weight.astype(np.float64))


def loss_backward(grad, pre, out, y, weight, loss):
    """Gradient of :func:`loss_forward`.

    Parameters
    ----------
    grad : ndarray, shape (n, k)
        Written with dL/d(out), or with dL/d(pre) for the logits-form losses
        (:data:`~fastbp.kernels.codes.LOGIT_LOSSES`).
    pre, out, y, weight, loss : as in :func:`loss_forward`.
    """
    # grad (n, k) <- d loss / d out (or d pre for the logits-form losses)
    w = weight[:, None]
    k = out.shape[1]
    if loss == SQUARED_ERROR:
        grad[...] = (out - y) * (w / k)
    elif loss == MSE:
        grad[...] = (out - y) * (2 * w / k)
    elif loss in (CROSS_ENTROPY, BINARY_CROSS_ENTROPY):
        grad[...] = (out - y) * w
    else:
        raise ValueError(f"unknown loss code {loss}")

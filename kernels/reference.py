"""The NumPy oracle: every kernel written the obvious way, vectorised, with no compilation.

This module defines what each kernel means. It never imports numba, so a bug in the compiled
backends cannot leak into the answers they are tested against. Same names and argument order as
:mod:`fastbp.kernels.cpu`; see :mod:`fastbp.kernels` for the shared conventions.
"""

import contextlib
import math
import sys

import numpy as np
from scipy.special import erf, xlogy

from .codes import (
    ADAM,
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
# part of this backend's interface: where its arrays live
from . import epoch_chunks, layer_loop
from .host_memory import copy_to_device, empty, to_device, to_host  # noqa: F401
from .layer_loop import LayerBuffers
from .layout import parameter_views

__all__ = [
    "activation_backward", "activation_forward", "adam_learning_rate", "adam_update",
    "copy_to_device", "dense_backward", "dense_forward", "dropout_backward", "dropout_forward",
    "empty", "loss_backward", "loss_forward", "penalty_backward", "penalty_forward", "sgd_update",
    "to_device", "to_host", "train_epoch", "train_epochs", "training_session",
]

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
    elif activation == EXP:
        out[...] = np.exp(z)  # inf beyond ~88 (float32) / ~709 (float64): the true value overflows
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
    elif activation == EXP:
        grad *= a  # exp' = exp
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
        # log-sum-exp = m + log1p(sum of the other exp(z - m)): the max term is exactly 1, and
        # log1p keeps a confident row's tiny loss accurate where log(1 + tiny) would round it
        top = pre.argmax(axis=1)
        rows = np.arange(pre.shape[0])
        m = pre[rows, top][:, None]
        others = np.exp(pre - m)
        others[rows, top] = 0
        log_sum_exp = m + np.log1p(others.sum(axis=1, keepdims=True))
        return y * (log_sum_exp - pre)  # -y * log_softmax(z)
    if loss == BINARY_CROSS_ENTROPY:
        return np.maximum(pre, 0) - pre * y + np.log1p(np.exp(-np.abs(pre)))
    if loss == POISSON:
        # half Poisson deviance from z = log(rate): exp(z) - y z, plus the constant xlogy(y, y) - y
        # that makes it scikit-learn's value (0 at a perfect fit); xlogy(0, 0) = 0
        return (np.exp(pre) - y * pre) + (xlogy(y, y) - y)
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
    elif loss in (CROSS_ENTROPY, BINARY_CROSS_ENTROPY, POISSON):
        grad[...] = (out - y) * w  # the fused delta dL/dz: a - y for softmax, sigmoid and exp
    else:
        raise ValueError(f"unknown loss code {loss}")


# ---- regularisation -------------------------------------------------------------------------

def penalty_forward(W, l2, l1):
    """``0.5 * l2 * sum(W^2) + l1 * sum(|W|)`` as a float (the batch scaling is the caller's).

    Parameters
    ----------
    W : ndarray, shape (n_in, n_out)
    l2, l1 : float
    """
    # () <- W (n_in, n_out)
    w = W.astype(np.float64)
    return 0.5 * l2 * float(np.sum(w * w)) + l1 * float(np.sum(np.abs(w)))


def penalty_backward(dW, W, l2, l1):
    """Add the penalty's gradient ``l2 * W + l1 * sign(W)`` to ``dW`` in place.

    Parameters
    ----------
    dW, W : ndarray, shape (n_in, n_out)
    l2, l1 : float
    """
    # dW (n_in, n_out) += d penalty / d W (n_in, n_out)
    dW += l2 * W + l1 * np.sign(W)


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


def _dropout_uniform(seed, step, layer, index):
    """splitmix64 of (seed, step, layer, element index) -> uniform [0, 1) floats.

    A counter-based generator: every backend draws the same mask for the same element, with no
    generator state to carry between steps or threads.
    """
    key = np.array([seed, step, layer], dtype=np.uint64) * np.array([1, _GOLDEN, _MIX1], np.uint64)
    z = key[0] ^ key[1] ^ key[2] ^ (index * _MIX2)  # uint64 arrays wrap silently, as intended
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53


def dropout_forward(dropped, mask, out, rate, seed, step, layer):
    """Inverted dropout: zero each unit with probability ``rate``, scale survivors by 1/(1-rate).

    Parameters
    ----------
    dropped : ndarray, shape (n, k)
        Written with ``out * mask``.
    mask : ndarray, shape (n, k)
        Written with 0 or ``1 / (1 - rate)``.
    out : ndarray, shape (n, k)
        The layer's activations (kept intact: their derivative is computed from them).
    rate : float
        Drop probability in [0, 1).
    seed, step, layer : int
        Key of the counter-based generator.
    """
    # dropped, mask (n, k) <- out (n, k)
    n, k = out.shape
    u = _dropout_uniform(seed, step, layer, np.arange(n * k, dtype=np.uint64)).reshape(n, k)
    mask[...] = np.where(u >= rate, out.dtype.type(1.0 / (1.0 - rate)), 0)
    np.multiply(out, mask, out=dropped)


def dropout_backward(grad, mask):
    """``grad *= mask``: the gradient w.r.t. a layer's activations from that w.r.t. its dropped ones.

    Parameters
    ----------
    grad, mask : ndarray, shape (n, k)
    """
    # grad (n, k) *= mask (n, k)
    grad *= mask


# ---- optimizers -----------------------------------------------------------------------------

def sgd_update(theta, grad, velocity, lr, momentum, nesterov):
    """SGD with (Nesterov) momentum in scikit-learn's form, in place.

    ``velocity <- momentum * velocity - lr * grad``; ``theta += velocity``, or with Nesterov
    ``theta += momentum * velocity - lr * grad``.

    Parameters
    ----------
    theta, grad, velocity : ndarray, shape (P,)
    lr, momentum : float
    nesterov : bool
    """
    # theta, velocity (P,) <- grad (P,)
    velocity *= momentum
    velocity -= lr * grad
    if nesterov:
        theta += momentum * velocity - lr * grad
    else:
        theta += velocity


def adam_update(theta, grad, m, v, lr_t, beta_1, beta_2, epsilon):
    """Adam in scikit-learn's form, in place: bias correction folded into ``lr_t``.

    ``m <- b1 m + (1-b1) g``; ``v <- b2 v + (1-b2) g^2``; ``theta -= lr_t * m / (sqrt(v) + eps)``
    with ``lr_t = lr * sqrt(1 - b2^t) / (1 - b1^t)``.

    Parameters
    ----------
    theta, grad, m, v : ndarray, shape (P,)
    lr_t, beta_1, beta_2, epsilon : float
    """
    # theta, m, v (P,) <- grad (P,)
    m *= beta_1
    m += (1 - beta_1) * grad
    v *= beta_2
    v += (1 - beta_2) * grad * grad
    theta -= lr_t * m / (np.sqrt(v) + epsilon)


def adam_learning_rate(lr, beta_1, beta_2, t):
    """Adam's bias-corrected step size after ``t`` updates (``t >= 1``)."""
    return float(lr * math.sqrt(1.0 - beta_2**t) / (1.0 - beta_1**t))  # a Python float: no upcast


# ---- one epoch ------------------------------------------------------------------------------

def training_session():
    """Context around a whole training run (every epoch and its validation); yields the threads
    an epoch may use. The CPU backend holds BLAS to one thread in it; this one holds nothing."""
    return contextlib.nullcontext(1)



def train_epoch(state, network, batches, optimizer, penalty, dropout_seed, steps_taken):
    """One epoch of mini-batch training, entirely inside the backend.

    Parameters
    ----------
    state : fastbp.kernels.records.TrainingState
        Parameters, gradient buffer and the optimizer's moments, each of shape (P,), in the
        layout of :mod:`fastbp.kernels.layout`; updated in place.
    network : fastbp.kernels.records.Network
    batches : fastbp.kernels.records.Batches
    optimizer : fastbp.kernels.records.SGDSettings or AdamSettings
    penalty : fastbp.kernels.records.Penalty
        Each batch of ``m`` rows uses ``l2 / m`` and ``l1 / m``, on weights only.
    dropout_seed : int
        With the step count, the key of the dropout masks.
    steps_taken : int
        Optimizer steps taken before this epoch.

    Returns
    -------
    mean_loss : float
        Batch losses (penalty included) weighted by batch size over the epoch's samples; NaN as soon
        as a batch's loss is not finite, in which case the epoch stops there.
    steps_taken : int
        Optimizer steps taken after this epoch.
    """
    # parameters, gradient, moment_1, moment_2 (P,) <- one pass over X (n, d_in), Y (n, d_out)
    kernels = sys.modules[__name__]
    theta = state.parameters
    params = list(zip(*parameter_views(theta, network.widths)))
    gradients = list(zip(*parameter_views(state.gradient, network.widths)))
    X, Y, order, batch_size = batches.X, batches.Y, batches.order, batches.batch_size
    total = 0.0
    n = order.shape[0]
    for start in range(0, n, batch_size):
        idx = order[start:start + batch_size]
        m = idx.shape[0]
        w = batches.sample_weight[idx]
        targets = (Y[idx], w / w.sum())
        buffers = LayerBuffers(kernels, network, m, X.dtype, training=True)
        inputs = layer_loop.forward(kernels, network, buffers, X[idx], params,
                                    (dropout_seed, steps_taken))
        batch_loss = loss_forward(buffers.pres[-1], buffers.outs[-1], *targets, network.loss)
        for W, _ in params:
            batch_loss += penalty_forward(W, penalty.l2 / m, penalty.l1 / m)
        if not np.isfinite(batch_loss):
            return np.nan, steps_taken
        total += batch_loss * m
        layer_loop.backward(kernels, network, buffers, inputs, params, gradients, targets,
                            (penalty.l2 / m, penalty.l1 / m))
        steps_taken += 1
        if optimizer.code == ADAM:
            lr_t = adam_learning_rate(optimizer.lr, optimizer.beta_1, optimizer.beta_2,
                                      steps_taken)
            adam_update(theta, state.gradient, state.moment_1, state.moment_2, lr_t,
                        optimizer.beta_1, optimizer.beta_2, optimizer.epsilon)
        else:
            sgd_update(theta, state.gradient, state.moment_1, optimizer.lr, optimizer.momentum,
                       optimizer.nesterov)
    return total / n, steps_taken


def train_epochs(state, network, batches, optimizer, penalty, dropout_seed, steps_taken, run):
    """Several epochs in one call: each as :func:`train_epoch` trains it, its figures and state
    written into the rows of ``run``.

    Parameters
    ----------
    state, network, optimizer, penalty, dropout_seed, steps_taken
        As for :func:`train_epoch`; ``optimizer.lr`` is not read.
    batches : fastbp.kernels.records.Batches
        With ``order`` of shape (R, n): epoch ``e`` visits the rows ``order[e % R]``. Where
        ``run.rng`` is given (then R = K), the call first fills row after row with
        ``run.rng.permutation(n)``.
    run : fastbp.kernels.records.EpochRun
        The K epochs' learning rates ``lrs``; the generator ``rng`` or None; and the rows written:
        the state the run starts from to ``parameters[0]``, ``moment_1[0]`` and ``moment_2[0]``,
        then ``steps_taken`` to ``steps[0]`` (a step count in a row says the row is whole); for
        each finished epoch ``e``, ``losses[e]`` (its mean loss, as :func:`train_epoch` returns
        it), and the state and step count after it to the rows ``e + 1``. Where ``stop_rule`` is
        given, each such epoch's loss is counted in it, and the run ends after the epoch at
        which its patience runs out, writing 1 into ``stop_rule[4]``.

    Returns
    -------
    epochs_done : int
        The epochs finished with a finite loss and finite parameters, K unless one diverged or
        the stopping rule ended the run after it: where one diverged, the run stops in epoch
        ``epochs_done``, whose ``losses`` entry holds its loss (NaN where a batch's loss was not
        finite, which stops the epoch there; the epoch's finite mean loss where only the
        parameters at its end are not) and whose state rows (``epochs_done + 1``) are not
        meaningful.
    steps_taken : int
        Optimizer steps taken after the run (at a stop, where the run stopped).

    Raises
    ------
    ValueError
        When the rows of ``run`` or ``batches.order`` do not fit the state and the epochs
        (:func:`fastbp.kernels.epoch_chunks.check_run`).
    """
    return epoch_chunks.train_epochs(sys.modules[__name__], (state, network, batches, optimizer,
                                                             penalty, dropout_seed, steps_taken),
                                     run)

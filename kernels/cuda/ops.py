"""Host launchers of the CUDA kernels: every function of the kernel interface but ``train_epoch``.

Each function mirrors its namesake in :mod:`fastbp.kernels.cpu` (same arguments, same meaning) on
numba device arrays. It picks the kernels and grids and queues them on the default stream, so
consecutive calls run in order on the device; nothing returns to the host but the floats that
``loss_forward`` and ``penalty_forward`` return. Scalars are converted on the host to the types the
kernels are compiled for (the arrays' dtype, float64, int64), so a float32 kernel gets float32
constants and a Python int never triggers a second compilation.
"""

import numpy as np
from numba import cuda

from . import config as cuda_config
from ..codes import ACTIVATION_NAMES, IDENTITY, LOSS_NAMES, MSE, SOFTMAX, SQUARED_ERROR
from .elementwise import (
    activation_elementwise,
    column_sums,
    delta_elementwise,
    loss_gradient,
    loss_rows,
    softmax_backward_rows,
    softmax_rows,
)
from .gemm import gemm
from .launch import blocks_for, launch
from .training import (
    adam_step,
    dropout_mask,
    multiply_in_place,
    penalty_gradient,
    penalty_partials,
    sgd_step,
)
from ..reference import adam_learning_rate  # plain host arithmetic, shared by every backend

__all__ = [
    "activation_backward", "activation_forward", "adam_learning_rate", "adam_update",
    "dense_backward", "dense_forward", "dropout_backward", "dropout_forward", "loss_backward",
    "loss_forward", "penalty_backward", "penalty_forward", "sgd_update",
]


def per_item(kernel, n_items, *args):
    """Launch ``kernel`` with one thread per item."""
    threads = cuda_config.ELEMENTWISE_THREADS
    launch(kernel, blocks_for(n_items, threads), threads)(*args)


def per_row(kernel, n_rows, *args):
    """Launch ``kernel`` with one thread per row."""
    threads = cuda_config.ROW_THREADS
    launch(kernel, blocks_for(n_rows, threads), threads)(*args)


def reduction_blocks(n_items, threads):
    """Blocks of a reduction over ``n_items``: enough to cover them, at most REDUCTION_BLOCKS."""
    return min(cuda_config.REDUCTION_BLOCKS, blocks_for(n_items, threads))


def _check_code(code, names, what):
    if code not in names:
        raise ValueError(f"unknown {what} code {code!r}; expected one of {sorted(names)}")


_CONSTANTS = {}


def _zero(name, dtype):
    """A cached one-element zero vector on the device, by role.

    The unfused GEMMs take it as the bias they never read; the public optimizer updates as a
    ``halt`` flag that is never set.
    """
    key = (name, np.dtype(dtype))
    if key not in _CONSTANTS:
        _CONSTANTS[key] = cuda.to_device(np.zeros(1, dtype))
    return _CONSTANTS[key]


def activation_forward(out, z, activation):
    """Apply an activation elementwise (row-wise for softmax); ``out`` may be ``z``.

    Parameters
    ----------
    out : device array, shape (n, k)
    z : device array, shape (n, k)
    activation : int
    """
    # out (n, k) <- act(z (n, k))
    _check_code(activation, ACTIVATION_NAMES, "activation")
    n, k = z.shape
    if activation == SOFTMAX:
        per_row(softmax_rows, n, out, z)
    else:
        per_item(activation_elementwise, n * k, out, z, int(activation))


def activation_backward(grad, out, pre, activation):
    """Turn dL/da into dL/dz in place, from the saved output (or pre-activation for GELU).

    Parameters
    ----------
    grad : device array, shape (n, k)
    out : device array, shape (n, k)
    pre : device array, shape (n, k)
    activation : int
    """
    # grad (n, k) <- grad * act'(z), from out (n, k) or, for GELU, pre (n, k)
    _check_code(activation, ACTIVATION_NAMES, "activation")
    n, k = grad.shape
    if activation == SOFTMAX:
        per_row(softmax_backward_rows, n, grad, out)
    elif activation != IDENTITY:
        per_item(delta_elementwise, n * k, grad, out, pre, int(activation))


def dense_forward(out, pre, x, W, b, activation):
    """One dense layer: ``out = act(x @ W + b)``; ``pre`` may be ``out`` itself.

    A tiled GEMM with bias and activation fused into its epilogue; softmax, being row-wise, runs
    as a second kernel over the GEMM's output.

    Parameters
    ----------
    out : device array, shape (n, n_out)
    pre : device array, shape (n, n_out)
    x : device array, shape (n, n_in)
    W : device array, shape (n_in, n_out)
    b : device array, shape (n_out,)
    activation : int
    """
    # out, pre (n, n_out) <- act(x (n, n_in) @ W (n_in, n_out) + b (n_out,))
    _check_code(activation, ACTIVATION_NAMES, "activation")
    if activation == SOFTMAX:
        gemm("forward", pre, pre, x, W, b, IDENTITY)
        per_row(softmax_rows, pre.shape[0], out, pre)
    else:
        gemm("forward", out, pre, x, W, b, int(activation))


def dense_backward(dx, dW, db, grad, x, W, out, pre, activation):
    """Backpropagate through one dense layer; ``grad`` is overwritten with delta.

    ``dW = x.T @ delta`` and ``dx = delta @ W.T`` are tiled GEMMs reading ``x`` and ``W``
    transposed through their indices; ``db`` is a block reduction over the rows of delta.

    Parameters
    ----------
    dx : device array, shape (n, n_in), or None
        dL/dx = delta @ W.T; None skips it (the first layer).
    dW : device array, shape (n_in, n_out)
    db : device array, shape (n_out,)
    grad : device array, shape (n, n_out)
        dL/d(out) on entry, delta = dL/d(pre) on exit.
    x, W, out, pre : as in :func:`dense_forward`.
    activation : int
    """
    # dx (n, n_in), dW (n_in, n_out), db (n_out,) <- grad (n, n_out) through act, W, x
    activation_backward(grad, out, pre, activation)
    no_bias = _zero("no bias", grad.dtype)
    gemm("weights", dW, dW, x, grad, no_bias, IDENTITY)
    cols, rows = cuda_config.COLUMN_SUM_COLS, cuda_config.COLUMN_SUM_ROWS
    launch(column_sums, blocks_for(db.shape[0], cols), (cols, rows))(db, grad)
    if dx is not None:
        gemm("inputs", dx, dx, grad, W, no_bias, IDENTITY)


def launch_loss_partials(partial, at, pre, out, y, weight, loss, blocks):
    """Queue the loss of a batch as ``blocks`` float64 partial sums at ``partial[at:]``."""
    launch(loss_rows, blocks, cuda_config.ROW_THREADS)(partial, at, pre, out, y, weight, int(loss))


def loss_forward(pre, out, y, weight, loss):
    """Weighted loss of a batch, accumulated in float64.

    Parameters
    ----------
    pre : device array, shape (n, k)
    out : device array, shape (n, k)
    y : device array, shape (n, k)
    weight : device array, shape (n,)
    loss : int

    Returns
    -------
    float
    """
    # () <- pre, out, y (n, k), weight (n,)
    _check_code(loss, LOSS_NAMES, "loss")
    blocks = reduction_blocks(out.shape[0], cuda_config.ROW_THREADS)
    partial = cuda.device_array(blocks, np.float64)
    launch_loss_partials(partial, 0, pre, out, y, weight, loss, blocks)
    return float(partial.copy_to_host().sum())


def loss_backward(grad, pre, out, y, weight, loss):
    """Gradient of :func:`loss_forward` w.r.t. ``out`` (w.r.t. ``pre`` for the logits-form losses).

    Parameters
    ----------
    grad : device array, shape (n, k)
    pre, out, y, weight, loss : as in :func:`loss_forward`.
    """
    # grad (n, k) <- d loss / d out (or d pre for the logits-form losses)
    _check_code(loss, LOSS_NAMES, "loss")
    n, k = out.shape
    t = out.dtype.type
    scale = {SQUARED_ERROR: t(1) / t(k), MSE: t(2) / t(k)}.get(loss, t(1))
    per_item(loss_gradient, n * k, grad, out, y, weight, scale)


def launch_penalty_partials(partial, at, W, l2, l1, blocks):
    """Queue ``0.5 l2 sum(W^2) + l1 sum|W|`` as ``blocks`` float64 partial sums at ``partial[at:]``."""
    launch(penalty_partials, blocks, cuda_config.ELEMENTWISE_THREADS)(
        partial, at, W, 0.5 * float(l2), float(l1))


def penalty_forward(W, l2, l1):
    """``0.5 * l2 * sum(W^2) + l1 * sum(|W|)`` as a float, accumulated in float64.

    Parameters
    ----------
    W : device array, shape (n_in, n_out)
    l2, l1 : float
    """
    # () <- W (n_in, n_out)
    blocks = reduction_blocks(W.size, cuda_config.ELEMENTWISE_THREADS)
    partial = cuda.device_array(blocks, np.float64)
    launch_penalty_partials(partial, 0, W, l2, l1, blocks)
    return float(partial.copy_to_host().sum())


def penalty_backward(dW, W, l2, l1):
    """Add ``l2 * W + l1 * sign(W)`` to ``dW`` in place.

    Parameters
    ----------
    dW, W : device array, shape (n_in, n_out)
    l2, l1 : float
    """
    # dW (n_in, n_out) += d penalty / d W (n_in, n_out)
    if l2 == 0 and l1 == 0:
        return
    t = W.dtype.type
    per_item(penalty_gradient, W.size, dW, W, t(l2), t(l1))


def dropout_forward(dropped, mask, out, rate, seed, step, layer):
    """Inverted dropout with the counter-based mask of the other backends.

    Parameters
    ----------
    dropped, mask, out : device array, shape (n, k)
    rate : float
    seed, step, layer : int
    """
    # dropped, mask (n, k) <- out (n, k)
    keep = out.dtype.type(1.0 / (1.0 - rate))
    per_item(dropout_mask, out.size, dropped, mask, out, keep, float(rate), int(seed),
                int(step), int(layer))


def dropout_backward(grad, mask):
    """``grad *= mask``.

    Parameters
    ----------
    grad, mask : device array, shape (n, k)
    """
    # grad (n, k) *= mask (n, k)
    per_item(multiply_in_place, grad.size, grad, mask)


def launch_sgd(theta, grad, velocity, lr, momentum, nesterov, halt):
    """Queue :func:`sgd_update`, skipped on the device once ``halt[0]`` is set."""
    t = theta.dtype.type
    per_item(sgd_step, theta.size, theta, grad, velocity, t(lr), t(momentum), bool(nesterov),
                halt)


def sgd_update(theta, grad, velocity, lr, momentum, nesterov):
    """SGD with (Nesterov) momentum in scikit-learn's form, in place; see the reference.

    Parameters
    ----------
    theta, grad, velocity : device array, shape (P,)
    lr, momentum : float
    nesterov : bool
    """
    # theta, velocity (P,) <- grad (P,)
    launch_sgd(theta, grad, velocity, lr, momentum, nesterov, _zero("halt", np.int64))


def launch_adam(theta, grad, m, v, lr_t, beta_1, beta_2, epsilon, halt):
    """Queue :func:`adam_update`, skipped on the device once ``halt[0]`` is set."""
    t = theta.dtype.type
    # 1 - beta in float64 first: in float32, 1 - 0.999 cancels to 0.00099998713
    per_item(adam_step, theta.size, theta, grad, m, v, t(lr_t), t(beta_1), t(beta_2),
                t(1.0 - beta_1), t(1.0 - beta_2), t(epsilon), halt)


def adam_update(theta, grad, m, v, lr_t, beta_1, beta_2, epsilon):
    """Adam in scikit-learn's form, in place; see the reference.

    Parameters
    ----------
    theta, grad, m, v : device array, shape (P,)
    lr_t, beta_1, beta_2, epsilon : float
    """
    # theta, m, v (P,) <- grad (P,)
    launch_adam(theta, grad, m, v, lr_t, beta_1, beta_2, epsilon, _zero("halt", np.int64))

"""``train_epoch`` on the GPU: a host loop that queues every kernel of an epoch, then waits once.

Parameters, optimizer state, data and workspaces stay in device memory; per batch the host only
launches kernels (gathering the batch, forward, loss and penalties as float64 partial sums,
backward, update). The batch losses collect in a device vector that comes back once, at the end.
A non-finite batch loss sets a ``halt`` flag on the device that makes every later optimizer update
a no-op, so the parameters stop exactly where the CPU trainer returns.
"""

import functools
import math

import numpy as np
from numba import cuda

from . import cuda_config
from .codes import ADAM, IDENTITY, LOGIT_LOSSES, NEEDS_PREACTIVATION
from .cuda_launch import launch
from .cuda_ops import (
    adam_learning_rate,
    dense_backward,
    dense_forward,
    dropout_backward,
    dropout_forward,
    launch_adam,
    launch_loss_partials,
    launch_penalty_partials,
    launch_sgd,
    loss_backward,
    penalty_backward,
    per_item,
    reduction_blocks,
)
from .cuda_training import batch_weights, finish_batch_loss, gather_rows
from .layout import parameter_views


class _Workspace:
    """Device buffers for batches of ``m`` samples: inputs, targets, weights and every layer's."""

    def __init__(self, dims, activations, dropout, loss, m, dtype):
        def empty(*shape):
            return cuda.device_array(shape, dtype)

        last = len(dims) - 2
        self.m = m
        self.x, self.y, self.weight = empty(m, dims[0]), empty(m, dims[-1]), empty(m)
        self.outs, self.pres, self.grads, self.masks, self.droppeds = [], [], [], [], []
        for i, (width, activation, rate) in enumerate(zip(dims[1:], activations, dropout)):
            out = empty(m, width)
            # pre aliases out unless something reads z later (see fastbp.kernels)
            keep_pre = (activation in NEEDS_PREACTIVATION
                        or (i == last and loss in LOGIT_LOSSES))
            self.outs.append(out)
            self.pres.append(empty(m, width) if keep_pre else out)
            self.grads.append(empty(m, width))
            self.masks.append(empty(m, width) if rate > 0 else None)
            self.droppeds.append(empty(m, width) if rate > 0 else None)


@functools.lru_cache(maxsize=2)
def _workspace(dims, activations, dropout, loss, m, dtype):
    """The workspace of one batch size, kept across epochs (a fit's full and ragged batches)."""
    return _Workspace(dims, activations, dropout, loss, m, np.dtype(dtype))


def _host(array):
    """A small metadata array (widths, codes, rates) on the host, wherever it was given."""
    return array.copy_to_host() if hasattr(array, "copy_to_host") else np.asarray(array)


class _BatchLosses:
    """The epoch's losses on the device: one float64 per batch, and the ``halt`` flag."""

    def __init__(self, sizes, Ws, penalised):
        # grids fixed for the epoch, so a ragged last batch still overwrites every partial sum
        self.loss_blocks = reduction_blocks(sizes[0], cuda_config.ROW_THREADS)
        self.penalty_blocks = [
            reduction_blocks(W.size, cuda_config.ELEMENTWISE_THREADS) if penalised else 0
            for W in Ws]
        self.partial = cuda.device_array(self.loss_blocks + sum(self.penalty_blocks), np.float64)
        self.losses = cuda.device_array(len(sizes), np.float64)
        self.halt = cuda.to_device(np.zeros(1, np.int64))
        self.sizes = sizes

    def queue(self, b, ws, Ws, loss, l2, l1):
        """Queue batch ``b``'s loss plus penalties into ``losses[b]``; halt if it is not finite."""
        launch_loss_partials(self.partial, 0, ws.pres[-1], ws.outs[-1], ws.y, ws.weight, loss,
                             self.loss_blocks)
        at = self.loss_blocks
        for W, blocks in zip(Ws, self.penalty_blocks):
            if blocks:
                launch_penalty_partials(self.partial, at, W, l2, l1, blocks)
                at += blocks
        launch(finish_batch_loss, 1, cuda_config.ELEMENTWISE_THREADS)(
            self.losses, self.partial, b, self.halt)

    def result(self, step):
        """``(mean loss, step)`` as the CPU trainer returns them; the epoch's one wait."""
        total = 0.0
        for b, batch_loss in enumerate(self.losses.copy_to_host()):
            if not math.isfinite(batch_loss):
                return math.nan, step + b
            total += float(batch_loss) * self.sizes[b]
        return total / sum(self.sizes), step + len(self.sizes)


def _train_batch(ws, Ws, bs, dWs, dbs, activations, dropout, loss, X, Y, sample_weight, order,
                 start, l2, l1, seed, step, losses, b):
    """Queue forward, loss and backward of the batch ``order[start:start + ws.m]``."""
    n_layers = len(Ws)
    last = n_layers - 1
    per_item(gather_rows, ws.x.size, ws.x, X, order, start)
    per_item(gather_rows, ws.y.size, ws.y, Y, order, start)
    launch(batch_weights, 1, cuda_config.ELEMENTWISE_THREADS)(ws.weight, sample_weight, order,
                                                              start)
    inputs = [ws.x]  # each layer's input: the previous output, after dropout where there is one
    for i in range(n_layers):
        dense_forward(ws.outs[i], ws.pres[i], inputs[i], Ws[i], bs[i], activations[i])
        if dropout[i] > 0:
            dropout_forward(ws.droppeds[i], ws.masks[i], ws.outs[i], dropout[i], seed, step, i)
        inputs.append(ws.droppeds[i] if dropout[i] > 0 else ws.outs[i])
    m = ws.m
    losses.queue(b, ws, Ws, loss, l2 / m, l1 / m)
    loss_backward(ws.grads[last], ws.pres[last], ws.outs[last], ws.y, ws.weight, loss)
    for i in range(last, -1, -1):
        # a logits-form loss already returned dL/dz of the output layer
        activation = IDENTITY if (loss in LOGIT_LOSSES and i == last) else activations[i]
        dx = ws.grads[i - 1] if i > 0 else None
        dense_backward(dx, dWs[i], dbs[i], ws.grads[i], inputs[i], Ws[i], ws.outs[i], ws.pres[i],
                       activation)
        if i > 0 and dropout[i - 1] > 0:
            dropout_backward(dx, ws.masks[i - 1])
        penalty_backward(dWs[i], Ws[i], l2 / m, l1 / m)


def train_epoch(theta, grad, state_a, state_b, dims, activations, dropout, loss, X, Y,
                sample_weight, order, batch_size, optimizer, lr, momentum, nesterov, beta_1,
                beta_2, epsilon, l2, l1, seed, step):
    """One epoch of mini-batch training on the GPU; see the reference for the parameters.

    ``theta``, ``grad``, ``state_a``, ``state_b``, ``X``, ``Y``, ``sample_weight`` and ``order``
    are device arrays; ``dims``, ``activations`` and ``dropout`` may be host or device arrays (the
    host loop reads them).

    Returns
    -------
    mean_loss : float
    step : int
    """
    # theta, grad, state_a, state_b (P,) <- one pass over X (n, d_in), Y (n, d_out)
    dims = tuple(int(d) for d in _host(dims))
    activations = tuple(int(a) for a in _host(activations))
    dropout = tuple(float(r) for r in _host(dropout))
    (Ws, bs), (dWs, dbs) = parameter_views(theta, dims), parameter_views(grad, dims)
    n = order.shape[0]
    sizes = [min(batch_size, n - start) for start in range(0, n, batch_size)]
    losses = _BatchLosses(sizes, Ws, penalised=l2 != 0 or l1 != 0)
    for b, m in enumerate(sizes):
        ws = _workspace(dims, activations, dropout, loss, m, theta.dtype.str)
        _train_batch(ws, Ws, bs, dWs, dbs, activations, dropout, loss, X, Y, sample_weight, order,
                     b * batch_size, l2, l1, seed, step + b, losses, b)
        if optimizer == ADAM:
            lr_t = adam_learning_rate(lr, beta_1, beta_2, step + b + 1)
            launch_adam(theta, grad, state_a, state_b, lr_t, beta_1, beta_2, epsilon, losses.halt)
        else:
            launch_sgd(theta, grad, state_a, lr, momentum, nesterov, losses.halt)
    return losses.result(step)

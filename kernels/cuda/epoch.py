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

from . import config as cuda_config
from .. import epoch_chunks, layer_loop
from ..codes import ADAM
from .launch import launch
from .ops import (
    adam_learning_rate,
    launch_adam,
    launch_loss_partials,
    launch_penalty_partials,
    launch_sgd,
    per_item,
    reduction_blocks,
)
from .training import batch_weights, finish_batch_loss, gather_rows
from ..layer_loop import LayerBuffers
from ..layout import parameter_views
from ..records import Network


class _Workspace(LayerBuffers):
    """Device buffers for batches of ``rows`` samples: inputs, targets, weights and every layer's
    (:class:`~fastbp.kernels.layer_loop.LayerBuffers`)."""

    def __init__(self, network, rows, dtype):
        super().__init__(_cuda(), network, rows, dtype, training=True)
        self.x = cuda.device_array((rows, int(network.widths[0])), dtype)
        self.y = cuda.device_array((rows, int(network.widths[-1])), dtype)
        self.weight = cuda.device_array(rows, dtype)


def _cuda():
    """This backend's face, whose functions the layer loop calls (imported late: it imports this
    module)."""
    from .. import cuda as backend

    return backend


@functools.lru_cache(maxsize=2)
def _workspace(widths, activations, dropout, loss, rows, dtype):
    """The workspace of one batch size, kept across epochs (a fit's full and ragged batches)."""
    network = Network(np.array(widths), np.array(activations), np.array(dropout), loss)
    return _Workspace(network, rows, np.dtype(dtype))


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


def _train_batch(ws, network, params, gradients, batches, start, penalty, dropout_key, losses):
    """Queue forward, loss and backward of the batch ``order[start:start + ws.rows]``; its loss
    goes to ``losses`` (:class:`_BatchLosses`) as batch ``start // batch_size``."""
    per_item(gather_rows, ws.x.size, ws.x, batches.X, batches.order, start)
    per_item(gather_rows, ws.y.size, ws.y, batches.Y, batches.order, start)
    launch(batch_weights, 1, cuda_config.ELEMENTWISE_THREADS)(ws.weight, batches.sample_weight,
                                                              batches.order, start)
    inputs = layer_loop.forward(_cuda(), network, ws, ws.x, params, dropout_key)
    m = ws.rows
    scaled = (penalty.l2 / m, penalty.l1 / m)
    losses.queue(start // batches.batch_size, ws, [W for W, _ in params], network.loss, *scaled)
    layer_loop.backward(_cuda(), network, ws, inputs, params, gradients, (ws.y, ws.weight), scaled)


def train_epoch(state, network, batches, optimizer, penalty, dropout_seed, steps_taken):
    """One epoch of mini-batch training on the GPU; see the reference for the parameters.

    The arrays of ``state`` and ``batches`` are device arrays; those of ``network`` host arrays.

    Returns
    -------
    mean_loss : float
    steps_taken : int
    """
    # parameters, gradient, moment_1, moment_2 (P,) <- one pass over X (n, d_in), Y (n, d_out)
    theta, grad = state.parameters, state.gradient
    key = (tuple(int(d) for d in network.widths), tuple(int(a) for a in network.activations),
           tuple(float(r) for r in network.dropout), int(network.loss))
    params = list(zip(*parameter_views(theta, key[0])))
    gradients = list(zip(*parameter_views(grad, key[0])))
    n, batch_size = batches.order.shape[0], batches.batch_size
    sizes = [min(batch_size, n - start) for start in range(0, n, batch_size)]
    penalised = penalty.l2 != 0 or penalty.l1 != 0
    losses = _BatchLosses(sizes, [W for W, _ in params], penalised)
    for b, m in enumerate(sizes):
        ws = _workspace(*key, m, theta.dtype.str)
        _train_batch(ws, network, params, gradients, batches, b * batch_size, penalty,
                     (dropout_seed, steps_taken + b), losses)
        if optimizer.code == ADAM:
            lr_t = adam_learning_rate(optimizer.lr, optimizer.beta_1, optimizer.beta_2,
                                      steps_taken + b + 1)
            launch_adam(theta, grad, state.moment_1, state.moment_2, lr_t, optimizer.beta_1,
                        optimizer.beta_2, optimizer.epsilon, losses.halt)
        else:
            launch_sgd(theta, grad, state.moment_1, optimizer.lr, optimizer.momentum,
                       optimizer.nesterov, losses.halt)
    return losses.result(steps_taken)


def train_epochs(state, network, batches, optimizer, penalty, dropout_seed, steps_taken, run):
    """Several epochs in one call, one :func:`train_epoch` each; see the reference for the
    parameters. ``batches.order`` and the state rows of ``run`` are device arrays, its
    ``losses`` and ``steps`` host arrays.

    Returns
    -------
    epochs_done : int
    steps_taken : int
    """
    return epoch_chunks.train_epochs(_cuda(), (state, network, batches, optimizer, penalty,
                                               dropout_seed, steps_taken), run)

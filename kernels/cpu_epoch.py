"""``train_epoch`` on the CPU: a whole epoch in compiled code, each batch split across the cores.

OpenBLAS does not thread batch-sized GEMMs usefully (a 256x100x256 sgemm takes the same time on
one thread as on two), so a step would use one core. Instead each mini-batch is cut into row shards,
one per Numba thread; a shard runs the forward and backward pass with single-threaded BLAS into its
own gradient vector. One update pass, split into parameter chunks across the threads, then sums
the shard gradients in shard order, adds the penalty's gradient and applies the optimizer. The sums
are in a fixed order, so the weights depend on the thread count, never on scheduling. When the
epoch may not use threads (:mod:`fastbp.kernels.cpu_threads`) the very same code runs with one
shard and one chunk, and never starts a parallel region.

Workspaces (per-shard layer buffers and gradients) are allocated once per call, never per step.
"""

import numpy as np
from numba import njit, prange

from . import layout
from .codes import ADAM, IDENTITY, LOGIT_LOSSES
from .cpu import (
    adam_learning_rate,
    adam_update,
    dense_backward,
    dense_forward,
    dropout_backward,
    dropout_rows,
    jit,
    loss_backward,
    loss_forward,
    penalty_backward,
    penalty_forward,
    sgd_update,
)
from .cpu_threads import chunk_count, epoch_threads, shard_count

parallel_jit = njit(cache=True, nogil=True, error_model="numpy", parallel=True)

_parameter_views = jit(layout.parameter_views)
_parameter_offsets = jit(layout.parameter_offsets)


@jit
def _shard_buffers(dims, rows, like):
    """Per-layer (rows, width) buffers of one shard: inputs, targets, weights, and for each layer
    its outputs, pre-activations, gradients, dropout masks and dropped outputs."""
    dtype = like.dtype
    outs = [np.empty((rows, dims[1]), dtype)]
    pres = [np.empty((rows, dims[1]), dtype)]
    grads = [np.empty((rows, dims[1]), dtype)]
    masks = [np.empty((rows, dims[1]), dtype)]
    droppeds = [np.empty((rows, dims[1]), dtype)]
    for i in range(2, len(dims)):
        outs.append(np.empty((rows, dims[i]), dtype))
        pres.append(np.empty((rows, dims[i]), dtype))
        grads.append(np.empty((rows, dims[i]), dtype))
        masks.append(np.empty((rows, dims[i]), dtype))
        droppeds.append(np.empty((rows, dims[i]), dtype))
    return (np.empty((rows, dims[0]), dtype), np.empty((rows, dims[-1]), dtype),
            np.empty(rows, dtype), outs, pres, grads, masks, droppeds)


@jit
def _part(i, n_parts, size):
    """Bounds of part ``i`` of ``range(size)`` cut into ``n_parts`` near-equal pieces."""
    return i * size // n_parts, (i + 1) * size // n_parts


@jit
def _train_rows(buffers, Ws, bs, dWs, dbs, dims, activations, dropout, loss, X, Y, sample_weight,
                idx, lo, hi, weight_sum, seed, step):
    """Forward and backward on rows ``lo:hi`` of the batch ``idx``: fills this shard's gradient
    (``dWs``, ``dbs``) and returns the rows' share of the batch loss, penalty excluded."""
    xb_all, yb_all, wb_all, outs, pres, grads, masks, droppeds = buffers
    r = hi - lo
    n_layers = len(dims) - 1
    if r == 0:
        for i in range(n_layers):
            dWs[i].ravel()[:] = 0
            dbs[i][:] = 0
        return 0.0
    # element loops, not row slices: a slice assignment compiles Numba's shape-mismatch error
    # formatting, seconds of cold JIT for nothing
    xb, yb, wb = xb_all[:r], yb_all[:r], wb_all[:r]
    for i in range(r):
        j = idx[lo + i]
        for c in range(xb.shape[1]):
            xb[i, c] = X[j, c]
        for c in range(yb.shape[1]):
            yb[i, c] = Y[j, c]
        wb[i] = sample_weight[j] / weight_sum
    x = xb
    for i in range(n_layers):
        dense_forward(outs[i][:r], pres[i][:r], x, Ws[i], bs[i], activations[i])
        x = outs[i][:r]
        if dropout[i] > 0:
            dropout_rows(droppeds[i][:r], masks[i][:r], x, dropout[i], seed, step, i, lo)
            x = droppeds[i][:r]
    last = n_layers - 1
    rows_loss = loss_forward(pres[last][:r], outs[last][:r], yb, wb, loss)
    loss_backward(grads[last][:r], pres[last][:r], outs[last][:r], yb, wb, loss)
    for i in range(last, -1, -1):
        activation = IDENTITY if (loss in LOGIT_LOSSES and i == last) else activations[i]
        if i == 0:
            dense_backward(None, dWs[0], dbs[0], grads[0][:r], xb, Ws[0], outs[0][:r],
                           pres[0][:r], activation)
        else:
            x = droppeds[i - 1][:r] if dropout[i - 1] > 0 else outs[i - 1][:r]
            dense_backward(grads[i - 1][:r], dWs[i], dbs[i], grads[i][:r], x, Ws[i],
                           outs[i][:r], pres[i][:r], activation)
            if dropout[i - 1] > 0:
                dropout_backward(grads[i - 1][:r], masks[i - 1][:r])
    return rows_loss


@parallel_jit
def _train_shards(losses, buffers, shard_grads, Ws, bs, dims, activations, dropout, loss, X, Y,
                  sample_weight, idx, weight_sum, seed, step):
    """:func:`_train_rows` on each shard's rows of the batch ``idx``, one shard per thread."""
    n_shards = losses.shape[0]
    m = idx.shape[0]
    for s in prange(n_shards):
        dWs, dbs = shard_grads[s]
        lo, hi = _part(s, n_shards, m)
        losses[s] = _train_rows(buffers[s], Ws, bs, dWs, dbs, dims, activations, dropout, loss,
                                X, Y, sample_weight, idx, lo, hi, weight_sum, seed, step)


@jit
def _update_chunk(theta, grad, shard_grads, state_a, state_b, offsets, dims, lo, hi, l2, l1,
                  optimizer, lr, momentum, nesterov, beta_1, beta_2, epsilon):
    """Parameters ``lo:hi``: sum the shard gradients into ``grad``, add the penalty's gradient on
    weights (``offsets`` is ``layout.parameter_offsets(dims)``, computed once per epoch), take the
    optimizer step. Returns the penalty of the weights in the chunk."""
    g = grad[lo:hi]
    for s in range(shard_grads.shape[0]):
        extra = shard_grads[s, lo:hi]
        for i in range(g.shape[0]):
            g[i] += extra[i]
    penalty = 0.0
    if l2 != 0 or l1 != 0:
        for layer in range(len(dims) - 1):
            start = max(lo, offsets[layer])
            stop = min(hi, offsets[layer] + dims[layer] * dims[layer + 1])  # W, not b
            if start < stop:
                penalty += penalty_forward(theta[start:stop], l2, l1)
                penalty_backward(grad[start:stop], theta[start:stop], l2, l1)
    if optimizer == ADAM:
        adam_update(theta[lo:hi], g, state_a[lo:hi], state_b[lo:hi], lr, beta_1, beta_2, epsilon)
    else:
        sgd_update(theta[lo:hi], g, state_a[lo:hi], lr, momentum, nesterov)
    return penalty


@parallel_jit
def _update_chunks(penalties, theta, grad, shard_grads, state_a, state_b, offsets, dims, l2, l1,
                   optimizer, lr, momentum, nesterov, beta_1, beta_2, epsilon):
    """:func:`_update_chunk` on one parameter chunk per thread."""
    n_chunks = penalties.shape[0]
    size = theta.shape[0]
    for c in prange(n_chunks):
        lo, hi = _part(c, n_chunks, size)
        penalties[c] = _update_chunk(theta, grad, shard_grads, state_a, state_b, offsets, dims,
                                     lo, hi, l2, l1, optimizer, lr, momentum, nesterov, beta_1,
                                     beta_2, epsilon)


@jit
def _train_epoch(theta, grad, shard_grads, penalties, state_a, state_b, dims, activations,
                 dropout, loss, X, Y, sample_weight, order, batch_size, optimizer, lr, momentum,
                 nesterov, beta_1, beta_2, epsilon, l2, l1, seed, step):
    # theta, grad, state_a, state_b (P,) <- one pass over X (n, d_in), Y (n, d_out);
    # shard_grads (n_shards - 1, P): the other shards' gradients (shard 0 writes grad)
    n_shards = shard_grads.shape[0] + 1
    Ws, bs = _parameter_views(theta, dims)
    views = [_parameter_views(grad, dims)]
    for s in range(1, n_shards):
        views.append(_parameter_views(shard_grads[s - 1], dims))
    n = order.shape[0]
    rows = (min(batch_size, n) + n_shards - 1) // n_shards
    buffers = [_shard_buffers(dims, rows, X) for _ in range(n_shards)]
    offsets = _parameter_offsets(dims)
    losses = np.zeros(n_shards)
    total = 0.0
    for start in range(0, n, batch_size):
        idx = order[start:start + batch_size]
        m = idx.shape[0]
        weight_sum = 0.0
        for r in range(m):
            weight_sum += sample_weight[idx[r]]
        if n_shards > 1:
            _train_shards(losses, buffers, views, Ws, bs, dims, activations, dropout, loss, X, Y,
                          sample_weight, idx, weight_sum, seed, step)
        else:
            lo, hi = _part(0, 1, m)  # all rows, as an int64 pair (a literal 0 would compile anew)
            losses[0] = _train_rows(buffers[0], Ws, bs, views[0][0], views[0][1], dims,
                                    activations, dropout, loss, X, Y, sample_weight, idx, lo, hi,
                                    weight_sum, seed, step)
        batch_loss = losses.sum()
        if not np.isfinite(batch_loss):
            return np.nan, step
        step += 1
        rate = adam_learning_rate(lr, beta_1, beta_2, step) if optimizer == ADAM else lr
        if penalties.shape[0] > 1:
            _update_chunks(penalties, theta, grad, shard_grads, state_a, state_b, offsets, dims,
                           l2 / m, l1 / m, optimizer, rate, momentum, nesterov, beta_1, beta_2,
                           epsilon)
        else:
            lo, hi = _part(0, 1, theta.shape[0])
            penalties[0] = _update_chunk(theta, grad, shard_grads, state_a, state_b, offsets,
                                         dims, lo, hi, l2 / m, l1 / m, optimizer, rate, momentum,
                                         nesterov, beta_1, beta_2, epsilon)
        batch_loss += penalties.sum()
        if not np.isfinite(batch_loss):
            return np.nan, step
        total += batch_loss * m
    return total / n, step


def train_epoch(theta, grad, state_a, state_b, dims, activations, dropout, loss, X, Y,
                sample_weight, order, batch_size, optimizer, lr, momentum, nesterov, beta_1,
                beta_2, epsilon, l2, l1, seed, step):
    """One epoch of mini-batch training in compiled code; see the reference for the parameters.

    Each batch is split into row shards across Numba's threads (``numba.set_num_threads``) where
    :func:`fastbp.kernels.cpu_threads.epoch_threads` allows, with BLAS held to one thread for the
    call. The same seed and thread count give bitwise the same weights.

    Returns
    -------
    mean_loss : float
    step : int
    """
    rows = min(batch_size, order.shape[0])
    with epoch_threads() as threads:
        shard_grads = np.empty((shard_count(threads, rows) - 1, theta.shape[0]), theta.dtype)
        penalties = np.empty(chunk_count(threads, theta.shape[0]))
        return _train_epoch(theta, grad, shard_grads, penalties, state_a, state_b, dims,
                            activations, dropout, loss, X, Y, sample_weight, order, batch_size,
                            optimizer, lr, momentum, nesterov, beta_1, beta_2, epsilon, l2, l1,
                            seed, step)

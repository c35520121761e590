"""``train_epoch`` and ``train_epochs`` on the CPU: whole epochs in one compiled, GIL-free call,
each batch split across the cores.

OpenBLAS does not thread batch-sized GEMMs usefully (a 256x100x256 sgemm takes the same time on
one thread as on two), so a step would use one core. Instead each mini-batch is cut into row
shards; a shard runs the forward and backward pass with single-threaded BLAS into its own gradient
vector. The update is then cut into parameter chunks: a chunk sums the shard gradients in shard
order, adds the penalty's gradient and applies the optimizer. The sums are in a fixed order and the
split depends on the batch's size and the machine alone, so the weights depend neither on the
thread count nor on scheduling.

Each thread runs :func:`_epoch_worker` over the whole run of epochs (one for ``train_epoch``),
taking the open phase's shards, then its chunks, its own first, until none is left; the worker that
finishes a phase opens the next (:mod:`fastbp.kernels.cpu.threads`, :mod:`fastbp.kernels.cpu.sync`),
and the one that finishes an epoch writes its loss and state into the run's rows. The first worker
draws every epoch's order first (:mod:`fastbp.kernels.cpu.orders`), so a run of epochs takes the
GIL back once, when it returns. A thread that another process keeps off its core holds up no one
unless it holds a task, and the threads that run do the rest. The activation, loss and optimizer
kernels come in tables of function pointers (:mod:`fastbp.kernels.cpu.tables`), so this module
compiles once per dtype, whatever the network.

Workspaces (each worker's layer buffers, each shard's gradient) are allocated in Python once per
call, never per step; a worker's buffers are one flat array and views of it, not lists of arrays
(lists of arrays, like allocation in compiled code, cost seconds of cold JIT time).
"""

import contextlib
import operator
import threading
import weakref
from typing import NamedTuple

import numba
import numpy as np
from numba import njit

from . import calls as cpu_calls, tables as cpu_tables
from .. import layout
from .tables import call_3, call_4_float64, call_5, call_7
from ..codes import IDENTITY, LOGIT_LOSSES
from .blas import affine, gemm
from .calls import call_train_rows, call_update_chunk
from .sync import atomic_add, take, wait_for
from .threads import training_session, pool, split
from ..epoch_chunks import STOPPED, check_run, no_rule, rule_stops
from ..records import Batches, EpochRun, TrainingState
from .orders import draw_order, orders_for
from .training import dropout_backward, dropout_rows, optimizer_hyper, penalty_step
from ..disk_cache import check_once
from .numba_path import WITHOUT_CFUNC_WRAPPER, WITHOUT_WRAPPERS, entry_point, is_compiled

check_once()  # before anything here can be loaded from Numba's disk cache (kernels/disk_cache.py)

jit = njit(cache=True, nogil=True, error_model="numpy")
# Functions only compiled code calls are built without the wrappers that let Python call them:
# those convert every argument to and from Python objects (records of arrays included) and were a
# third of the epoch's code, and of its cold JIT time (kernels/cpu/numba_path.py).
internal = njit(cache=True, nogil=True, error_model="numpy", **WITHOUT_WRAPPERS)
# Small helpers are inlined into their callers at Numba's IR level: each separately compiled
# function costs a tenth of a second or more of cold JIT on its own.
inline = njit(cache=True, nogil=True, error_model="numpy", inline="always")


class NetworkLayout(NamedTuple):
    """What the compiled epoch needs to know of the model (dropout travels in :class:`Dropout`)."""
    dims: np.ndarray         # int64 (n_layers + 1,): widths, input first
    activations: np.ndarray  # int64 (n_layers,): activation codes
    loss: int                # loss code
    offsets: np.ndarray      # int64 (n_layers + 1,): layout.parameter_offsets(dims)


class Kernels(NamedTuple):
    """Tables of compiled kernels' addresses, indexed by code (:mod:`fastbp.kernels.cpu.tables`)."""
    forward: np.ndarray         # int64 (activation codes,)
    backward: np.ndarray        # int64 (activation codes,)
    loss_forward: np.ndarray    # int64 (loss codes,)
    loss_backward: np.ndarray   # int64 (loss codes,)
    optimizer_step: np.ndarray  # int64 (optimizer codes,)
    parts: np.ndarray           # int64 (2,): _train_rows and _update_chunk compiled for the types
    #                             of the epoch's arguments (:func:`_entry_point`, kernels/cpu/calls.py)


class Dropout(NamedTuple):
    """Dropout after each layer, or none at all."""
    rates: object  # float64 (n_layers,), or None where no layer drops: the epoch then compiles
    #                without the dropout code (Numba prunes branches on an argument that is None)
    seed: int      # with the step, picks the masks (see the reference's dropout_forward)


class Update(NamedTuple):
    """How the parameters move: the optimizer, its own hyperparameters, the penalties (each
    epoch's learning rate comes with the run: :class:`Run`)."""
    optimizer: int         # optimizer code
    hyper: np.ndarray      # float64: :func:`fastbp.kernels.cpu.training.optimizer_hyper`
    l2: float
    l1: float


class Run(NamedTuple):
    """The epochs of one call, as the compiled worker takes them (from the caller's
    :class:`~fastbp.kernels.records.EpochRun`)."""
    lrs: np.ndarray         # float64 (K,): each epoch's learning rate
    generator: tuple        # kernels/cpu/orders.py's orders_for: draws each epoch's order
    #                         into data.order (K, n) first; NO_GENERATOR: the orders are given
    losses: np.ndarray      # float64 (K,), written: each epoch's mean loss
    steps: np.ndarray       # int64 (K + 1,), written: optimizer steps at the start (once rows
    #                         0 hold the start state), then after each epoch
    parameters: np.ndarray  # (K + 1, P), written: row 0 at the start, row e + 1 after epoch e
    moment_1: np.ndarray    # (K + 1, P), written likewise
    moment_2: np.ndarray    # (K + 1, len(moment_2)), written likewise
    first_step: int         # optimizer steps taken before the run
    stop_rule: np.ndarray   # float64 (5,): EpochRun.stop_rule (an infinite patience: none)


class Workspace(NamedTuple):
    """Everything the workers write, allocated here in Python: compiled code that allocates
    compiles NumPy's allocation functions too."""
    shard_grads: np.ndarray  # (n_shards - 1, P): the gradients of shards 1.. (shard 0 writes grad)
    losses: np.ndarray       # float64 (n_shards,): each shard's share of the batch loss
    penalties: np.ndarray    # float64 (n_chunks,): each chunk's share of the penalty
    sync: np.ndarray         # int64 (5,): tasks done, phases open, stop, step at a stop, epochs
    #                          finished (indexed by _DONE ... _EPOCHS); zeros to start
    taken: np.ndarray        # int64 (n_shards + n_chunks,): batches whose task is taken, per
    #                          task (cpu_sync.take); zeros to start
    tally: np.ndarray        # float64 (2,): the open batch's loss, the open epoch's weighted sum
    buffers: np.ndarray      # (n_workers, size): each worker's layer buffers, laid out by starts
    starts: np.ndarray       # int64: where each buffer starts (workspace_starts)
    scalars: np.ndarray      # (2,) of the dtype: BLAS's alpha = 1 and beta = 0


@internal
def _matrix(flat, start, rows, cols):
    """The (rows, cols) C-ordered view of ``flat`` from ``start``."""
    return flat[start:start + rows * cols].reshape((rows, cols))


@internal
def _layer(flat, network, i):
    """Layer ``i``'s ``(W, b)`` as views of a vector in the parameters' layout (kernels/layout.py).
    """
    n_in, n_out = network.dims[i], network.dims[i + 1]
    split = network.offsets[i] + n_in * n_out
    return _matrix(flat, network.offsets[i], n_in, n_out), flat[split:split + n_out]


#: A worker's workspace holds, for ``rows`` rows: the batch's inputs, targets and weights, then per
#: layer its outputs, pre-activations, gradients, dropout masks and dropped outputs.
_PER_LAYER = 5
_OUT, _PRE, _GRAD, _MASK, _DROPPED = range(_PER_LAYER)


def workspace_starts(dims, rows):
    """Where each piece of a worker's flat workspace starts, for ``rows`` rows; the last entry is
    its size.

    Parameters
    ----------
    dims : sequence of int, shape (n_layers + 1,)
    rows : int

    Returns
    -------
    ndarray of int64, shape (3 + 5 * n_layers + 1,)
    """
    dims = [int(d) for d in dims]
    sizes = [rows * dims[0], rows * dims[-1], rows]
    sizes += [rows * width for width in dims[1:] for _ in range(_PER_LAYER)]
    return np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)


@inline
def _part(i, n_parts, size):
    """Bounds of part ``i`` of ``range(size)`` cut into ``n_parts`` near-equal pieces."""
    return i * size // n_parts, (i + 1) * size // n_parts


@inline
def _column_sums(db, delta):
    # db (k,) <- column sums of delta (n, k)
    n, k = delta.shape
    for j in range(k):
        db[j] = 0
    for i in range(n):
        for j in range(k):
            db[j] += delta[i, j]


@internal
def _train_rows(space, theta, gradient, network, kernels, data, batch, rates, key):
    """Forward and backward on rows ``lo:hi`` of the batch ``idx`` (``batch = (idx, weight_sum,
    lo, hi)``), with dropout ``rates`` (None for none) and ``key = (seed, step)`` of its masks, in
    the worker's ``space = (flat workspace, its starts, BLAS scalars)``: fills ``gradient`` (this
    shard's, in the parameters' layout) and returns the rows' share of the batch loss, penalty
    excluded."""
    flat, starts, scalars = space
    idx, weight_sum, lo, hi = batch
    dims, activations, loss = network.dims, network.activations, network.loss
    X, Y, sample_weight = data.X, data.Y, data.sample_weight
    r = hi - lo
    n_layers = dims.shape[0] - 1
    if r == 0:
        for i in range(gradient.shape[0]):
            gradient[i] = 0
        return 0.0
    xb = _matrix(flat, starts[0], r, dims[0])
    yb = _matrix(flat, starts[1], r, dims[n_layers])
    wb = flat[starts[2]:starts[2] + r]
    # slots[i, piece]: where layer i's buffer piece (_OUT, _PRE, ...) starts; indexed here rather
    # than through a helper, which would be inlined at a dozen call sites (tenths of a second of
    # cold JIT) or compiled once per piece constant
    slots = starts[3:3 + _PER_LAYER * n_layers].reshape((n_layers, _PER_LAYER))
    # element loops, not row slices: a slice assignment compiles Numba's shape-mismatch error
    # formatting, seconds of cold JIT for nothing
    for i in range(r):
        j = idx[lo + i]
        for c in range(xb.shape[1]):
            xb[i, c] = X[j, c]
        for c in range(yb.shape[1]):
            yb[i, c] = Y[j, c]
        wb[i] = sample_weight[j] / weight_sum
    x = xb
    for i in range(n_layers):
        k = dims[i + 1]
        W, b = _layer(theta, network, i)
        pre = _matrix(flat, slots[i, _PRE], r, k)
        out = _matrix(flat, slots[i, _OUT], r, k)
        affine(x, W, b, pre, scalars)
        call_3(kernels.forward[activations[i]], out, pre, pre)
        x = out
        if rates is not None:
            if rates[i] > 0:
                x = _matrix(flat, slots[i, _DROPPED], r, k)
                mask = _matrix(flat, slots[i, _MASK], r, k)
                dropout_rows(x, mask, out, rates[i], key[0], key[1], i, lo)
    last = n_layers - 1
    k = dims[n_layers]
    pre = _matrix(flat, slots[last, _PRE], r, k)
    out = _matrix(flat, slots[last, _OUT], r, k)
    delta = _matrix(flat, slots[last, _GRAD], r, k)
    rows_loss = call_4_float64(kernels.loss_forward[loss], pre, out, yb, wb)
    call_5(kernels.loss_backward[loss], delta, pre, out, yb, wb)
    for i in range(last, -1, -1):
        k = dims[i + 1]
        delta = _matrix(flat, slots[i, _GRAD], r, k)
        out = _matrix(flat, slots[i, _OUT], r, k)
        pre = _matrix(flat, slots[i, _PRE], r, k)
        # a logits-form loss hands back dL/dz of the output layer: its derivative is the identity
        activation = IDENTITY if (loss in LOGIT_LOSSES and i == last) else activations[i]
        call_3(kernels.backward[activation], delta, out, pre)
        if i == 0:
            x = xb
        else:
            below = _OUT
            if rates is not None:
                if rates[i - 1] > 0:
                    below = _DROPPED
            x = _matrix(flat, slots[i - 1, below], r, dims[i])
        dW, db = _layer(gradient, network, i)
        gemm(x, True, delta, False, dW, scalars)
        _column_sums(db, delta)
        if i > 0:
            W, b = _layer(theta, network, i)
            grad_below = _matrix(flat, slots[i - 1, _GRAD], r, dims[i])
            gemm(delta, False, W, True, grad_below, scalars)
            if rates is not None:
                if rates[i - 1] > 0:
                    mask = _matrix(flat, slots[i - 1, _MASK], r, dims[i])
                    dropout_backward(grad_below, mask)
    return rows_loss


@internal
def _update_chunk(state, shard_grads, network, bounds, update, kernels, clock):
    """Parameters ``lo:hi`` (``bounds = (lo, hi, l2, l1)``, the penalties scaled to this batch):
    sum the shard gradients into ``grad``, add the penalty's gradient on weights, take the
    optimizer step ``clock = (step, lr)``. Returns the penalty of the weights in the chunk."""
    dims, offsets = network.dims, network.offsets
    lo, hi, l2, l1 = bounds
    theta, grad = state.parameters, state.gradient
    g = grad[lo:hi]  # shard 0's gradient
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
                penalty += penalty_step(grad[start:stop], theta[start:stop], l2, l1)
    m2 = state.moment_2
    call_7(kernels.optimizer_step[update.optimizer], theta[lo:hi], g, state.moment_1[lo:hi],
           m2[min(lo, m2.shape[0]):min(hi, m2.shape[0])], update.hyper, clock[1], clock[0])
    return penalty


#: The workers' shared counters (Workspace.sync): tasks done over the run (the shards and chunks
#: of every batch of every epoch, in order), phases opened (one for the orders, then two per
#: batch), a stop flag (1: a worker failed, 2: the loss or the weights diverged), the step count to
#: report at a stop, and the epochs finished.
_DONE, _OPEN, _STOP, _STOPPED_AT, _EPOCHS = range(5)


# called from Python (it needs that wrapper), never through a C pointer
@njit(cache=True, nogil=True, error_model="numpy", **WITHOUT_CFUNC_WRAPPER)
def _epoch_worker(worker, network, kernels, data, update, state, workspace, dropout, run):
    # theta, grad, moments (P,) <- K passes over X (n, d_in), Y (n, d_out), epoch e in the order
    # data.order[e % R] (drawn first by worker 0 where run.generator is given, which also writes
    # the start state to the run's rows 0); every worker takes the open phase's tasks, its own
    # first, until none is left (kernels/cpu/sync.py); the worker that ends epoch e writes its
    # loss and state to the run's rows e (+ 1 for the state). Returns (epochs finished with finite
    # loss and weights, steps taken)
    shard_grads, losses, penalties = workspace.shard_grads, workspace.losses, workspace.penalties
    sync, tally, taken = workspace.sync, workspace.tally, workspace.taken
    rates, seed = dropout
    n_shards, n_chunks = losses.shape[0], penalties.shape[0]
    orders = data.order
    n = orders.shape[1]
    batch_size = data.batch_size
    space = (workspace.buffers[worker], workspace.starts, workspace.scalars)
    size = state.parameters.shape[0]
    n_batches = -(-n // batch_size)
    n_epochs = run.lrs.shape[0]
    if worker == 0:  # phase 0: the orders and the start state
        if run.generator[0] != 0:
            for e in range(n_epochs):
                draw_order(orders[e], run.generator)
        _save_state(state, run, 0, run.first_step)
        atomic_add(sync, _OPEN, 1)
    for e in range(n_epochs):
        order = orders[e % orders.shape[0]]
        first_step = run.first_step + e * n_batches
        lr = run.lrs[e]
        for b in range(n_batches):
            g = e * n_batches + b  # the batch's number in the run
            idx = order[b * batch_size:(b + 1) * batch_size]
            m = idx.shape[0]
            shards_end = g * (n_shards + n_chunks) + n_shards  # one past this batch's last shard
            if wait_for(sync, _OPEN, 2 * g + 1, _STOP):
                return sync[_EPOCHS], sync[_STOPPED_AT]
            weight_sum = -1.0  # summed by the first shard this worker takes of the batch
            for k in range(n_shards):
                s = (worker + k) % n_shards
                if not take(taken, s, g):
                    continue
                if weight_sum < 0:
                    weight_sum = 0.0
                    for r in range(m):
                        weight_sum += data.sample_weight[idx[r]]
                lo, hi = _part(s, n_shards, m)
                gradient = state.gradient if s == 0 else shard_grads[s - 1]
                losses[s] = call_train_rows(kernels.parts[0], space, state.parameters, gradient,
                                            network, kernels, data, (idx, weight_sum, lo, hi),
                                            rates, (seed, first_step + b))
                if atomic_add(sync, _DONE, 1) == shards_end - 1:  # the batch's last shard
                    batch_loss = 0.0
                    for j in range(n_shards):
                        batch_loss += losses[j]
                    tally[0] = batch_loss
                    if np.isfinite(batch_loss):
                        atomic_add(sync, _OPEN, 1)
                    else:
                        _stop(sync, run.losses, e, np.nan, first_step + b)
            if wait_for(sync, _OPEN, 2 * g + 2, _STOP):
                return sync[_EPOCHS], sync[_STOPPED_AT]
            chunks_end = shards_end + n_chunks
            for k in range(n_chunks):
                c = (worker + k) % n_chunks
                if not take(taken, n_shards + c, g):
                    continue
                lo, hi = _part(c, n_chunks, size)
                # the penalties are per batch, divided by its size (scikit-learn's scaling)
                penalties[c] = call_update_chunk(kernels.parts[1], state, shard_grads, network,
                                                 (lo, hi, update.l2 / m, update.l1 / m), update,
                                                 kernels, (first_step + b + 1, lr))
                if atomic_add(sync, _DONE, 1) == chunks_end - 1:  # the batch's last chunk
                    batch_loss = tally[0]
                    for j in range(n_chunks):
                        batch_loss += penalties[j]
                    tally[1] += batch_loss * m
                    if not np.isfinite(batch_loss):
                        _stop(sync, run.losses, e, np.nan, first_step + b + 1)
                    elif b < n_batches - 1:
                        atomic_add(sync, _OPEN, 1)
                    elif _end_epoch(state, run, e, tally[1] / n, first_step + n_batches):
                        tally[1] = 0.0
                        sync[_EPOCHS] = e + 1
                        if _rule_stops(run.stop_rule, run.losses[e]):
                            run.stop_rule[STOPPED] = 1.0
                            _stop(sync, run.losses, e, run.losses[e], first_step + n_batches)
                        else:  # after the epoch's rows: they are read next
                            atomic_add(sync, _OPEN, 1)
                    else:
                        _stop(sync, run.losses, e, tally[1] / n, first_step + n_batches)
    if wait_for(sync, _OPEN, 2 * n_epochs * n_batches + 1, _STOP):
        return sync[_EPOCHS], sync[_STOPPED_AT]
    return n_epochs, run.first_step + n_epochs * n_batches


@inline
def _stop(sync, epoch_losses, epoch, loss, step):
    """Stop every worker at ``step`` of ``epoch``, whose loss (NaN: a batch's) is ``loss``."""
    epoch_losses[epoch] = loss
    sync[_STOPPED_AT] = step
    atomic_add(sync, _STOP, 2)  # after the step: a worker that sees the stop reads it


@inline
def _end_epoch(state, run, e, loss, step):
    """Write epoch ``e``'s loss, state and ``step`` into the run's rows (``e`` and ``e + 1``);
    whether its mean loss (finite batch losses can sum to infinity) and its parameters are all
    finite (they are written either way)."""
    run.losses[e] = loss
    return _save_state(state, run, e + 1, step) and np.isfinite(loss)


# the stopping rule every backend applies (kernels/epoch_chunks.py), compiled into the worker
_rule_stops = inline(rule_stops)


@internal
def _save_state(state, run, row, step):
    """Copy the parameters and moments into the run's rows ``row``, then ``step``: a step count
    written says the row is whole. Returns whether the parameters are all finite."""
    finite = True
    theta, saved = state.parameters, run.parameters[row]
    for i in range(theta.shape[0]):
        saved[i] = theta[i]
        finite = finite and np.isfinite(theta[i])
    moment, saved = state.moment_1, run.moment_1[row]
    for i in range(saved.shape[0]):
        saved[i] = moment[i]
    moment, saved = state.moment_2, run.moment_2[row]
    for i in range(saved.shape[0]):
        saved[i] = moment[i]
    run.steps[row] = step
    return finite


def network_kernels(dtype, activations, loss, optimizer):
    """The kernel tables a network needs, compiled for ``dtype`` (compiles only what it uses)."""
    output = IDENTITY if loss in LOGIT_LOSSES else activations[-1]
    return Kernels(cpu_tables.table("activation_forward", dtype, activations),
                   cpu_tables.table("activation_backward", dtype,
                                    list(activations[:-1]) + [output]),
                   cpu_tables.table("loss_forward", dtype, [loss]),
                   cpu_tables.table("loss_backward", dtype, [loss]),
                   cpu_tables.table("optimizer_step", dtype, [optimizer]),
                   np.zeros(2, np.int64))


def train_epoch(state, network, batches, optimizer, penalty, dropout_seed, steps_taken):
    """One epoch of mini-batch training in compiled code; see the reference for the parameters.

    Each batch is split into row shards across ``numba.get_num_threads()`` threads where
    :func:`fastbp.kernels.cpu.threads.training_session` allows, with BLAS held to one thread for the
    call. The same seed gives bitwise the same weights whatever the thread count: the batches'
    split is fixed by their size and the machine's cores (:func:`~fastbp.kernels.cpu.threads.split`).

    Returns
    -------
    mean_loss : float
    steps_taken : int
    """
    arguments = (state, network, batches, optimizer, penalty, dropout_seed, steps_taken)
    with training_session() as threads:
        return split_epoch(*_split(state, batches.batch_size, batches.order.shape[-1]), arguments,
                           threads)


def train_epochs(state, network, batches, optimizer, penalty, dropout_seed, steps_taken, run):
    """Several epochs in one compiled, GIL-free call; see the reference for the parameters.

    Epochs are split across threads as by :func:`train_epoch`, and train bitwise as that many
    calls of it would (with the same orders and learning rates). The orders, where ``run.rng``
    draws them, are drawn in the same call, holding the generator's lock.

    Returns
    -------
    epochs_done : int
    steps_taken : int
    """
    arguments = (state, network, batches, optimizer, penalty, dropout_seed, steps_taken, run)
    with training_session() as threads:
        return split_epochs(*_split(state, batches.batch_size, batches.order.shape[-1]),
                            arguments, threads)


def _split(state, batch_size, n):
    return split(min(batch_size, n), state.parameters.shape[0])


def split_epoch(n_shards, n_chunks, arguments, threads=None):
    """:func:`train_epoch` (its ``arguments`` in order) with each batch cut into ``n_shards`` row
    shards and the update into ``n_chunks`` parameter chunks, on ``threads`` threads (at most
    ``max(n_shards, n_chunks)``, which is the default). The weights depend on the shards and
    chunks, not on the threads. Callers hold BLAS to one thread
    (:func:`~fastbp.kernels.cpu.threads.training_session`) when running on more than one."""
    state, network, batches, optimizer, penalty, dropout_seed, steps_taken = arguments
    m2 = state.moment_2
    run = EpochRun(np.array([float(optimizer.lr)]), None, np.empty(1), np.empty(2, np.int64),
                   np.empty((2,) + state.parameters.shape, state.parameters.dtype),
                   np.empty((2,) + state.moment_1.shape, state.moment_1.dtype),
                   np.empty((2,) + m2.shape, m2.dtype))
    batches = batches._replace(order=np.asarray(batches.order, np.int64).reshape(1, -1))
    _, steps = split_epochs(n_shards, n_chunks, arguments[:2] + (batches,) + arguments[3:] +
                            (run,), threads)
    return float(run.losses[0]), steps


def split_epochs(n_shards, n_chunks, arguments, threads=None):
    """:func:`train_epochs` (its ``arguments`` in order) split as :func:`split_epoch` splits an
    epoch.

    Where another thread of the process is running a threaded epoch on the shared pool, this one
    runs on its calling thread alone (same shards and chunks, so bitwise the same weights) rather
    than wait for the pool."""
    state, network, batches, optimizer, penalty, dropout_seed, steps_taken, run = arguments
    check_run(state, batches, run)
    n_workers = max(n_shards, n_chunks)
    if threads is not None:
        n_workers = max(1, min(int(threads), n_workers))
    rows = -(-min(int(batches.batch_size), batches.order.shape[1]) // n_shards)  # a shard's most
    settings = _Settings(n_shards, n_chunks, n_workers, rows, int(optimizer.code),
                         float(penalty.l2), float(penalty.l1), int(dropout_seed),
                         int(batches.batch_size))
    (compiled, kernels, workspace, dropout), entry = _prepared(state, network, batches, settings)
    workspace.sync[:] = 0
    workspace.taken[:] = 0
    workspace.tally[:] = 0
    args = (compiled, kernels,
            Batches(batches.X, batches.Y, batches.sample_weight, batches.order,
                    settings.batch_size),
            Update(settings.optimizer, optimizer_hyper(optimizer), settings.l2, settings.l1),
            TrainingState(*state), workspace, dropout,
            Run(np.asarray(run.lrs, np.float64), orders_for(run.rng, batches.order), run.losses,
                run.steps, run.parameters, run.moment_1, run.moment_2, int(steps_taken),
                no_rule() if run.stop_rule is None else run.stop_rule))
    if entry is None:
        entry = _entry_point(args)
        _last_epoch.value = _last_epoch.value._replace(run=entry)
    # the generator's own lock, as its methods hold it: another thread drawing from it at the
    # same time would corrupt its state
    with contextlib.nullcontext() if run.rng is None else run.rng.bit_generator.lock:
        # One threaded run at a time on the pool: the workers of runs from two Python threads
        # would queue behind each other's on the pool's threads. Another thread's runs go on
        # with their calling thread alone meanwhile.
        if n_workers == 1 or not _threaded_epoch.acquire(blocking=False):
            return entry(0, *args)
        try:
            workers = pool(n_workers - 1)
            tasks = [workers[w - 1].submit(_worker_or_abort, entry, w, args)
                     for w in range(1, n_workers)]
            result = _worker_or_abort(entry, 0, args)
            for task in tasks:
                task.result()  # re-raises a worker's error
        finally:
            _threaded_epoch.release()
    return result


_threaded_epoch = threading.Lock()


class _Settings(NamedTuple):
    """How an epoch trains, besides its arrays: what its workspace and records are made for."""
    n_shards: int
    n_chunks: int
    n_workers: int
    rows: int          # a shard's most rows
    optimizer: int     # optimizer code
    l2: float
    l1: float
    dropout_seed: int
    batch_size: int


class _Prepared(NamedTuple):
    """What a calling thread's last epoch was prepared with, kept for the next epoch of its fit.
    """
    network: object   # the caller's Network record (held: a few small arrays)
    settings: _Settings
    arrays: tuple     # weak references to the caller's data and state arrays
    fixed: tuple      # the worker's layout, kernels, workspace and dropout records
    run: object       # the compiled worker for them; None until the first epoch finds it


_last_epoch = threading.local()  # per calling thread: its last epoch's _Prepared


def _prepared(state, network, batches, settings):
    """The worker's arguments that are this module's own (``(layout, kernels, workspace,
    dropout)``), and its compiled entry point (None if not yet known), reused from the calling
    thread's previous epoch when it trained the same arrays of the same network the same way.

    Building them takes tenths of a millisecond of Python, and Numba's dispatcher would type
    every argument on every call (these records hold some twenty arrays): together more than a
    small network's whole epoch. The caller's arrays are remembered by weak reference: an array
    that is gone can neither match nor be kept alive (the training data outlives no fit here).
    """
    arrays = (batches.X, batches.Y, batches.sample_weight, *state)
    found = getattr(_last_epoch, "value", None)
    if (found is not None and found.network is network and found.settings == settings
            and all(map(operator.is_, map(_alive, found.arrays), arrays))):
        return found.fixed, found.run
    compiled, kernels, workspace = _setup(state.parameters, network, settings)
    rates = network.dropout if np.any(np.asarray(network.dropout) > 0) else None
    fixed = (compiled, kernels, workspace, Dropout(rates, settings.dropout_seed))
    _last_epoch.value = _Prepared(network, settings, tuple(map(weakref.ref, arrays)), fixed, None)
    return fixed, None


def _entry_point(args):
    """The compiled worker for these arguments' types (compiled, with its parts, on first use).
    """
    signature = tuple(numba.typeof(value) for value in (0, *args))
    parts = _parts.get(signature)
    if parts is None:
        rows_types, chunk_types = _part_types(args)
        parts = (cpu_calls.address(_train_rows, rows_types, numba.float64),
                 cpu_calls.address(_update_chunk, chunk_types, numba.float64))
        with _compiling:  # the expected types hold until this compile has checked them
            if not is_compiled(_epoch_worker, signature):
                cpu_calls.expect("train_rows", rows_types)
                cpu_calls.expect("update_chunk", chunk_types)
                _epoch_worker.compile(signature)
        _parts[signature] = parts
    args[1].parts[:] = parts
    return entry_point(_epoch_worker, signature)


_parts = {}  # the epoch worker's signature -> the addresses of its parts for those types
_compiling = threading.Lock()


def _part_types(args):
    """The argument types with which :func:`_epoch_worker`, given ``args``, calls
    :func:`_train_rows` and :func:`_update_chunk` (each a tuple of numba types)."""
    network, kernels, data, update, state, workspace, dropout, run = args
    typeof = numba.typeof
    space = (workspace.buffers[0], workspace.starts, workspace.scalars)
    batch = (data.order[0][:0], 0.0, 0, 0)  # rows' indices, weight sum, lo, hi
    rows = (typeof(space), typeof(state.parameters), typeof(state.gradient), typeof(network),
            typeof(kernels), typeof(data), typeof(batch), typeof(dropout.rates), typeof((0, 0)))
    bounds = (0, 0, 0.0, 0.0)  # lo, hi, l2, l1
    clock = (0, 0.0)  # step, lr
    chunk = (typeof(state), typeof(workspace.shard_grads), typeof(network), typeof(bounds),
             typeof(update), typeof(kernels), typeof(clock))
    return rows, chunk


def _alive(ref):
    return ref()


def _setup(theta, network, settings):
    """The network's layout, kernel tables and workspace of an epoch."""
    n_shards, n_chunks, n_workers = settings.n_shards, settings.n_chunks, settings.n_workers
    widths = tuple(int(d) for d in network.widths)
    activations = tuple(int(c) for c in network.activations)
    offsets = np.array(layout.parameter_offsets(list(widths)), np.int64)
    compiled = NetworkLayout(np.array(widths, np.int64), np.array(activations, np.int64),
                             int(network.loss), offsets)
    kernels = network_kernels(theta.dtype, list(activations), int(network.loss),
                              settings.optimizer)
    starts = workspace_starts(widths, settings.rows)
    workspace = Workspace(np.empty((n_shards - 1, theta.shape[0]), theta.dtype),
                          np.empty(n_shards), np.empty(n_chunks), np.zeros(5, np.int64),
                          np.zeros(n_shards + n_chunks, np.int64), np.zeros(2),
                          np.empty((n_workers, starts[-1]), theta.dtype), starts,
                          np.array([1, 0], theta.dtype))
    return compiled, kernels, workspace


def _worker_or_abort(run, worker, args):
    """Run one worker (``run``: the compiled worker); if it fails, tell the others to stop: they
    may be waiting for a task it had taken."""
    try:
        return run(worker, *args)
    except BaseException:
        args[5].sync[_STOP] = 1  # the workspace's stop flag: a worker failed
        raise

"""What runs on the workers during a gradient-synchronised fit: one replica of the network per
worker, each taking every optimizer step of the fit on the gradient summed over all workers.

A step's global mini-batch of ``batch_size`` rows is cut across the workers in proportion to the
rows they hold (:func:`~fastbp.dask.gradient_sync.batch_shares`). Each worker runs the forward and
backward pass on its part with the sample weights as they are, so its gradient is a weighted
*sum*; one ring all-reduce (:mod:`fastbp.dask.collective`) adds the workers' sums, together with
their loss and weight sums, and every worker divides by the total weight, adds the penalty's
gradient and takes the optimizer step. The replicas apply the same update to the same numbers,
so they hold bitwise the same weights at every step, and the step is the one a local fit would
take on the union of the workers' parts: a fit on N workers takes as many steps per epoch, on
batches as large, as a local fit.

Only the gradient moves (``2 (N - 1) / N`` times its size per worker and step); the weights and the
optimizer's moments stay on the workers and go to the client once per epoch, from one worker.
"""

import time
from typing import NamedTuple

import numpy as np

from ..errors import DivergenceError
from ..kernels import codes, layer_loop
from ..kernels.records import Penalty
from ..schedules import Constant
from ..training.fit import TrainingPlan, train
from .collective import Listener, Ring
from .threads import worker_threads
from .validation import validation_sums
from .worker import Synced, restored


class ReplicaPlan(NamedTuple):
    """How one worker's replica trains, fixed for the fit.

    shares : ndarray of int64, shape (n_steps,)
        This worker's rows in each step's global batch (:func:`~.gradient_sync.batch_shares`).
    batch_rows : ndarray of int64, shape (n_steps,)
        Each step's global batch size (the penalty's scale).
    alpha : float
        L2 penalty, in ``Sequential.fit``'s per-batch scaling.
    shuffle : bool
    seed : int
        This worker's seed (:func:`~fastbp.dask.rounds.worker_seeds`: worker 0's is the local
        fit's): its generator draws the dropout masks' seed, then each epoch's visiting order,
        as ``Sequential.fit`` draws them.
    validation_weight : float
        ``1 / (rows held out on all workers)``, or 0 without validation.
    target_mean : ndarray of shape (n_outputs,) or None
        The mean of every worker's held-out targets (R^2's centre).
    timeout : float
        Seconds any one wait may last.
    """
    shares: np.ndarray
    batch_rows: np.ndarray
    alpha: float
    shuffle: bool
    seed: int
    validation_weight: float
    target_mean: object
    timeout: float


class EpochResult(NamedTuple):
    """What one worker reports of an epoch.

    loss : float
        Mean training loss of the epoch over the whole cluster (penalty included); NaN if it
        diverged. The same on every worker.
    synced : worker.Synced or None
        The weights and moments after the epoch (from worker 0 only).
    validation : ndarray or None
        This worker's validation sums (:func:`~.validation.validation_sums`).
    bytes_sent : int
        Bytes this worker sent to its neighbour in the epoch.
    sync_seconds : float
        Seconds this worker spent in the all-reduce (waiting for the others included).
    """
    loss: float
    synced: object
    validation: object
    bytes_sent: int
    sync_seconds: float


def open_listener():
    """A listening socket on this worker (a task pinned to it), for its ring neighbour.

    Returns
    -------
    collective.Listener
    """
    from distributed import get_worker

    return Listener(get_worker().host)


def listener_address(listener):
    """``(host, port)`` of a :class:`~.collective.Listener`."""
    return listener.address


class Replica:
    """One worker's copy of the network and optimizer, its rows and its place in the ring.

    Parameters
    ----------
    shard : worker.Shard
    ring : collective.Ring
    synced : worker.Synced
        The weights and optimizer state every replica starts from.
    plan : ReplicaPlan
    """

    def __init__(self, shard, ring, synced, plan):
        self.shard, self.ring, self.plan = shard, ring, plan
        self.model, optimizer = restored(shard, synced)
        self.optimizer = optimizer
        self.theta = np.array(self.model.parameters)  # the update kernels write it
        moments = optimizer.moments
        self.moment_1, self.moment_2 = np.array(moments[0]), np.array(moments[1])
        self.steps = int(optimizer.steps)
        self.n_moments = len(synced.moments)
        n_params = self.theta.shape[0]
        # the gradient, then the batch's loss and weight sums: one all-reduce carries all three
        self.buffer = np.zeros(n_params + 2, self.theta.dtype)
        self.params = self.model.layer_views(self.theta)
        self.gradients = self.model.layer_views(self.buffer[:n_params])
        self.rng = np.random.default_rng(plan.seed)
        self.dropout_seed = int(self.rng.integers(2**63))
        self._layer_buffers = {}

    def _buffers(self, rows):
        """Layer buffers for ``rows`` rows (a step's share takes two or three sizes at most)."""
        found = self._layer_buffers.get(rows)
        if found is None:
            kernels, network = self.model.kernels, self.model.network
            found = layer_loop.LayerBuffers(kernels, network, rows, self.theta.dtype,
                                            training=True)
            self._layer_buffers[rows] = found
        return found

    def _gradient_sum(self, X, Y, weight, step):
        """Fill the buffer with this worker's weighted gradient, loss and weight sums on its rows
        of the step (zeros for none)."""
        n_params = self.theta.shape[0]
        if X.shape[0] == 0:
            self.buffer[:] = 0
            return
        kernels, network = self.model.kernels, self.model.network
        buffers = self._buffers(X.shape[0])
        inputs = layer_loop.forward(kernels, network, buffers, X, self.params,
                                    (self.dropout_seed, step))
        # the raw weights make every sum a sum: the step divides by the whole batch's weight
        loss = kernels.loss_forward(buffers.pres[-1], buffers.outs[-1], Y, weight,
                                    network.loss)
        layer_loop.backward(kernels, network, buffers, inputs, self.params, self.gradients,
                            (Y, weight))
        self.buffer[n_params] = loss
        self.buffer[n_params + 1] = weight.sum(dtype=np.float64)

    def _penalised(self, rows):
        """Add the L2 penalty of a batch of ``rows`` rows to the gradient; returns its value."""
        l2 = self.plan.alpha / rows
        if l2 == 0:
            return 0.0
        kernels = self.model.kernels
        penalty = 0.0
        for (W, _), (dW, _) in zip(self.params, self.gradients):
            penalty += kernels.penalty_forward(W, l2, 0.0)
            kernels.penalty_backward(dW, W, l2, 0.0)
        return penalty

    def _update(self, lr):
        """The optimizer's step on the summed gradient (the update kernels of the backend)."""
        kernels, optimizer = self.model.kernels, self.optimizer
        gradient = self.buffer[:self.theta.shape[0]]
        self.steps += 1
        if optimizer.code == codes.ADAM:
            lr_t = kernels.adam_learning_rate(lr, optimizer.beta_1, optimizer.beta_2, self.steps)
            kernels.adam_update(self.theta, gradient, self.moment_1, self.moment_2, lr_t,
                                optimizer.beta_1, optimizer.beta_2, optimizer.epsilon)
        else:
            kernels.sgd_update(self.theta, gradient, self.moment_1, lr, optimizer.momentum,
                               optimizer.nesterov)

    def run_epoch(self, lr):
        """One epoch at learning rate ``lr``; see :class:`EpochResult`."""
        shard, plan = self.shard, self.plan
        n = shard.X.shape[0]
        # drawn as Sequential.fit draws it: one worker visits the rows a local fit visits
        order = self.rng.permutation(n).astype(np.int64) if plan.shuffle else np.arange(n)
        sent_before = self.ring.bytes_sent
        if self.ring.size == 1:
            loss, waited = self._local_epoch(order, lr), 0.0
        else:
            loss, waited = self._summed_epoch(order, lr)
        validation = None
        if shard.validation is not None:
            validation = validation_sums(self.model, shard.validation, self.theta,
                                         (plan.validation_weight, plan.target_mean))
        synced = self.state() if self.ring.rank == 0 else None
        return EpochResult(loss, synced, validation,
                           self.ring.bytes_sent - sent_before, waited)

    def _local_epoch(self, order, lr):
        """A worker alone takes the local fit's steps in the local fit's compiled epoch (the
        all-reduce of one worker is its own gradient): bitwise what a local fit computes."""
        shard, plan = self.shard, self.plan
        model, optimizer = self.model, self.optimizer
        model.set_parameters(self.theta)
        optimizer.set_state((self.moment_1, self.moment_2), self.steps)
        optimizer.lr = lr  # the client's schedule set the epoch's rate; Constant keeps it
        weight = shard.weight[order]
        if not np.any(weight > 0):
            return np.nan
        settings = TrainingPlan(1, int(plan.batch_rows[0]), optimizer, Constant(), None, False,
                                Penalty(plan.alpha, 0.0), 0)
        try:
            # seeded as the local fit's generator: the same dropout masks
            history = train(model, (shard.X[order], shard.Y[order], weight, None), settings,
                            np.random.default_rng(plan.seed))
        except DivergenceError:
            return np.nan  # the client reports it, and keeps the last epoch's weights
        self.theta[...] = model.parameters
        self.moment_1[...], self.moment_2[...] = optimizer.moments
        self.steps = int(optimizer.steps)
        return float(history.loss[0])

    def _summed_epoch(self, order, lr):
        """Every step's global batch, its gradient all-reduced; returns the epoch's mean loss
        and the seconds spent in the all-reduce."""
        shard, plan = self.shard, self.plan
        X, Y, weight = shard.X[order], shard.Y[order], shard.raw_weight[order]
        n_params = self.theta.shape[0]
        total = count = 0.0
        waited = 0.0
        start = 0
        mean_loss = np.nan
        with np.errstate(over="ignore", invalid="ignore"):  # a divergence shows in the loss
            for share, rows in zip(plan.shares, plan.batch_rows):
                stop = start + int(share)
                self._gradient_sum(X[start:stop], Y[start:stop], weight[start:stop],
                                   self.steps)
                start = stop
                began = time.perf_counter()
                self.ring.allreduce(self.buffer)
                waited += time.perf_counter() - began
                weight_sum = float(self.buffer[n_params + 1])
                if weight_sum == 0:
                    continue  # a batch with no weight takes no step, as in a local fit
                self.buffer[:n_params] /= self.buffer.dtype.type(weight_sum)
                batch_loss = float(self.buffer[n_params]) / weight_sum + \
                    self._penalised(int(rows))
                if not np.isfinite(batch_loss):
                    break
                self._update(lr)
                total += batch_loss * int(rows)
                count += int(rows)
            else:
                mean_loss = total / count if count else np.nan
        return mean_loss, waited

    def state(self):
        """The replica's weights and the moments its optimizer's update reads."""
        moments = (self.moment_1.copy(), self.moment_2.copy())[:self.n_moments]
        return Synced(self.theta.copy(), moments, self.steps)

    def close(self):
        """Close the ring's connections."""
        self.ring.close()

    def __del__(self):
        # a replica Dask drops without a close (its fit failed elsewhere) closes its sockets
        ring = getattr(self, "ring", None)
        if ring is not None:
            ring.close()


def start_replica(shard, listener, synced, placement, plan):
    """Join the ring and make this worker's replica (a task on every worker at once).

    Parameters
    ----------
    shard : worker.Shard
    listener : collective.Listener
        This worker's, from :func:`open_listener`.
    synced : worker.Synced
    placement : tuple of (list of (str, int), int, bytes)
        Every worker's listener address in ring order, this worker's rank, the fit's token.
    plan : ReplicaPlan

    Returns
    -------
    Replica
    """
    addresses, rank, token = placement
    ring = Ring(listener, addresses, rank, token, plan.timeout)
    return Replica(shard, ring, synced, plan)


def replica_epoch(replica, lr):
    """Train one epoch at learning rate ``lr`` on a worker's replica (a task on every worker at
    once); see :meth:`Replica.run_epoch`."""
    with worker_threads(replica.plan.timeout):
        return replica.run_epoch(lr)


def close_replica(replica):
    """Close a replica's connections."""
    replica.close()

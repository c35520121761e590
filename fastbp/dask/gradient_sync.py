"""The client's side of a gradient-synchronised fit: the global batches' split over the workers,
the replicas' start, one task per worker per epoch, and what the epochs report.

The workers sum the gradient among themselves at every step (:mod:`fastbp.dask.replicas`); the
client only starts each epoch (one task per worker, through the scheduler) and reads its loss,
its validation sums and, from one worker, the weights and moments it ended with.
"""

import math

import numpy as np

from .collective import new_token
from .replicas import (
    ReplicaPlan,
    close_replica,
    listener_address,
    open_listener,
    replica_epoch,
    start_replica,
)
from .rounds import worker_seeds
from .validation import validation_figures
from .waiting import WorkerLostError


def batch_shares(rows, batch_size):
    """Each worker's rows in each step's global batch.

    The workers' rows are merged into one epoch as evenly as their counts allow (worker ``r``'s
    ``i``-th row at position ``(i + 0.5) / rows[r]`` of the epoch, ties to the lower rank) and
    the merged epoch is cut into batches of ``batch_size`` rows, as a local fit cuts its epoch. So
    every worker visits each of its rows once per epoch, every global batch has ``batch_size``
    rows (the last one the rest), and each worker's share of a batch is proportional to its rows.

    Parameters
    ----------
    rows : sequence of int, shape (n_workers,)
    batch_size : int

    Returns
    -------
    shares : ndarray of int64, shape (n_workers, n_steps)
    batch_rows : ndarray of int64, shape (n_steps,)
        ``shares.sum(axis=0)``.

    Examples
    --------
    >>> shares, batch_rows = batch_shares([6, 3], 4)
    >>> shares.tolist(), batch_rows.tolist()
    ([[3, 2, 1], [1, 2, 0]], [4, 4, 1])
    """
    rows = [int(r) for r in rows]
    n = sum(rows)
    n_steps = -(-n // batch_size)
    position = np.concatenate([(np.arange(r) + 0.5) / r for r in rows if r]) if n else \
        np.empty(0)
    owner = np.concatenate([np.full(r, i, np.int64) for i, r in enumerate(rows) if r]) if n \
        else np.empty(0, np.int64)
    merged = owner[np.lexsort((owner, position))]
    shares = np.zeros((len(rows), n_steps), np.int64)
    np.add.at(shares, (merged, np.arange(n) // batch_size), 1)
    return shares, shares.sum(axis=0)


class Replicas:
    """One replica per worker of a :class:`~.rounds.Cluster`, joined in a ring.

    Parameters
    ----------
    cluster : rounds.Cluster
        Its shards made and its initial state published.
    plan : dict
        ``batch_size``, ``alpha``, ``shuffle`` and ``seed``, as for :class:`~.rounds.Epochs`.
    loss_code : int
        The network's loss (how the validation sums become a score).
    """

    def __init__(self, cluster, plan, loss_code):
        self.cluster, self.loss_code = cluster, loss_code
        n_workers = len(cluster.workers)
        self.shares, batch_rows = batch_shares(cluster.rows, plan["batch_size"])
        self.validation_rows = sum(size.validation_rows for size in cluster.sizes)
        target_mean = None
        if self.validation_rows:
            target_mean = sum(size.validation_target_sum for size in cluster.sizes
                              if size.validation_rows) / self.validation_rows
        seeds = worker_seeds(plan["seed"], n_workers)
        plans = [ReplicaPlan(self.shares[i], batch_rows, plan["alpha"], plan["shuffle"],
                             seeds[i],
                             1.0 / self.validation_rows if self.validation_rows else 0.0,
                             target_mean, cluster.timeout)
                 for i in range(n_workers)]
        listeners = [cluster.submit(i, open_listener) for i in range(n_workers)]
        addresses = cluster.run([cluster.submit(i, listener_address, listener)
                                 for i, listener in enumerate(listeners)], "opening the ring")
        token = new_token()
        self.replicas = [cluster.submit(i, start_replica, cluster.shards[i], listeners[i],
                                        cluster.synced_future, (addresses, i, token), plans[i])
                         for i in range(n_workers)]
        for listener in listeners:
            listener.release()
        #: per epoch: bytes each worker sent to its neighbour, and its seconds in the all-reduce
        self.bytes_sent, self.sync_seconds = [], []
        self.steps_per_epoch = int(self.shares.shape[1])

    def run(self, epoch, lr):
        """Train one epoch at learning rate ``lr``.

        Returns
        -------
        loss : float
            The epoch's mean training loss (NaN if it diverged).
        validation : (float, float) or None
            ``(val_loss, val_metric)`` on every worker's held-out rows, if any.
        """
        cluster = self.cluster
        futures = [cluster.submit(i, replica_epoch, replica, lr)
                   for i, replica in enumerate(self.replicas)]
        done = cluster.run(futures, f"epoch {epoch + 1}")
        self.bytes_sent.append([result.bytes_sent for result in done])
        self.sync_seconds.append([result.sync_seconds for result in done])
        loss = done[0].loss
        if math.isfinite(loss):
            cluster.adopt(done[0].synced)  # the weights every replica holds now
        validation = None
        if self.validation_rows:
            sums = sum(result.validation for result in done if result.validation is not None)
            validation = validation_figures(self.loss_code, sums, self.validation_rows)
        return loss, validation

    def traffic(self):
        """The estimator's attributes of what the fit moved (``DaskMLP``'s ``TRAFFIC``)."""
        return {"steps_per_epoch_": self.steps_per_epoch,
                "bytes_per_epoch_": [list(sent) for sent in self.bytes_sent],
                "sync_seconds_": [list(waited) for waited in self.sync_seconds]}

    def close(self):
        """Close the replicas' connections and let Dask forget them.

        After a lost worker or a timeout (the error the fit reports), the replicas that remain
        are only forgotten: their connections close as Dask drops them."""
        cluster = self.cluster
        try:
            cluster.run([cluster.submit(i, close_replica, replica)
                         for i, replica in enumerate(self.replicas)], "closing the ring")
        except (WorkerLostError, TimeoutError):
            pass  # the fit is already failing with the error that says why
        finally:
            for replica in self.replicas:
                replica.release()

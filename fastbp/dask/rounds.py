"""Synchronous data-parallel training from the client: rounds of one task per worker, each
followed by the average of the workers' weights and optimizer moments.

Only the synchronised state moves: the client scatters it to the workers before a round (one
copy each) and gathers each worker's state after it, so a round moves about
``2 x Synced.nbytes`` per worker, whatever the number of rows.
"""

import math
import time

import numpy as np

from .waiting import results
from .worker import Round, Synced, make_shard, moved_moments, shard_size, train_round


def average(trained, dtype):
    """The workers' states averaged with weights proportional to the rows each trained on.

    Parameters
    ----------
    trained : list of worker.Trained
        Those with ``rows > 0``.
    dtype : numpy dtype
        The network's; the sums are taken in float64.

    Returns
    -------
    Synced
        The one worker's own state when only one trained (so one worker is bitwise a local fit).
    """
    if len(trained) == 1:
        return trained[0].synced
    total = float(sum(t.rows for t in trained))
    fractions = [t.rows / total for t in trained]

    def mean(arrays):
        return sum(f * a.astype(np.float64) for f, a in zip(fractions, arrays)).astype(dtype)

    moments = tuple(mean([t.synced.moments[i] for t in trained])
                    for i in range(len(trained[0].synced.moments)))
    # Adam's bias correction follows the worker that took the most steps
    return Synced(mean([t.synced.theta for t in trained]), moments,
                  max(t.synced.steps for t in trained))


class Cluster:
    """The workers of one fit, their rows (one shard each) and the synchronised state.

    Parameters
    ----------
    client : distributed.Client
    by_worker : dict
        Worker address -> its row chunks, as tuples of futures (:func:`~.inputs.located`).
    estimator : MLPClassifier or MLPRegressor
        Initialised by the client; each worker gets a copy.
    timeout : float
        Seconds each wait may take (:func:`~.waiting.results`).
    holdouts : list of worker.Holdout, optional
        Per worker, the validation rows to hold out of its own.
    """

    def __init__(self, client, by_worker, estimator, timeout, holdouts=None):
        self.client, self.timeout = client, timeout
        self.workers = list(by_worker)
        self._pinned = [{"workers": [w], "allow_other_workers": False, "pure": False}
                        for w in self.workers]
        copy = client.scatter([estimator], workers=self.workers, broadcast=True, hash=False)[0]
        holdouts = holdouts or [None] * len(self.workers)
        self.shards = [client.submit(make_shard, copy, holdout, *parts, **pin)
                       for parts, holdout, pin in zip(by_worker.values(), holdouts, self._pinned)]
        #: per worker, worker.ShardSize
        self.sizes = self._run([client.submit(shard_size, s, **pin)
                                for s, pin in zip(self.shards, self._pinned)], "loading the rows")
        self.rows = [size.rows for size in self.sizes]
        #: the sum of every sample weight, None without weights
        self.weight_sum = (None if self.sizes[0].weight_sum is None
                           else sum(size.weight_sum for size in self.sizes))
        self._synced_future = None
        #: bytes of the synchronised state sent to one worker, and received from it, per round
        self.bytes_sent, self.bytes_received = [], []

    def _run(self, futures, doing):
        return results(self.client, futures, self.workers, self.timeout, doing)

    def publish(self, synced):
        """Make ``synced`` the state every worker starts its next round from (one copy each)."""
        if self._synced_future is not None:
            self._synced_future.release()
        self.synced = synced
        # in a list: scatter would send a tuple's items as separate pieces
        self._synced_future = self.client.scatter([synced], workers=self.workers, broadcast=True,
                                                  hash=False)[0]

    @property
    def synced_future(self):
        """The future of the published state (:meth:`publish`), held on every worker."""
        return self._synced_future

    def adopt(self, synced):
        """Record ``synced`` as the state the workers hold: they computed it themselves, so
        nothing is sent."""
        self.synced = synced

    def round(self, specs, doing):
        """One round: ``specs[i]`` (a worker.Round, or None to sit it out) for worker ``i``.

        Returns
        -------
        list
            worker.Trained or None, per worker.
        """
        active = [i for i, spec in enumerate(specs) if spec is not None]
        futures = [self.client.submit(train_round, self.shards[i], self._synced_future,
                                      specs[i], **self._pinned[i]) for i in active]
        done = dict(zip(active, self._run(futures, doing)))
        trained = [done[i] for i in active if done[i].rows > 0]
        if trained:
            self.bytes_sent.append(self.synced.nbytes)
            self.bytes_received.append(trained[0].synced.nbytes)
            self.publish(average(trained, self.synced.theta.dtype))
        return [done.get(i) for i in range(len(specs))]

    def submit(self, i, function, *args):
        """``function(*args)`` as a task on worker ``i`` alone."""
        return self.client.submit(function, *args, **self._pinned[i])

    def run(self, futures, doing):
        """The futures' results, waiting at most ``timeout`` and reporting a lost worker
        (:func:`~.waiting.results`)."""
        return self._run(futures, doing)

    def close(self):
        """Let Dask forget the shards and the synchronised state."""
        for future in [*self.shards, self._synced_future]:
            if future is not None:
                future.release()


def worker_seeds(seed, workers):
    """Worker 0 shuffles and drops out with the local fit's seed (one worker is a local fit);
    the others with seeds derived from it."""
    return [seed] + [int(np.random.SeedSequence([seed, i]).generate_state(1)[0])
                     for i in range(1, workers)]


def start_states(seeds):
    """Each worker's shuffling generator as ``Sequential.fit`` leaves it before its first epoch
    (after drawing the dropout seed)."""
    states = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        rng.integers(2**63)
        states.append(rng.bit_generator.state)
    return states


class AveragedEpochs:
    """The epoch loop of a weight-averaging fit (``sync='average'``), as ``Sequential.fit`` runs
    it, with each epoch cut into rounds.

    Parameters
    ----------
    cluster : Cluster
    plan : dict
        ``batch_size``, ``sync_every`` (mini-batches per round, None for one round per epoch),
        ``alpha``, ``shuffle`` and ``seed``.
    """

    def __init__(self, cluster, plan):
        self.cluster, self.plan = cluster, plan
        self.seeds = worker_seeds(plan["seed"], len(cluster.workers))
        self.rng_states = start_states(self.seeds)
        self.batches = [-(-n // plan["batch_size"]) for n in cluster.rows]

    def _rounds(self):
        every = self.plan["sync_every"]
        return 1 if every is None else -(-max(self.batches) // every)

    def run(self, epoch, lr):
        """Train one epoch at learning rate ``lr``.

        Returns
        -------
        loss : float
            The epoch's mean loss over the rows trained.
        validation : None
            Averaged weights are not scored.
        """
        every, plan = self.plan["sync_every"], self.plan
        losses, after = [], list(self.rng_states)
        n_rounds = self._rounds()
        for r in range(n_rounds):
            first = 0 if every is None else r * every
            stop = None if every is None else (r + 1) * every
            specs = [Round(epoch, first, stop, lr, plan["alpha"], plan["batch_size"],
                           plan["shuffle"], seed, state, self.cluster.timeout)
                     if first < batches else None
                     for seed, state, batches in zip(self.seeds, self.rng_states, self.batches)]
            done = self.cluster.round(specs, f"round {r + 1} of {n_rounds} of epoch {epoch + 1}")
            for i, trained in enumerate(done):
                if trained is not None:
                    after[i] = trained.rng_state
                    if trained.rows:
                        losses.append((trained.rows, trained.loss))
        self.rng_states = after
        total = float(sum(rows for rows, _ in losses))
        if len(losses) == 1:
            return losses[0][1], None
        mean = math.fsum(rows / total * loss for rows, loss in losses) if losses else math.nan
        return mean, None

    def traffic(self):
        """The estimator's attributes of what the fit moved (``DaskMLP``'s ``TRAFFIC``): per
        round, the bytes of weights and moments sent to one worker, and received from it."""
        cluster = self.cluster
        return {"bytes_per_round_": list(zip(cluster.bytes_sent, cluster.bytes_received))}

    def close(self):
        """Nothing to close: the rounds hold nothing between them."""


def initial_state(model, optimizer):
    """The synchronised state of a network and its fresh optimizer."""
    zeros = tuple(np.zeros_like(model.parameters) for _ in range(moved_moments(optimizer)))
    return Synced(model.parameters.copy(), zeros, 0)


def timed(function, *args):
    """``(function(*args), seconds)``."""
    start = time.perf_counter()
    return function(*args), time.perf_counter() - start

"""What runs on the workers during a fit: each worker's rows made ready once, then rounds of
training on them through the estimators' own epoch loop (:func:`fastbp.training.fit.train`).

Everything a round needs arrives with it (the synchronised weights and optimizer moments, the
random state of the epoch's shuffle), and everything it changes goes back in its result, so a
round can run on any thread of the worker and nothing is lost if Dask spills the rows to disk.
"""

from typing import NamedTuple

import numpy as np

from ..kernels import codes
from ..kernels.records import Penalty
from ..schedules import Constant
from ..estimators import training
from ..training.fit import TrainingPlan, train, weighted_batch_runs
from ..validation import check_sample_weight
from .threads import worker_threads


class Shard:
    """One worker's training rows, validated and encoded as the local estimator would.

    Attributes
    ----------
    estimator : MLPClassifier or MLPRegressor
        This worker's copy of the fit's estimator; its network and optimizer do the training.
    X : ndarray of shape (n, n_features)
    Y : ndarray of shape (n, n_outputs)
        Encoded targets, in the network's dtype.
    weight : ndarray of shape (n,)
        Sample weights normalised over the shard, as ``Sequential.fit`` normalises them.
    weight_sum : float or None
        Sum of the raw sample weights (None without them): the penalty's scale.
    raw_weight : ndarray of shape (n,)
        The sample weights as given (ones without them), in the network's dtype.
    validation : tuple of (ndarray, ndarray) or None
        The rows held out for validation, ``(X_val, Y_val)``, or None.
    """

    def __init__(self, estimator, X, Y, sample_weight, validation=None):
        self.estimator = estimator
        self.X, self.Y = np.ascontiguousarray(X), np.ascontiguousarray(Y)
        n = self.X.shape[0]
        self.weight = check_sample_weight(sample_weight, n, self.X.dtype)
        self.weight_sum = None if sample_weight is None else float(np.sum(sample_weight))
        self.raw_weight = (np.ones(n, self.X.dtype) if sample_weight is None
                           else np.asarray(sample_weight, self.X.dtype))
        self.validation = None if validation is None else tuple(
            np.ascontiguousarray(a) for a in validation)


class Holdout(NamedTuple):
    """The rows a worker holds out for validation: scikit-learn's ``train_test_split`` of its
    own rows, stratified by class where every class the worker holds has two rows or more.

    fraction : float
        ``validation_fraction``.
    seed : int
        This worker's split seed.
    stratify : bool
        Whether the targets are class labels (one per row) to stratify by.
    """
    fraction: float
    seed: int
    stratify: bool


def _held_out(X, Y, weights, holdout):
    """``(X, Y, weights)`` left for training and ``(X_val, Y_val)`` held out."""
    from sklearn.model_selection import train_test_split

    labels = Y.argmax(axis=1) if holdout.stratify and Y.shape[1] > 1 else \
        (Y[:, 0] if holdout.stratify else None)
    if labels is not None and np.min(np.unique(labels, return_counts=True)[1]) < 2:
        labels = None  # a class with one row on this worker cannot be split by class
    arrays = (X, Y) if weights is None else (X, Y, weights)
    parts = train_test_split(*arrays, test_size=holdout.fraction, random_state=holdout.seed,
                             stratify=labels)
    kept = (parts[0], parts[2], None if weights is None else parts[4])
    return kept, (parts[1], parts[3])


def make_shard(estimator, holdout, *parts):
    """Join a worker's partitions, in partition order, and validate them.

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
        Initialised (network, classes and features set) by the client.
    holdout : Holdout or None
        The validation rows to hold out of this worker's, if any.
    *parts : tuple of (X, y) or (X, y, sample_weight)
        The row chunks this worker holds; X of shape (m, n_features), y of shape (m,) or
        (m, n_outputs), sample_weight of shape (m,).

    Returns
    -------
    Shard
    """
    X = np.concatenate([part[0] for part in parts])
    y = np.concatenate([np.asarray(part[1]) for part in parts])
    weights = np.concatenate([part[2] for part in parts]) if len(parts[0]) == 3 else None
    X, Y, weights, _ = training.validate_training_data(estimator, X, y, weights,
                                                       incremental=True, reset=False)
    if weights is not None and np.any(weights < 0):
        raise ValueError(f"sample weights (times class_weight, if given) must be non-negative; "
                         f"got minimum {np.min(weights)}")
    if holdout is None:
        return Shard(estimator, X, Y, weights)
    (X, Y, weights), validation = _held_out(X, Y, weights, holdout)
    return Shard(estimator, X, Y, weights, validation)


class ShardSize(NamedTuple):
    """What the client learns of a shard once it is made.

    rows : int
        Training rows.
    weight_sum : float or None
        Sum of their sample weights (None without them).
    validation_rows : int
        Rows held out (0 for none).
    validation_target_sum : ndarray of shape (n_outputs,) or None
        Column sums of the held-out targets, in float64.
    """
    rows: int
    weight_sum: object
    validation_rows: int
    validation_target_sum: object


def shard_size(shard):
    """The :class:`ShardSize` of a shard."""
    if shard.validation is None:
        return ShardSize(shard.X.shape[0], shard.weight_sum, 0, None)
    Y = shard.validation[1]
    return ShardSize(shard.X.shape[0], shard.weight_sum, Y.shape[0],
                     Y.sum(axis=0, dtype=np.float64))


class Synced(NamedTuple):
    """The state every worker starts a round from.

    theta : ndarray of shape (n_params,)
        The network's parameters (layout of :mod:`fastbp.kernels.layout`).
    moments : tuple of ndarray of shape (n_params,)
        The optimizer's state vectors that its update reads (:func:`moved_moments`).
    steps : int
        Optimizer steps taken (Adam's bias correction).
    """
    theta: np.ndarray
    moments: tuple
    steps: int

    @property
    def nbytes(self):
        return self.theta.nbytes + sum(m.nbytes for m in self.moments)


def moved_moments(optimizer):
    """How many of the optimizer's two state vectors its update reads: Adam both moments, SGD
    its velocity when it has momentum, none otherwise. Only these travel."""
    if optimizer.code == codes.ADAM:
        return 2
    return 1 if optimizer.momentum else 0


class Round(NamedTuple):
    """One worker's share of one round of training.

    epoch : int
    first, stop : int
        Mini-batches ``first`` to ``stop - 1`` of the worker's epoch (``stop`` None: to its end).
    lr : float
        The epoch's learning rate.
    alpha : float
        L2 penalty, in ``Sequential.fit``'s per-batch scaling.
    batch_size : int
    shuffle : bool
    seed : int
        Seeds the worker's dropout masks, as ``Sequential.fit``'s seed does.
    rng_state : dict
        The worker's shuffling generator's state at the start of the epoch.
    timeout : float
        Seconds to wait for a thread of the worker (:func:`~fastbp.dask.threads.worker_threads`).
    """
    epoch: int
    first: int
    stop: object
    lr: float
    alpha: float
    batch_size: int
    shuffle: bool
    seed: int
    rng_state: dict
    timeout: float


class Trained(NamedTuple):
    """What a round sends back: the worker's state after it, and its figures.

    rows : int
        Rows in the round's batches that carried weight (the averaging weight).
    loss : float
        Mean training loss over those rows (penalty included); NaN when ``rows`` is 0.
    rng_state : dict
        The shuffling generator's state after the epoch's permutation.
    """
    synced: Synced
    rows: int
    loss: float
    rng_state: dict


def _epoch_order(shard, spec):
    """The epoch's visiting order and the generator state after drawing it."""
    if not spec.shuffle:
        return None, spec.rng_state
    # the rounds of an epoch share its order: drawn once, kept with the shard
    cached = getattr(shard, "order", None)
    if cached is not None and cached[0] == spec.rng_state:
        return cached[1], cached[2]
    rng = np.random.default_rng()
    rng.bit_generator.state = spec.rng_state
    # Sequential.fit draws its permutation this way, in int64
    order = rng.permutation(shard.X.shape[0]).astype(np.int64)
    shard.order = (spec.rng_state, order, rng.bit_generator.state)
    return order, shard.order[2]


def restored(shard, synced):
    """The worker's network and a fresh optimizer set to the synchronised state."""
    estimator = shard.estimator
    model = training.network(estimator)
    model.set_parameters(synced.theta)
    optimizer = training.new_optimizer(estimator)
    moments = synced.moments or (np.zeros_like(model.parameters),)
    optimizer.set_state(moments, int(synced.steps))  # copies: the network's arrays may be read-only
    return model, optimizer


def train_round(shard, synced, spec):
    """Train a worker's share of one round, starting from the synchronised state.

    Parameters
    ----------
    shard : Shard
    synced : Synced
    spec : Round

    Returns
    -------
    Trained
    """
    order, rng_after = _epoch_order(shard, spec)
    n = shard.X.shape[0]
    lo = min(spec.first * spec.batch_size, n)
    hi = n if spec.stop is None else min(spec.stop * spec.batch_size, n)
    rows = slice(lo, hi) if order is None else order[lo:hi]
    weight = shard.weight[rows]
    runs = weighted_batch_runs(weight, spec.batch_size) if hi > lo else []
    carried = sum(b - a for a, b in runs)
    if not np.any(weight > 0):
        return Trained(synced, 0, float("nan"), rng_after)
    model, optimizer = restored(shard, synced)
    optimizer.lr = spec.lr  # the client's schedule set the epoch's rate; Constant keeps it
    with worker_threads(spec.timeout):
        plan = TrainingPlan(1, spec.batch_size, optimizer, Constant(), None, False,
                            Penalty(spec.alpha, 0.0), 0)
        history = train(model, (shard.X[rows], shard.Y[rows], weight, None), plan,
                        np.random.default_rng(spec.seed))
    moments = tuple(m.copy() for m in optimizer.moments[:len(synced.moments)])
    after = Synced(model.parameters.copy(), moments, optimizer.steps)
    return Trained(after, carried, float(history.loss[0]), rng_after)

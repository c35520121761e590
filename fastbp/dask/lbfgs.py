"""``solver='lbfgs'`` on the workers, as Spark MLlib runs it: the optimiser on the client, the loss
and gradient on the workers that hold the rows.

Each function evaluation scatters the parameter vector once to every worker, each worker returns
the loss and gradient over its own rows weighted by its share of the data set (its rows, or its
sample weights, over the whole), and the client sums them in float64, in worker order, and hands
the sum to the local estimator's own L-BFGS-B call (:func:`fastbp.estimators.lbfgs.minimize`),
which adds the same L2 penalty. The sum is the local full-batch mean to rounding, so the same
data, seed and ``max_iter`` give the local fit's model to rounding; on one worker, bitwise. (L-BFGS
on a network's non-convex loss amplifies last-bit differences from one iteration to the next: in
float64 the two fits agree to about 1e-11 after 50 iterations and drift apart over hundreds, as the
local fit does from itself on the same rows in another order; see tests/test_dask_lbfgs.py.)

Per evaluation only the parameters go out and one gradient per worker comes back: about
``n_params x itemsize`` bytes each way per worker, in float64 on the way back.
"""

from typing import NamedTuple

import numpy as np

from ..errors import DivergenceError
from ..estimators import lbfgs, training
from ..estimators.base import NON_FINITE_WEIGHTS
from .threads import worker_threads


class Share(NamedTuple):
    """One worker's rows as an evaluation reads them, kept on that worker for the whole fit.

    model : Sequential
        The worker's copy of the network; each evaluation sets its parameters.
    X : array of shape (n, n_features)
    Y : array of shape (n, n_outputs)
        Encoded targets, in the network's dtype.
    weight : array of shape (n,)
        The rows' weights normalised over the worker's rows (they sum to 1).
    fraction : float
        The worker's share of the data set: its rows over all rows, or with sample weights, its
        weights' sum over all weights'. The worker's mean times this, summed over the workers, is
        the local fit's mean over every row.
    """
    model: object
    X: object
    Y: object
    weight: object
    fraction: float


def make_share(shard, rows, weight_sum):
    """A worker's :class:`Share` of the data set, from its shard.

    Parameters
    ----------
    shard : worker.Shard
    rows : int
        Rows on every worker together.
    weight_sum : float or None
        Their sample weights' sum (None without weights).

    Returns
    -------
    Share
    """
    model = training.network(shard.estimator)
    # in the backend's memory once for the fit; a host backend hands the arrays back as they are
    device = model.kernels.to_device
    fraction = (shard.X.shape[0] / rows if weight_sum is None
                else shard.weight_sum / weight_sum)
    return Share(model, device(shard.X), device(shard.Y), device(shard.weight), fraction)


def share_loss_and_gradient(share, theta, timeout):
    """A worker's part of one evaluation: its mean loss and gradient at ``theta``, times its
    fraction of the data set.

    Parameters
    ----------
    share : Share
    theta : ndarray of shape (n_params,), of the network's dtype
    timeout : float
        Seconds to wait for a thread of the worker (:func:`~.threads.worker_threads`).

    Returns
    -------
    loss : float
    gradient : ndarray of shape (n_params,), float64
    """
    with worker_threads(timeout):  # one Dask task, one core, BLAS on one thread
        share.model.set_parameters(theta)
        loss, grad = share.model.loss_and_gradient(share.X, share.Y, share.weight)
    grad = grad.astype(np.float64)
    grad *= share.fraction  # 1.0 on a lone worker: the local fit's gradient, bit for bit
    return share.fraction * loss, grad


class Evaluations:
    """The loss and gradient over every worker's rows, one round of tasks per call.

    Parameters
    ----------
    cluster : rounds.Cluster
    shares : list of distributed.Future
        Each worker's :class:`Share`, on that worker, in the cluster's worker order.
    dtype : numpy dtype
        The network's: the parameters travel in it, as the local fit rounds them to it.
    """

    def __init__(self, cluster, shares, dtype):
        self.cluster, self.shares, self.dtype = cluster, shares, dtype
        self.count = 0

    def __call__(self, theta):
        """``(loss, gradient)`` at ``theta`` (float64, shape (n_params,)), without the penalty;
        the gradient float64 of shape (n_params,)."""
        self.count += 1
        cluster = self.cluster
        # one copy to each worker, rather than one per task through the scheduler
        [theta_future] = cluster.client.scatter([theta.astype(self.dtype, copy=False)],
                                                workers=cluster.workers, broadcast=True,
                                                hash=False)
        try:
            parts = cluster.run([cluster.submit(i, share_loss_and_gradient, share, theta_future,
                                                cluster.timeout)
                                 for i, share in enumerate(self.shares)],
                                f"lbfgs evaluation {self.count}")
        finally:
            theta_future.release()
        return _summed(parts)


def _summed(parts):
    """The workers' ``(loss, gradient)`` pairs summed in float64, in worker order (the same order
    every evaluation, so a fit repeats bitwise)."""
    loss, grad = parts[0]
    loss, grad = float(loss), grad.copy()
    for part_loss, part_grad in parts[1:]:
        loss += part_loss
        grad += part_grad
    return loss, grad


def _penalty(estimator, cluster):
    """The local fit's L2 factor ``alpha' / n``, with ``alpha' = alpha * n / sum(sample_weight)``
    under sample weights (``BaseMLP._penalty``), the shards' sums standing for the data set's."""
    n = sum(cluster.rows)
    alpha = (estimator.alpha if cluster.weight_sum is None
             else estimator.alpha * n / cluster.weight_sum)
    return alpha / n


def _place_shares(cluster):
    """Each worker's :class:`Share`, made on the worker from its shard; futures in worker
    order."""
    rows, weight_sum = sum(cluster.rows), cluster.weight_sum
    shares = [cluster.submit(i, make_share, shard, rows, weight_sum)
              for i, shard in enumerate(cluster.shards)]
    cluster.run(shares, "preparing the rows for lbfgs")  # a failure surfaces here, named so
    return shares


def fit_lbfgs(cluster, local, estimator):
    """Train ``local`` in place by L-BFGS-B over the rows of every worker of ``cluster``.

    Sets what a local ``solver='lbfgs'`` fit sets: the network's weights, ``loss_`` and
    ``n_iter_`` (``t_`` and the stochastic solvers' curves are left as ``_initialize`` or an
    earlier fit left them, as the local fit leaves them).

    Parameters
    ----------
    cluster : rounds.Cluster
        The fit's workers, their shards loaded.
    local : MLPClassifier or MLPRegressor
        Initialised by the client (its network, classes and features set), as the workers' copies.
    estimator : DaskMLPClassifier or DaskMLPRegressor
        Its ``alpha``, ``max_iter``, ``max_fun``, ``tol`` and ``verbose`` (``timeout`` is the
        cluster's).

    Returns
    -------
    int
        Evaluations of the loss and gradient (one task per worker each).

    Raises
    ------
    ValueError
        For ``dropout > 0, which L-BFGS's deterministic loss cannot use (the local estimator's
        own check and message).
    DivergenceError
        If the weights end non-finite (the local fit's error); ``local`` then holds them.
    WorkerLostError, TimeoutError
        From any wait (:meth:`rounds.Cluster.run`); ``local`` is then left part-trained.
    """
    training.check_settings(local)  # DaskMLP.fit checks first; this guards other callers
    model = training.network(local)
    shares = _place_shares(cluster)
    try:
        result = lbfgs.minimize(Evaluations(cluster, shares, model.dtype),
                                model.parameters.astype(np.float64), _penalty(estimator, cluster),
                                lbfgs.weight_mask(model), estimator.max_iter, estimator.max_fun,
                                estimator.tol)
    finally:
        for share in shares:
            share.release()
    model.set_parameters(result.x.astype(model.dtype))
    # the warning points at the caller of the Dask estimator's fit (through DaskMLP._fit_lbfgs,
    # DaskMLP.fit and scikit-learn's _fit_context wrapper)
    local.loss_, local.n_iter_ = lbfgs.report(result, estimator.max_iter,
                                              bool(estimator.verbose), stacklevel=5)
    if not np.all(np.isfinite(model.parameters)):
        raise DivergenceError(NON_FINITE_WEIGHTS)
    return int(result.nfev)

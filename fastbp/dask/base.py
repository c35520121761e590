"""What the Dask estimators share: parameters, the fit on the workers, prediction."""

import copy
import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from ..errors import DivergenceError
from ..estimators.base import NON_FINITE_WEIGHTS, effective_batch_size
from ..training.history import History
from . import inputs, predict
from .rounds import Cluster, Epochs, initial_state, timed
from .waiting import WorkerLostError

#: Parameters of the Dask estimators that the local ones do not have.
DASK_PARAMETERS = ("client", "sync_every", "timeout")
#: Fitted attributes copied from the local estimator after a fit.
FITTED = ("coefs_", "intercepts_", "n_features_in_", "feature_names_in_", "n_outputs_",
          "n_layers_", "out_activation_", "n_iter_", "t_", "loss_", "loss_curve_", "best_loss_",
          "classes_")

DASK_PARAMETERS_DOC = """
    client : distributed.Client or None, default=None
        The cluster to train on; None takes the current client (``distributed.default_client``).
    sync_every : int or None, default=None
        Mini-batches each worker trains between two synchronisations; None synchronises once per
        epoch.
    timeout : float, default=600
        Seconds any one wait of a fit may last (loading the rows, a round of training, a worker's
        thread); a lost worker is reported within about a second of the scheduler noticing it,
        whatever this is.
"""

DASK_NOTES = """
    Each worker trains on the rows it holds, from the same weights, for ``sync_every``
    mini-batches; the client then averages the workers' weights and optimizer moments, weighted by
    the rows each trained on, and sends the average back: one task per worker per round, and only
    parameters and moments move. With one worker the weights are bitwise those of the local
    estimator on the same rows in the same order (same shuffles, same compiled epoch, same thread
    count). With several, the same seed and the same placement of the partitions on the workers
    give the same weights. ``solver='lbfgs'``, ``early_stopping`` and ``validation`` are not
    available.

    If a worker holding rows leaves during a fit, :class:`fastbp.dask.WorkerLostError` is raised
    (within about a second) and the estimator keeps the weights synchronised at the end of the
    last completed round: ``warm_start=True`` continues from them on the workers that remain
    (Dask computes the lost rows again where their graph allows). A wait longer than ``timeout``
    raises ``TimeoutError`` the same way. No wait of a fit is unbounded.
"""


class DaskMLP(BaseEstimator):
    """What the two Dask estimators share; use :class:`DaskMLPClassifier` or
    :class:`DaskMLPRegressor`."""

    _local_class = None

    def _local_estimator(self):
        params = self.get_params(deep=False)
        return self._local_class(**{k: v for k, v in params.items()
                                    if k not in DASK_PARAMETERS})

    def _client(self):
        if self.client is not None:
            return self.client
        from distributed import default_client

        try:
            return default_client()
        except ValueError as error:
            raise ValueError(f"{type(self).__name__} needs a Dask cluster: pass client= or "
                             f"create a distributed.Client first ({error})") from None

    def _check_settings(self):
        if self.solver == "lbfgs":
            raise ValueError(f"{type(self).__name__} trains with solver='sgd' or 'adam'; got "
                             f"'lbfgs', which needs every row at once (use the local estimator)")
        for name in ("early_stopping", "validation"):
            if getattr(self, name):
                raise ValueError(f"{type(self).__name__} does not hold out a validation set: "
                                 f"{name} must be False")

    # ---- subclass hooks ---------------------------------------------------------------------
    def _targets(self, y):
        """y as a Dask array of the dimensions the estimator takes."""
        raise NotImplementedError

    def _learn_targets(self, client, local, y):
        """Set what the local estimator learns from all of ``y`` (classes); returns n_outputs."""
        raise NotImplementedError

    # ---- fitting ----------------------------------------------------------------------------
    def _start(self, client, X, y, names):
        """The local estimator this fit trains, initialised as the local fit would be, and the
        random state left for the shuffling seed."""
        warm = self.warm_start and hasattr(self, "_local")
        local = copy.deepcopy(self._local) if warm else self._local_estimator()
        if warm:
            local.set_params(**{k: v for k, v in self.get_params(deep=False).items()
                                if k not in DASK_PARAMETERS})
        n_outputs = self._learn_targets(client, local, y)
        random_state = check_random_state(self.random_state)
        if warm:
            if X.shape[1] != local.n_features_in_ or n_outputs != local.n_outputs_:
                raise ValueError(f"X has {X.shape[1]} features and y {n_outputs} outputs, but "
                                 f"the network was fitted with {local.n_features_in_} and "
                                 f"{local.n_outputs_}; refit without warm_start")
        else:
            local.n_features_in_ = X.shape[1]
            if self.dtype is not None:
                dtype = np.dtype(self.dtype)
            else:  # scikit-learn's rule: float32 stays, anything else becomes float64
                dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.dtype(np.float64)
            local._initialize(X.shape[1], n_outputs, dtype, random_state)
        local.__dict__.pop("feature_names_in_", None)
        if names is not None:
            local.feature_names_in_ = names
        return local, random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train on the workers that hold the rows of ``X``.

        Parameters
        ----------
        X : dask.array.Array or dask.dataframe.DataFrame of shape (n_samples, n_features)
            Partitioned by rows.
        y : dask.array.Array or dask.dataframe.Series of shape (n_samples,)
            (or (n_samples, n_outputs) for the regressor); re-chunked to the rows of ``X`` if
            its chunks differ.
        sample_weight : dask.array.Array or dask.dataframe.Series of shape (n_samples,), optional

        Returns
        -------
        self
        """
        self._check_settings()
        client = self._client()
        names = inputs.feature_names(X)
        X = inputs.as_array(X, "X", (2,))
        y = inputs.aligned(X, self._targets(y), "y")
        if sample_weight is not None:
            sample_weight = inputs.aligned(
                X, inputs.as_array(sample_weight, "sample_weight", (1,)), "sample_weight")
        local, random_state = self._start(client, X, y, names)
        arrays = [X, y] if sample_weight is None else [X, y, sample_weight]
        by_worker = inputs.located(client, arrays, self.timeout)
        worker_copy = copy.deepcopy(local)
        worker_copy.__dict__.pop("feature_names_in_", None)  # the workers see arrays, not frames
        cluster = Cluster(client, by_worker, worker_copy, self.timeout)
        try:
            self._train(cluster, local, random_state)
        finally:
            cluster.close()
        return self

    def _plan(self, local, cluster, random_state):
        """How the epochs run: batch size, penalty, shuffling and seeds, as the local fit's."""
        n = sum(cluster.rows)
        batch_size = effective_batch_size(self.batch_size, n, stacklevel=5)
        # the local fit's alpha * n / sum(sample_weight); the shards' sums stand for the total
        alpha = self.alpha if cluster.weight_sum is None else self.alpha * n / cluster.weight_sum
        seed = int(random_state.randint(np.iinfo(np.int32).max))
        return {"batch_size": batch_size, "sync_every": self.sync_every, "alpha": alpha,
                "shuffle": bool(self.shuffle), "seed": seed}

    def _train(self, cluster, local, random_state):
        """The epochs, as the local estimator's ``_fit_stochastic`` runs them."""
        local._optimizer = local._new_optimizer()  # a new optimizer per fit (scikit-learn's rule)
        kind = self.learning_rate if self.solver == "sgd" else "constant"
        from ..estimators import rules

        local._schedule = rules.SklearnSchedule(kind, self.power_t)
        local._stopping.schedule = local._schedule
        local._stopping.verbose = bool(self.verbose)
        local._stopping.reset()
        model, optimizer = local._network(), local._optimizer
        plan = self._plan(local, cluster, random_state)
        cluster.publish(initial_state(model, optimizer))
        epochs = Epochs(cluster, plan)
        history = History("accuracy" if hasattr(local, "classes_") else "r2")
        n, samples_before = sum(cluster.rows), model.samples_seen
        self.epoch_seconds_ = []
        try:
            for epoch in range(self.max_iter):
                lr = float(local._schedule.lr(epoch, optimizer.lr, samples_before + n * epoch))
                loss, seconds = timed(epochs.run, epoch, lr)
                if not np.isfinite(loss):
                    raise DivergenceError(f"the mean loss of epoch {epoch + 1} was {loss}")
                logs = {"epoch": epoch, "loss": loss, "lr": lr, "time": seconds}
                history.lr.append(lr)
                history.time.append(seconds)
                history.loss.append(loss)
                self.epoch_seconds_.append(seconds)
                local._schedule.update(epoch, logs)
                if local._stopping.update(epoch, logs)[1]:
                    history.stopped_early = True
                    break
        except DivergenceError as error:
            self._keep(local, cluster, history, n)
            raise DivergenceError(f"{NON_FINITE_WEIGHTS} ({error})") from error
        except (WorkerLostError, TimeoutError) as error:
            self._keep(local, cluster, history, n)
            kept = (f"{error}; the estimator keeps the weights synchronised after the last round "
                    f"completed ({history.epochs} whole epochs): fit again with warm_start=True "
                    f"to continue from them")
            if isinstance(error, WorkerLostError):
                raise WorkerLostError(f"{kept} on the workers that remain",
                                      error.workers) from error
            raise TimeoutError(kept) from error
        self._keep(local, cluster, history, n)
        if not history.stopped_early and history.epochs == self.max_iter:
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached "
                          f"and the optimization hasn't converged yet.", ConvergenceWarning,
                          stacklevel=3)

    def _keep(self, local, cluster, history, n):
        """Make the last synchronised state the estimator's, with the epochs completed."""
        model, optimizer = local._network(), local._optimizer
        model.set_parameters(cluster.synced.theta)
        model.samples_seen += n * history.epochs
        moments = cluster.synced.moments or (np.zeros_like(model.parameters),)
        optimizer.set_state(moments, int(cluster.synced.steps))
        local._record(history, n, False)
        self._local = local
        for name in FITTED:
            if hasattr(local, name):
                setattr(self, name, getattr(local, name))
            else:
                self.__dict__.pop(name, None)
        self.workers_ = list(cluster.workers)
        self.rows_per_worker_ = list(cluster.rows)
        #: per round: bytes of weights and moments sent to one worker, and received from it
        self.bytes_per_round_ = list(zip(cluster.bytes_sent, cluster.bytes_received))

    # ---- results ----------------------------------------------------------------------------
    def to_local(self):
        """The fitted network as the local estimator (:class:`fastbp.MLPClassifier` or
        :class:`fastbp.MLPRegressor`), with its optimizer's state: ``fastbp.save`` writes it.

        Returns
        -------
        MLPClassifier or MLPRegressor
            A copy; changing it leaves this estimator alone.
        """
        check_is_fitted(self)
        return copy.deepcopy(self._local)

    def predict(self, X):
        """Predictions on the workers, lazily.

        Parameters
        ----------
        X : dask.array.Array or dask.dataframe.DataFrame of shape (n_samples, n_features)

        Returns
        -------
        dask.array.Array of shape (n_samples,) or (n_samples, n_outputs)
        """
        check_is_fitted(self)
        return predict.blocks(self._local, X, "predict")

    def _score_inputs(self, X, y, sample_weight):
        check_is_fitted(self)
        X = inputs.as_array(X, "X", (2,))
        y = inputs.aligned(X, self._targets(y), "y")
        if sample_weight is not None:
            sample_weight = inputs.aligned(
                X, inputs.as_array(sample_weight, "sample_weight", (1,)), "sample_weight")
        return self.predict(X), y, sample_weight


def dask_constraints(local_class):
    """The local estimator's parameter constraints plus the Dask estimators' own."""
    return {**local_class._parameter_constraints,
            "client": "no_validation",
            "sync_every": [None, Interval(numbers.Integral, 1, None, closed="left")],
            "timeout": [Interval(numbers.Real, 0, None, closed="neither")]}

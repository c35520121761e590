"""What the Dask estimators share: parameters, the fit on the workers, prediction."""

import copy
import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, _fit_context, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ..errors import DivergenceError
from ..estimators import training
from ..estimators.base import NON_FINITE_WEIGHTS, effective_batch_size
from ..training.history import History
from . import inputs, predict
from .gradient_sync import Replicas
from .rounds import AveragedEpochs, Cluster, initial_state, timed
from .waiting import WorkerLostError
from .worker import Holdout

#: Parameters of the Dask estimators that the local ones do not have.
DASK_PARAMETERS = ("client", "sync", "sync_every", "timeout")
#: Fitted attributes of what a fit's synchronisation moved; each mode sets its own, the others None.
TRAFFIC = ("steps_per_epoch_", "bytes_per_epoch_", "sync_seconds_", "bytes_per_round_",
           "n_evaluations_")
#: Fitted attributes copied from the local estimator after a fit.
FITTED = ("coefs_", "intercepts_", "n_features_in_", "feature_names_in_", "n_outputs_",
          "n_layers_", "out_activation_", "n_iter_", "t_", "loss_", "loss_curve_", "best_loss_",
          "classes_", "validation_scores_", "validation_loss_curve_", "best_validation_score_")

DASK_PARAMETERS_DOC = """
    client : distributed.Client or None, default=None
        The cluster to train on; None takes the current client (``distributed.default_client``).
    sync : {'gradient', 'average'}, default='gradient'
        'gradient' sums the gradient over the workers at every optimizer step, so the fit takes
        the steps a local fit takes, on global batches of ``batch_size`` rows, and reaches its
        accuracy. 'average' lets each worker train on its own rows for ``sync_every``
        mini-batches and averages the workers' weights: fewer, larger messages, but each worker
        takes 1/N of the steps, and the model trails the local one more the more workers train.
    sync_every : int or None, default=None
        With ``sync='average'``: mini-batches each worker trains between two averages; None
        averages once per epoch.
    timeout : float, default=600
        Seconds any one wait of a fit may last (loading the rows, a round of training, a worker's
        thread); a lost worker is reported within about a second of the scheduler noticing it,
        whatever this is.
"""

DASK_ATTRIBUTES_DOC = """    validation_scores_, validation_loss_curve_, best_validation_score_
        With ``early_stopping`` or ``validation``: per epoch, the score and loss on the rows
        every worker holds out; else None.
    workers_ : list of str
        The workers that trained, in the order of their first partition.
    rows_per_worker_ : list of int
        Training rows on each (held-out rows excluded).
    epoch_seconds_ : list of float or None
        Wall-clock seconds of each epoch (None for lbfgs).
    steps_per_epoch_ : int or None
        ``sync='gradient'``: optimizer steps per epoch, each one all-reduce.
    bytes_per_epoch_ : list of list of int or None
        ``sync='gradient'``: per epoch, the bytes each worker sent to its ring neighbour.
    sync_seconds_ : list of list of float or None
        ``sync='gradient'``: per epoch, the seconds each worker spent in the all-reduce,
        waiting for the others included.
    bytes_per_round_ : list of (int, int) or None
        ``sync='average'``: per round, the bytes of weights and moments sent to each worker and
        received from it.
    n_evaluations_ : int or None
        ``solver='lbfgs'``: evaluations of the loss and gradient, one task per worker each.
"""

DASK_NOTES = """
    With ``sync='gradient'`` (the default) every worker keeps a replica of the network and takes
    every optimizer step of the fit: each step's global batch of ``batch_size`` rows is cut across
    the workers in proportion to the rows they hold, each computes the gradient of its part, and
    the workers sum the gradients among themselves (a ring all-reduce over direct TCP connections
    between them, not through the scheduler) before applying the same update. The fit therefore
    takes a local fit's steps on batches of a local fit's size, and reaches its accuracy at the
    same ``max_iter``; per step, each worker sends ``2 (N - 1) / N`` times the parameter vector.
    The client starts each epoch (one task per worker) and reads its loss, its validation score
    and, from one worker, the weights. ``early_stopping`` and ``validation`` hold out
    ``validation_fraction`` of each worker's rows, scored where they lie.

    With ``sync='average'`` each worker trains on its own rows, from the same weights, for
    ``sync_every`` mini-batches; the client then averages the workers' weights and optimizer
    moments, weighted by the rows each trained on, and sends the average back. With one worker
    the weights are bitwise those of the local estimator on the same rows in the same order. With
    several, each worker takes 1/N of a local fit's steps per epoch, and the model trails.

    ``solver='lbfgs'`` runs scipy's L-BFGS-B on the client, on the loss and gradient the workers
    compute over all their rows at each evaluation (one task per worker per evaluation).

    In every mode the same seed and the same placement of the partitions on the workers give the
    same weights.

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
        if self.sync == "average" and self.solver != "lbfgs":
            for name in ("early_stopping", "validation"):
                if getattr(self, name):
                    raise ValueError(f"{name}=True needs sync='gradient' (the workers' averaged "
                                     f"weights are not scored); got sync='average'")
        elif self.sync_every is not None and self.solver != "lbfgs":
            raise ValueError(f"sync_every={self.sync_every} applies to sync='average' (the "
                             f"gradient is summed at every step with sync='{self.sync}')")
        if self.solver == "lbfgs" and self.dropout:
            raise ValueError(f"dropout={self.dropout} needs a stochastic solver ('sgd' or "
                             f"'adam'); solver='lbfgs' minimises the deterministic loss")

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
            training.initialize(local, X.shape[1], n_outputs, dtype, random_state)
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
            Weight of each sample in the loss, aligned with ``X`` as ``y`` is; None weighs every
            sample 1.

        Returns
        -------
        self
            The fitted estimator.
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
        cluster = Cluster(client, by_worker, worker_copy, self.timeout,
                          self._holdouts(len(by_worker), random_state,
                                         is_classifier(self) and y.ndim == 1))
        try:
            if self.solver == "lbfgs":
                self._fit_lbfgs(cluster, local)
            else:
                self._train(cluster, local, random_state)
        finally:
            cluster.close()
        return self

    def _fit_lbfgs(self, cluster, local):
        """Full-batch L-BFGS: the workers' loss and gradient sums, the step on the client."""
        from .lbfgs import fit_lbfgs

        evaluations = fit_lbfgs(cluster, local, self)
        self._adopt(local, cluster)
        self.epoch_seconds_ = None  # no epochs: L-BFGS iterates over the whole data set
        self._record_traffic({"n_evaluations_": evaluations})

    def _holdouts(self, n_workers, random_state, stratify):
        """Each worker's validation hold-out (None for none): ``validation_fraction`` of its
        rows, by ``train_test_split`` with a seed of its own, stratified by class where
        ``stratify`` (one label per row) as scikit-learn's hold-out is."""
        if self.solver == "lbfgs" or not (self.early_stopping or self.validation):
            return None
        seeds = random_state.randint(np.iinfo(np.int32).max, size=n_workers)
        return [Holdout(self.validation_fraction, int(seed), stratify) for seed in seeds]

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
        # a new optimizer and schedule per fit, the stopping rule reset: scikit-learn's rules
        optimizer, schedule, stopping, _ = training.start_stochastic_fit(local)
        model = training.network(local)
        plan = self._plan(local, cluster, random_state)
        cluster.publish(initial_state(model, optimizer))
        if self.sync == "gradient":
            if self.backend == "cuda" and len(cluster.workers) > 1:
                raise ValueError("sync='gradient' sums the gradients of several workers on the "
                                 "host backends ('cpu', 'numpy'); with backend='cuda' use "
                                 "sync='average' (or one worker)")
            epochs = Replicas(cluster, plan, model.network.loss)
        else:
            epochs = AveragedEpochs(cluster, plan)
        history = History("accuracy" if hasattr(local, "classes_") else "r2")
        n, samples_before = sum(cluster.rows), model.samples_seen
        self.epoch_seconds_ = []
        best = None
        try:
            for epoch in range(self.max_iter):
                lr = float(schedule.lr(epoch, optimizer.lr, samples_before + n * epoch))
                (loss, validation), seconds = timed(epochs.run, epoch, lr)
                if not np.isfinite(loss):
                    raise DivergenceError(f"the mean loss of epoch {epoch + 1} was {loss}")
                logs = {"epoch": epoch, "loss": loss, "lr": lr, "time": seconds}
                if validation is not None:
                    logs["val_loss"], logs["val_metric"] = validation
                    history.val_loss.append(validation[0])
                    history.val_metric.append(validation[1])
                history.lr.append(lr)
                history.time.append(seconds)
                history.loss.append(loss)
                self.epoch_seconds_.append(seconds)
                schedule.update(epoch, logs)
                improved, stop = stopping.update(epoch, logs)
                if improved and stopping.restore_best_weights:
                    best = cluster.synced.theta
                    history.best_epoch = epoch
                if stop:
                    history.stopped_early = True
                    break
        except DivergenceError as error:
            self._keep(local, cluster, history, (n, best))
            raise DivergenceError(f"{NON_FINITE_WEIGHTS} ({error})") from error
        except (WorkerLostError, TimeoutError) as error:
            self._keep(local, cluster, history, (n, best))
            kept = (f"{error}; the estimator keeps the weights synchronised after the last round "
                    f"completed ({history.epochs} whole epochs): fit again with warm_start=True "
                    f"to continue from them")
            if isinstance(error, WorkerLostError):
                raise WorkerLostError(f"{kept} on the workers that remain",
                                      error.workers) from error
            raise TimeoutError(kept) from error
        finally:
            self._record_traffic(epochs.traffic())
            epochs.close()
        self._keep(local, cluster, history, (n, best))
        if not history.stopped_early and history.epochs == self.max_iter:
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached "
                          f"and the optimization hasn't converged yet.", ConvergenceWarning,
                          stacklevel=3)

    def _record_traffic(self, figures):
        """What the fit's synchronisation moved: the attributes of :data:`TRAFFIC` that
        ``figures`` names, the others None (see the Attributes of the estimators)."""
        for name in TRAFFIC:
            setattr(self, name, figures.get(name))

    def _keep(self, local, cluster, history, kept):
        """Make the last synchronised state the estimator's, with the epochs completed;
        ``kept = (rows, best)``: ``best`` the early-stopping weights to end with, or None."""
        n, best = kept
        model, optimizer = training.network(local), training.training_state(local).optimizer
        model.set_parameters(cluster.synced.theta if best is None else best)
        model.samples_seen += n * history.epochs
        moments = cluster.synced.moments or (np.zeros_like(model.parameters),)
        optimizer.set_state(moments, int(cluster.synced.steps))
        training.record_history(local, history, n, bool(history.val_loss))
        self._adopt(local, cluster)

    def _adopt(self, local, cluster):
        """Make ``local`` (trained) this estimator's network, and copy its fitted attributes."""
        self._local = local
        for name in FITTED:
            if hasattr(local, name):
                setattr(self, name, getattr(local, name))
            else:
                self.__dict__.pop(name, None)
        self.workers_ = list(cluster.workers)
        self.rows_per_worker_ = list(cluster.rows)

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
            The samples, partitioned by rows; each partition is predicted where it lies.

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
            "sync": [StrOptions({"gradient", "average"})],
            "sync_every": [None, Interval(numbers.Integral, 1, None, closed="left")],
            "timeout": [Interval(numbers.Real, 0, None, closed="neither")]}

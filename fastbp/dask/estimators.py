"""``DaskMLPClassifier`` and ``DaskMLPRegressor``: the local estimators trained data-parallel on a
Dask cluster, their rows left on the workers."""

import copy
import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from ..errors import DivergenceError
from ..estimators import MLPClassifier, MLPRegressor
from ..estimators.base import NON_FINITE_WEIGHTS, PARAMETERS_DOC, store_parameters
from ..training.history import History
from . import inputs, predict
from .rounds import Cluster, Epochs, initial_state, timed
from .waiting import WorkerLostError, results

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
        if self.batch_size == "auto":
            batch_size = min(200, n)
        else:
            if self.batch_size > n:
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is "
                              "going to be clipped", UserWarning, stacklevel=4)
            batch_size = min(self.batch_size, n)
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
        n, samples_before = sum(cluster.rows), model._samples_seen
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
        model._set_parameters(cluster.synced.theta)
        model._samples_seen += n * history.epochs
        state = [np.zeros_like(model._theta), np.zeros_like(model._theta)]
        for i, moment in enumerate(cluster.synced.moments):
            state[i][...] = moment
        optimizer._state, optimizer.steps = tuple(state), cluster.synced.steps
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


class DaskMLPClassifier(ClassifierMixin, DaskMLP):
    __doc__ = f"""Multi-layer perceptron classifier trained data-parallel on a Dask cluster.

    The parameters of :class:`fastbp.MLPClassifier`, plus those of the cluster. ``fit`` takes
    Dask arrays or DataFrames partitioned by rows and leaves the rows on the workers;
    ``predict``, ``predict_proba`` and ``score`` run on the workers and return Dask arrays.
    ``to_local()`` gives the fitted :class:`fastbp.MLPClassifier`.

    Parameters
    ----------{PARAMETERS_DOC}
    class_weight : dict, 'balanced' or None, default=None
        'balanced' is computed from the class counts of all of ``y``.
{DASK_PARAMETERS_DOC}
    Attributes
    ----------
    classes_, coefs_, intercepts_, loss_, loss_curve_, best_loss_, n_iter_, t_,
    n_features_in_, feature_names_in_, n_layers_, n_outputs_, out_activation_
        As :class:`fastbp.MLPClassifier`'s.
    workers_ : list of str
        The workers that trained, in the order of their first partition.
    rows_per_worker_ : list of int
    bytes_per_round_ : list of (int, int)
        Per round, the bytes of weights and moments sent to each worker and received from it.
    epoch_seconds_ : list of float
        Wall-clock seconds of each epoch.

    Notes
    -----{DASK_NOTES}
    ``y`` must hold one label per row (binary or multiclass); multilabel targets are refused.
    """

    _local_class = MLPClassifier
    _parameter_constraints: dict = {
        **MLPClassifier._parameter_constraints,
        "client": "no_validation",
        "sync_every": [None, Interval(numbers.Integral, 1, None, closed="left")],
        "timeout": [Interval(numbers.Real, 0, None, closed="neither")],
    }

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 dtype=None, backend="cpu", dropout=0.0, validation=False, class_weight=None,
                 client=None, sync_every=None, timeout=600.0):
        store_parameters(self, locals())

    def _targets(self, y):
        y = inputs.as_array(y, "y", (1, 2))
        if y.ndim == 2:
            if y.shape[1] != 1:
                raise ValueError(f"{type(self).__name__} takes one label per row; got y of "
                                 f"shape {y.shape} (multilabel targets: use MLPClassifier)")
            y = y[:, 0]
        return y

    def _learn_targets(self, client, local, y):
        import dask.array as da

        unique = client.compute(list(da.unique(y, return_counts=True)))
        classes, counts = results(client, unique, list(client.nthreads()), self.timeout,
                                  "finding the classes")
        if hasattr(local, "classes_") and not np.array_equal(classes, local.classes_):
            raise ValueError(f"warm_start can only be used where `y` has the same classes as "
                             f"in the previous call to fit. Previously got {local.classes_}, "
                             f"`y` has {classes}")
        local._label_binarizer = LabelBinarizer().fit(classes)
        local.classes_ = local._label_binarizer.classes_
        if self.class_weight == "balanced":
            # scikit-learn's 'balanced' weights, from the counts of every row
            weights = counts.sum() / (len(classes) * counts.astype(np.float64))
            local.class_weight = dict(zip(classes.tolist(), weights.tolist()))
        return local._label_binarizer.transform(classes[:1]).shape[1]

    def _keep(self, local, cluster, history, n):
        local.class_weight = self.class_weight  # 'balanced' was turned into a dict for the shards
        super()._keep(local, cluster, history, n)

    def predict_proba(self, X):
        """Class probabilities on the workers, lazily, columns in the order of ``classes_``.

        Parameters
        ----------
        X : dask.array.Array or dask.dataframe.DataFrame of shape (n_samples, n_features)

        Returns
        -------
        dask.array.Array of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        return predict.blocks(self._local, X, "predict_proba")

    def score(self, X, y, sample_weight=None):
        """Mean accuracy, computed on the workers.

        Parameters
        ----------
        X : dask.array.Array or dask.dataframe.DataFrame of shape (n_samples, n_features)
        y : dask.array.Array or dask.dataframe.Series of shape (n_samples,)
        sample_weight : dask.array.Array of shape (n_samples,), optional

        Returns
        -------
        dask.array.Array of shape ()
            ``.compute()`` gives the float.
        """
        return predict.accuracy(*self._score_inputs(X, y, sample_weight))


class DaskMLPRegressor(RegressorMixin, DaskMLP):
    __doc__ = f"""Multi-layer perceptron regressor trained data-parallel on a Dask cluster.

    The parameters of :class:`fastbp.MLPRegressor`, plus those of the cluster; see
    :class:`DaskMLPClassifier` for the rest.

    Parameters
    ----------
    loss : {{'squared_error', 'poisson'}}, default='squared_error'{PARAMETERS_DOC}
{DASK_PARAMETERS_DOC}
    Attributes
    ----------
    coefs_, intercepts_, loss_, loss_curve_, best_loss_, n_iter_, t_, n_features_in_,
    feature_names_in_, n_layers_, n_outputs_, out_activation_
        As :class:`fastbp.MLPRegressor`'s.
    workers_, rows_per_worker_, bytes_per_round_, epoch_seconds_
        As :class:`DaskMLPClassifier`'s.

    Notes
    -----{DASK_NOTES}"""

    _local_class = MLPRegressor
    _parameter_constraints: dict = {
        **MLPRegressor._parameter_constraints,
        "client": "no_validation",
        "sync_every": [None, Interval(numbers.Integral, 1, None, closed="left")],
        "timeout": [Interval(numbers.Real, 0, None, closed="neither")],
    }

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *,
                 solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 dtype=None, backend="cpu", dropout=0.0, validation=False, client=None,
                 sync_every=None, timeout=600.0):
        store_parameters(self, locals())

    def _targets(self, y):
        return inputs.as_array(y, "y", (1, 2))

    def _learn_targets(self, client, local, y):
        return 1 if y.ndim == 1 else y.shape[1]

    def score(self, X, y, sample_weight=None):
        """R^2 (averaged over outputs), computed on the workers.

        Parameters
        ----------
        X : dask.array.Array or dask.dataframe.DataFrame of shape (n_samples, n_features)
        y : dask.array.Array of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : dask.array.Array of shape (n_samples,), optional

        Returns
        -------
        dask.array.Array of shape ()
        """
        return predict.r2(*self._score_inputs(X, y, sample_weight))

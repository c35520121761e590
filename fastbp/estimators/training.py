"""The public contract for an estimator's training state.

:class:`~fastbp.MLPClassifier` and :class:`~fastbp.MLPRegressor` keep what a stochastic fit carries
from one call to the next (the optimizer, scikit-learn's learning-rate schedule and stopping rule,
the early-stopping snapshot, a classifier's label binarizer) in private attributes. Code outside
:mod:`fastbp.estimators` (the model files of :mod:`fastbp.io`, the Dask estimators of
:mod:`fastbp.dask`) reads and writes that state through the functions here, and only through them,
so that a change to the estimators' internals has this one module to follow it.

The functions take the estimator first and change it in place where they change anything. They do
not copy what they hand out: the objects in a :class:`TrainingState` are the estimator's own, and
training with them trains the estimator's state (which is what a caller that drives the epochs
itself, as :mod:`fastbp.dask` does, needs).

Examples
--------
A stochastic fit's state, set up as ``fit`` sets it up, before any epoch:

>>> import numpy as np
>>> from fastbp import MLPClassifier
>>> from fastbp.estimators import training
>>> clf = MLPClassifier(hidden_layer_sizes=(8,), solver="sgd")
>>> data = training.validate_training_data(clf, np.eye(3), [0, 1, 2], incremental=False,
...                                        reset=True)
>>> training.initialize(clf, 3, data.Y.shape[1], data.X.dtype, np.random.RandomState(0))
>>> state = training.start_stochastic_fit(clf)
>>> state.optimizer, state.schedule.kind
(SGD(lr=0.001, momentum=0.9, nesterov=True), 'constant')
"""

import copy
from typing import NamedTuple, Optional

import numpy as np
from sklearn.base import is_classifier
from sklearn.exceptions import NotFittedError

from ..training.optimizers import Optimizer
from . import rules

__all__ = ["TrainingData", "TrainingState", "check_settings", "initialize", "label_binarizer",
           "network", "new_optimizer", "record_history", "restore_training_state",
           "set_label_binarizer", "start_stochastic_fit", "training_state", "validate_params",
           "validate_training_data"]

# The estimator attributes behind TrainingState's fields, in the same order.
_ATTRIBUTES = ("_optimizer", "_schedule", "_stopping", "_best_parameters")


class TrainingState(NamedTuple):
    """What a stochastic estimator carries from one training call to the next.

    Not to be confused with :class:`fastbp.kernels.records.TrainingState`, the device buffers of
    one ``Sequential.fit`` call.

    Attributes
    ----------
    optimizer : fastbp.SGD, fastbp.Adam or None
        The optimizer ``partial_fit`` continues with (None before the first stochastic fit, and
        for ``solver='lbfgs'``).
    schedule : fastbp.estimators.rules.SklearnSchedule or None
        scikit-learn's ``learning_rate`` rule; it goes with the optimizer (a fresh optimizer gets
        a fresh schedule).
    stopping : fastbp.estimators.rules.SklearnStopping or None
        scikit-learn's ``n_iter_no_change``/``tol`` rule, with its best figure and no-improvement
        count (None for ``solver='lbfgs'``).
    best_parameters : ndarray of shape (n_params,) or None
        With ``early_stopping``: the flat parameters of the best epoch so far, which a later
        warm-start fit that never beats it goes back to.
    """

    optimizer: Optional[Optimizer]
    schedule: Optional[rules.SklearnSchedule]
    stopping: Optional[rules.SklearnStopping]
    best_parameters: Optional[np.ndarray]


class TrainingData(NamedTuple):
    """Training data checked and encoded as the estimator's ``fit`` trains on it.

    Attributes
    ----------
    X : ndarray of shape (n_samples, n_features)
        Dense, in the network's dtype.
    Y : ndarray of shape (n_samples, n_outputs)
        The encoded targets (a classifier's label indicator columns), in the network's dtype.
    sample_weight : ndarray of shape (n_samples,) or None
        Per-sample weights, ``class_weight`` multiplied in.
    stratify : ndarray or None
        The labels a validation split is stratified by (a classifier's binary targets), or None.
    """

    X: np.ndarray
    Y: np.ndarray
    sample_weight: Optional[np.ndarray]
    stratify: Optional[np.ndarray]


# ---- the state ----------------------------------------------------------------------------------
def training_state(estimator):
    """The estimator's training state (its own objects, not copies).

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor

    Returns
    -------
    TrainingState
        Each field None where the estimator has none.

    Examples
    --------
    >>> from fastbp import MLPClassifier
    >>> from fastbp.estimators.training import training_state
    >>> training_state(MLPClassifier())
    TrainingState(optimizer=None, schedule=None, stopping=None, best_parameters=None)
    """
    found = vars(estimator)
    return TrainingState(*(found.get(name) for name in _ATTRIBUTES))


def restore_training_state(estimator, state):
    """Make ``state`` the estimator's training state: a field that is None removes that part.

    The objects are taken over as they are (``best_parameters`` is copied); linking the stopping
    rule to the schedule is left to the next fit, which does it (:func:`start_stochastic_fit`).
    The network is not touched: bind it afterwards with :func:`network` where needed.

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
    state : TrainingState

    Raises
    ------
    TypeError
        For a field of the wrong type, or ``best_parameters`` that is not a vector.

    Examples
    --------
    >>> from fastbp import Adam, MLPRegressor
    >>> from fastbp.estimators import training
    >>> est = MLPRegressor()
    >>> training.restore_training_state(est, training.TrainingState(Adam(), None, None, None))
    >>> training.training_state(est).optimizer
    Adam(lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-08)
    """
    state = TrainingState(*state)
    expected = (Optimizer, rules.SklearnSchedule, rules.SklearnStopping)
    for field, value, kind in zip(TrainingState._fields, state, expected):
        if value is not None and not isinstance(value, kind):
            raise TypeError(f"{field} must be a {kind.__name__} or None; got {value!r}"[:300])
    best = state.best_parameters
    if best is not None:
        best = np.array(best)
        if best.ndim != 1:
            raise TypeError(f"best_parameters must be a vector of shape (n_params,); got "
                            f"shape {best.shape}")
    for name, value in zip(_ATTRIBUTES, state._replace(best_parameters=best)):
        if value is None:
            estimator.__dict__.pop(name, None)
        else:
            setattr(estimator, name, value)


def start_stochastic_fit(estimator, *, keep_optimizer=False):
    """Set the estimator up for a stochastic fit, as its own ``fit`` and ``partial_fit`` do.

    A new optimizer and learning-rate schedule (scikit-learn's rule: a new optimizer per ``fit``;
    Adam runs at a constant base rate whatever ``learning_rate`` says), unless ``keep_optimizer``
    and the estimator has one (``partial_fit`` keeps its state). The stopping rule, which keeps
    its best figure and count across calls, is linked to the schedule, told ``verbose`` and reset
    for the new call; it is replaced by a copy rather than changed in place, so a call refused
    after this leaves the estimator's state as it was.

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
        Initialised for a stochastic solver (by a fit, or :func:`initialize`).
    keep_optimizer : bool, default=False
        Continue with the current optimizer and schedule when there are both.

    Returns
    -------
    TrainingState
        The state the fit trains with.

    Raises
    ------
    ValueError
        When the estimator has no stopping rule: it was initialised for ``solver='lbfgs'``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastbp import MLPRegressor
    >>> from fastbp.estimators import training
    >>> est = MLPRegressor(hidden_layer_sizes=(4,), solver="sgd", learning_rate="invscaling")
    >>> training.initialize(est, 3, 1, np.float64, np.random.RandomState(0))
    >>> state = training.start_stochastic_fit(est)
    >>> state.schedule.kind, state.stopping.schedule is state.schedule
    ('invscaling', True)
    """
    current = training_state(estimator)
    optimizer, schedule = current.optimizer, current.schedule
    if not keep_optimizer or optimizer is None or schedule is None:
        optimizer = estimator._new_optimizer()
        # scikit-learn applies learning_rate to SGD only; Adam runs at a constant base rate
        kind = estimator.learning_rate if estimator.solver == "sgd" else "constant"
        schedule = rules.SklearnSchedule(kind, estimator.power_t)
    stopping = current.stopping
    if stopping is None:
        raise ValueError(f"this {type(estimator).__name__} was initialised for solver='lbfgs', "
                         f"which keeps no stopping rule: fit it afresh (warm_start=False) to "
                         f"train with solver={estimator.solver!r}")
    stopping = copy.copy(stopping)
    stopping.schedule = schedule
    stopping.verbose = bool(estimator.verbose)
    stopping.reset()
    state = TrainingState(optimizer, schedule, stopping, current.best_parameters)
    estimator._optimizer, estimator._schedule, estimator._stopping = state[:3]
    return state


# ---- fitting steps ------------------------------------------------------------------------------
def initialize(estimator, n_features, n_outputs, dtype, random_state):
    """Fresh fitted state for a first fit, as scikit-learn's ``_initialize``.

    Sets ``n_features_in_``, ``n_iter_``, ``t_``, ``n_outputs_``, ``n_layers_`` and
    ``out_activation_``, a new network drawn from ``random_state`` exactly as the estimator's
    ``fit`` draws it (``coefs_`` and ``intercepts_`` are its arrays), forgets the optimizer,
    schedule and early-stopping snapshot and, for a stochastic solver, makes the stopping rule
    and empty loss curves. ``feature_names_in_`` is left as it is. A classifier needs its label
    binarizer first (:func:`set_label_binarizer`), to choose its output layer.

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
    n_features, n_outputs : int
        Widths of the input and of the output layer.
    dtype : {numpy.float32, numpy.float64}
        The network's dtype.
    random_state : numpy.random.RandomState
        Consumed as ``fit`` consumes it (draw the shuffling seed from it afterwards).

    Examples
    --------
    >>> import numpy as np
    >>> from fastbp import MLPRegressor
    >>> from fastbp.estimators import training
    >>> est = MLPRegressor(hidden_layer_sizes=(5,))
    >>> training.initialize(est, 3, 2, np.float32, np.random.RandomState(0))
    >>> [W.shape for W in est.coefs_], est.coefs_[0].dtype
    ([(3, 5), (5, 2)], dtype('float32'))
    """
    # fit learns the width while checking X; set here, the network it binds is complete
    estimator.n_features_in_ = int(n_features)
    estimator._initialize(n_features, n_outputs, dtype, random_state)


def network(estimator):
    """The :class:`fastbp.Sequential` holding the estimator's ``coefs_`` and ``intercepts_``.

    Rebuilt from them (and bound, so they become views of it again) when they were replaced, after
    unpickling, or after ``backend``, ``activation`` or ``dropout`` changed; otherwise the same
    object every call. Training it trains the estimator.

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor

    Returns
    -------
    fastbp.Sequential

    Raises
    ------
    sklearn.exceptions.NotFittedError
        Before the first fit (or :func:`initialize`).
    ValueError
        When ``coefs_``/``intercepts_`` no longer have the fitted network's shapes.

    Examples
    --------
    >>> import numpy as np
    >>> from fastbp import MLPRegressor
    >>> from fastbp.estimators import training
    >>> est = MLPRegressor(hidden_layer_sizes=(5,))
    >>> training.initialize(est, 3, 1, np.float64, np.random.RandomState(0))
    >>> model = training.network(est)
    >>> model.layers[0].W is est.coefs_[0], model.n_params
    (True, 26)
    """
    if "coefs_" not in vars(estimator):
        raise NotFittedError(f"this {type(estimator).__name__} has no network yet: fit it first")
    return estimator._network()


def new_optimizer(estimator):
    """A fresh optimizer with the estimator's ``solver`` and its settings (``learning_rate_init``,
    ``momentum``, ``nesterovs_momentum``, ``beta_1``, ``beta_2``, ``epsilon``).

    The estimator is not changed (:func:`start_stochastic_fit` installs one).

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
        With ``solver`` 'sgd' or 'adam'.

    Returns
    -------
    fastbp.SGD or fastbp.Adam

    Examples
    --------
    >>> from fastbp import MLPRegressor
    >>> from fastbp.estimators.training import new_optimizer
    >>> new_optimizer(MLPRegressor(solver="sgd", learning_rate_init=0.1))
    SGD(lr=0.1, momentum=0.9, nesterov=True)
    """
    return estimator._new_optimizer()


def record_history(estimator, history, n_samples, validated):
    """Copy one training call's :class:`fastbp.History` into the estimator's fitted attributes.

    ``n_iter_``, ``t_`` (advanced by ``n_samples`` per epoch), ``loss_``, ``loss_curve_``,
    ``best_loss_`` (from the stopping rule), the validation figures when ``validated``, and with
    ``early_stopping`` the best-epoch snapshot (going back to an earlier fit's best weights when
    this call never beat them), as the estimator's own ``fit`` records them.

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
        After :func:`start_stochastic_fit`; its network holds the trained weights.
    history : fastbp.History
        What the call trained: the epochs and their losses (and validation figures).
    n_samples : int
        Training samples per epoch.
    validated : bool
        Whether ``history`` holds validation figures to record.
    """
    estimator._record(history, n_samples, validated)


def validate_training_data(estimator, X, y, sample_weight=None, *, incremental, reset):
    """Check and encode training data exactly as the estimator's ``fit``/``partial_fit`` do.

    A classifier learns its classes (and label binarizer) when a fit starts afresh, and otherwise
    checks ``y``'s classes against them; ``class_weight`` is multiplied into the weights.

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
    sample_weight : array-like of shape (n_samples,), default=None
    incremental : bool
        Check as ``partial_fit`` does (True) or as ``fit`` does (False).
    reset : bool
        Learn the features (and the classes) afresh, as a first fit does; False checks ``X``
        against the fitted features and converts it to the fitted dtype.

    Returns
    -------
    TrainingData

    Examples
    --------
    >>> import numpy as np
    >>> from fastbp import MLPClassifier
    >>> from fastbp.estimators.training import validate_training_data
    >>> data = validate_training_data(MLPClassifier(), np.zeros((4, 2)), ["a", "b", "c", "a"],
    ...                               incremental=False, reset=True)
    >>> data.Y.shape, data.sample_weight
    ((4, 3), None)
    """
    return TrainingData(*estimator._validate_training_data(X, y, sample_weight, incremental,
                                                           reset))


def validate_params(estimator):
    """Check the estimator's parameters against its constraints, as ``fit`` does first.

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor

    Raises
    ------
    sklearn.utils._param_validation.InvalidParameterError
        A ``ValueError`` and ``TypeError`` naming the parameter.

    Examples
    --------
    >>> from fastbp import MLPRegressor
    >>> from fastbp.estimators.training import validate_params
    >>> validate_params(MLPRegressor(alpha=-1))
    Traceback (most recent call last):
    ...
    sklearn.utils._param_validation.InvalidParameterError: The 'alpha' parameter of ...
    """
    estimator._validate_params()


def check_settings(estimator, *, incremental=False):
    """Refuse the settings that no data can make valid, as ``fit`` does before changing anything.

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
    incremental : bool, default=False
        Check for ``partial_fit`` (which refuses ``early_stopping``) rather than ``fit``.

    Raises
    ------
    ValueError
        For ``dropout`` with ``solver='lbfgs'``, or ``early_stopping`` with ``incremental``.

    Examples
    --------
    >>> from fastbp import MLPRegressor
    >>> from fastbp.estimators.training import check_settings
    >>> check_settings(MLPRegressor(solver="lbfgs", dropout=0.5))
    Traceback (most recent call last):
    ...
    ValueError: dropout=0.5 needs a stochastic solver ('sgd' or 'adam'); ...
    """
    estimator._check_settings(incremental)


# ---- classifiers --------------------------------------------------------------------------------
def _check_classifier(estimator):
    if not is_classifier(estimator):
        raise TypeError(f"a label binarizer belongs to a classifier; got a "
                        f"{type(estimator).__name__}")


def label_binarizer(estimator):
    """The classifier's fitted :class:`sklearn.preprocessing.LabelBinarizer` (its own object).

    It encodes labels as the network's target columns, and its ``y_type_`` ('binary',
    'multiclass' or 'multilabel-indicator') chooses the output layer and decodes predictions.

    Parameters
    ----------
    estimator : MLPClassifier

    Returns
    -------
    sklearn.preprocessing.LabelBinarizer

    Raises
    ------
    TypeError
        For an estimator that is not a classifier.
    sklearn.exceptions.NotFittedError
        Before the classes are learned.

    Examples
    --------
    >>> import numpy as np
    >>> from fastbp import MLPClassifier
    >>> from fastbp.estimators.training import label_binarizer, validate_training_data
    >>> clf = MLPClassifier()
    >>> _ = validate_training_data(clf, np.zeros((3, 2)), [0, 1, 1], incremental=False,
    ...                            reset=True)
    >>> label_binarizer(clf).y_type_
    'binary'
    """
    _check_classifier(estimator)
    binarizer = vars(estimator).get("_label_binarizer")
    if binarizer is None:
        raise NotFittedError(f"this {type(estimator).__name__} has not learned its classes yet")
    return binarizer


def set_label_binarizer(estimator, binarizer):
    """Give the classifier a fitted label binarizer; ``classes_`` becomes ``binarizer.classes_``.

    The two must agree (``classes_`` is what the classifier reports, the binarizer what it encodes
    and decodes with), hence one call for both. Call it before :func:`initialize`, which reads the
    target type to choose the output layer.

    Parameters
    ----------
    estimator : MLPClassifier
    binarizer : sklearn.preprocessing.LabelBinarizer
        Fitted: ``classes_``, ``y_type_`` and ``sparse_input_`` set.

    Raises
    ------
    TypeError
        For an estimator that is not a classifier.

    Examples
    --------
    >>> from sklearn.preprocessing import LabelBinarizer
    >>> from fastbp import MLPClassifier
    >>> from fastbp.estimators.training import set_label_binarizer
    >>> clf = MLPClassifier()
    >>> set_label_binarizer(clf, LabelBinarizer().fit(["cat", "dog", "eel"]))
    >>> clf.classes_.tolist()
    ['cat', 'dog', 'eel']
    """
    _check_classifier(estimator)
    estimator._label_binarizer = binarizer
    estimator.classes_ = binarizer.classes_

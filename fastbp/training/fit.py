"""``fit``: every argument checked, then the epoch loop of :mod:`fastbp.training.loop`.

:func:`fit` checks its arguments and hands a :class:`TrainingPlan` to :func:`train`, the epoch loop;
code that checks its own data and drives the epochs itself (the Dask estimators' workers) calls
:func:`train` directly, and :func:`weighted_batch_runs` to count the samples a call trains on. The
data's preparation is :mod:`fastbp.training.data`, the metrics :mod:`fastbp.training.metrics`.
"""

from typing import NamedTuple, Optional

import numpy as np

from .. import schedules
from ..callbacks import Callback, check_callbacks
from ..kernels import codes
from ..kernels.records import Penalty
from ..model import check_targets, data_width
from ..validation import check_non_negative_float, check_positive_int, check_sample_weight, check_X
from . import optimizers
from .data import class_sample_weight, split_validation, weighted_batch_runs
from .loop import logged_names, train
from .metrics import check_metrics, metric_name, validation_metric
from .progress import check_verbose
from .stopping import EarlyStopping

__all__ = ["TrainingPlan", "check_metrics", "class_sample_weight", "fit", "metric_name", "train",
           "validation_metric", "weighted_batch_runs"]


def _check_arguments(epochs, alpha, l1, optimizer, schedule, early_stopping, shuffle, verbose):
    """Everything about ``fit``'s settings that can be checked without the data."""
    epochs = check_positive_int("epochs", epochs)
    alpha, l1 = check_non_negative_float("alpha", alpha), check_non_negative_float("l1", l1)
    opt = optimizers.resolve(optimizer)
    schedule = schedules.resolve(schedule)
    if early_stopping is True:
        early_stopping = EarlyStopping()
    if isinstance(early_stopping, Callback):
        raise TypeError(f"early_stopping= takes fastbp.EarlyStopping; {early_stopping!r} is a "
                        f"callback: pass it in callbacks=[...]")
    if early_stopping not in (None, False) and not isinstance(early_stopping, EarlyStopping):
        raise TypeError(f"early_stopping must be an EarlyStopping, True or None; got "
                        f"{early_stopping!r}")
    if not isinstance(shuffle, (bool, np.bool_)):
        raise TypeError(f"shuffle must be a bool; got {shuffle!r}")
    check_verbose(verbose)
    return epochs, alpha, l1, opt, schedule, early_stopping or None


def fit(model, X, y, *, epochs=1, batch_size=32, optimizer="adam", schedule=None, shuffle=True,
        seed=None, sample_weight=None, alpha=0.0, l1=0.0, validation_data=None,
        validation_split=0.0, early_stopping=None, verbose=0, callbacks=None, class_weight=None,
        metrics=None):
    """Train ``model`` in place; see :meth:`fastbp.Sequential.fit` for the parameters.

    Every argument is checked before anything changes: a call that raises ``ValueError`` or
    ``TypeError`` leaves the model (unbuilt, if it was), the optimizer, the schedule and the
    stopper as they were.
    """
    epochs, alpha, l1, opt, schedule, stopper = _check_arguments(
        epochs, alpha, l1, optimizer, schedule, early_stopping, shuffle, verbose)
    callbacks = check_callbacks(callbacks)
    loss_code = codes.LOSS_CODES[model.loss_name]
    train_metric = check_metrics(metrics, loss_code)
    X = check_X(X, model.n_inputs if model.built else data_width(X), model.dtype)
    Y = check_targets(y, X.shape[0], model.n_outputs, loss_code, model.dtype)
    sample_weight = class_sample_weight(class_weight, Y, loss_code, sample_weight)
    w = check_sample_weight(sample_weight, X.shape[0], model.dtype)
    X, Y, w, validation = split_validation(X, Y, w, validation_data, validation_split, model)
    _check_monitors(stopper, schedule, metric_name(loss_code), validation is not None,
                    train_metric)
    if sample_weight is not None and not np.any(w > 0):  # equal weights are positive
        raise ValueError("every training sample weight is zero (after the validation split and "
                         "the conversion to the model's dtype): no batch has anything to learn")
    n = X.shape[0]
    batch_size = n if batch_size is None else min(check_positive_int("batch_size", batch_size), n)
    plan = TrainingPlan(epochs, batch_size, opt, schedule, stopper, bool(shuffle),
                        Penalty(alpha, l1), verbose, callbacks, train_metric)
    model.build(X.shape[1])  # Keras's deferred build: only once everything is checked
    return train(model, (X, Y, w, validation), plan, np.random.default_rng(seed))


def _check_monitors(stopper, schedule, name, validated, train_metric):
    """Refuse a stopping rule or schedule that monitors a figure this fit will not log."""
    if stopper is not None:
        if stopper.needs_validation and not validated:
            raise ValueError(f"early stopping on {stopper.monitor!r} needs validation_data or "
                             f"validation_split")
        logged = logged_names(name, validated, train_metric) + (["val_metric"] if validated
                                                                  else [])
        if stopper.monitor not in logged:
            raise ValueError(f"early stopping on {stopper.monitor!r}, which this fit does not "
                             f"log; it logs {logged} (the training metric needs "
                             f"metrics=[{name!r}])")
    schedule.check_monitor(validated)


class TrainingPlan(NamedTuple):
    """How :func:`train` trains: the settings of a ``fit`` call, checked.

    Attributes
    ----------
    epochs : int
        Passes over the data (fewer when ``stopper`` stops early).
    batch_size : int
        At most the number of training samples.
    optimizer : fastbp.SGD or fastbp.Adam
        Its state (moments, steps) carries on from where it stopped and is updated in place.
    schedule : fastbp.Schedule
        Each epoch's learning rate; :func:`train` calls its ``reset`` first.
    stopper : fastbp.EarlyStopping or None
        Shown every epoch; :func:`train` calls its ``reset`` first.
    shuffle : bool
        Visit the samples in a new random order each epoch.
    penalty : fastbp.kernels.records.Penalty
        ``Penalty(alpha, l1)``, scaled per batch by the kernels.
    verbose : int
        0 silent, 1 a progress bar, 2 a line per epoch.
    callbacks : tuple of fastbp.Callback, default=()
        Called once per epoch, from Python between epochs.
    train_metric : bool, default=False
        Also record the metric on the training rows after each epoch (one forward pass).
    """
    epochs: int
    batch_size: int
    optimizer: optimizers.Optimizer
    schedule: schedules.Schedule
    stopper: Optional[EarlyStopping]
    shuffle: bool
    penalty: Penalty
    verbose: int
    callbacks: tuple = ()
    train_metric: bool = False

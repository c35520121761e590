"""The fit loop: validation, shuffling, schedules and stopping in Python; each epoch in the backend.

One call of the backend's ``train_epoch`` runs a whole epoch (batch gathering, forward, backward,
penalty, optimizer update); Python only sees the epoch's loss.

:func:`fit` checks its arguments and hands a :class:`TrainingPlan` to :func:`train`, the epoch loop;
code that checks its own data and drives the epochs itself (the Dask estimators' workers) calls
:func:`train` directly, and :func:`weighted_batch_runs` to count the samples a call trains on.
"""

import math
import numbers
import time
import warnings
from collections.abc import Mapping
from typing import NamedTuple, Optional

import numpy as np

from .. import schedules
from ..callbacks import Callback, check_callbacks
from ..errors import DivergenceError
from ..kernels import codes
from ..kernels.records import Batches, Penalty, TrainingState
from ..model import check_targets, data_width
from ..validation import (
    check_non_negative_float,
    check_positive_int,
    check_sample_weight,
    check_X,
)
from . import optimizers
from .history import History
from .progress import Progress, check_verbose
from .stopping import EarlyStopping

#: Log entries kept for the rules written against them (the estimators' stopping rule reads
#: ``val_metric``) but not shown to callbacks, which see the names of ``History.history``.
_INTERNAL_LOGS = ("epoch", "val_metric")
#: ``fit(metrics=...)`` names, by the metric each gives.
_METRIC_NAMES = {"accuracy": "accuracy", "acc": "accuracy", "r2": "r2"}


def validation_metric(loss_code, output, Y):
    """Accuracy for the cross-entropy losses (exact match for multilabel), R^2 otherwise.

    Parameters
    ----------
    output, Y : ndarray, shape (n, k)
    """
    if loss_code == codes.CROSS_ENTROPY:
        return float(np.mean(output.argmax(axis=1) == Y.argmax(axis=1)))
    if loss_code == codes.BINARY_CROSS_ENTROPY:
        return float(np.mean(np.all((output > 0.5) == (Y > 0.5), axis=1)))
    residual = ((Y - output) ** 2).sum(axis=0, dtype=np.float64)
    total = ((Y - Y.mean(axis=0)) ** 2).sum(axis=0, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(total > 0, 1 - residual / total, np.where(residual > 0, 0.0, 1.0))
    return float(r2.mean())


def metric_name(loss_code):
    """The metric of :func:`validation_metric` for a loss: ``"accuracy"`` or ``"r2"``."""
    classifying = loss_code in (codes.CROSS_ENTROPY, codes.BINARY_CROSS_ENTROPY)
    return "accuracy" if classifying else "r2"


def _split_validation(X, Y, w, validation_data, validation_split, model):
    if validation_data is not None and validation_split:
        raise ValueError("pass validation_data or validation_split, not both")
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise TypeError("validation_data must be a pair (X_val, y_val)")
        Xv = check_X(validation_data[0], X.shape[1], model.dtype)
        Yv = check_targets(validation_data[1], Xv.shape[0], model.n_outputs,
                           codes.LOSS_CODES[model.loss_name], model.dtype)
        return X, Y, w, (Xv, Yv)
    if not validation_split:
        return X, Y, w, None
    if not 0 < validation_split < 1:
        raise ValueError(f"validation_split must be in (0, 1); got {validation_split}")
    n_val = int(round(X.shape[0] * validation_split))
    if n_val < 1 or n_val >= X.shape[0]:
        raise ValueError(f"validation_split={validation_split} of {X.shape[0]} samples leaves "
                         f"{n_val} for validation and {X.shape[0] - n_val} for training")
    # Keras's rule: the last fraction, before any shuffling
    cut = X.shape[0] - n_val
    return X[:cut], Y[:cut], w[:cut], (X[cut:], Y[cut:])


def weighted_batch_runs(weight, batch_size):
    """Runs of consecutive batches that carry weight, as ``(start, stop)`` positions in the order.

    A batch whose sample weights are all zero has no defined per-sample weighting (``w / sum(w)``
    is 0/0): :func:`train` skips such a batch, taking no optimizer step and adding nothing to the
    epoch's loss. The kernels see each run as an epoch of its own, so the remaining batches are cut
    exactly as they would have been.

    Parameters
    ----------
    weight : ndarray of shape (n,)
        The sample weights in visiting order.
    batch_size : int

    Returns
    -------
    list of (int, int)
        Half-open ranges of positions, in order, not touching one another; ``[(0, n)]`` when every
        batch carries weight.

    Examples
    --------
    >>> import numpy as np
    >>> weighted_batch_runs(np.array([1, 1, 0, 0, 1, 0, 1.0]), 2)
    [(0, 2), (4, 7)]
    """
    starts = np.arange(0, weight.shape[0], batch_size)
    carries = np.add.reduceat((weight > 0).astype(np.int64), starts) > 0
    if carries.all():
        return [(0, weight.shape[0])]
    runs = []
    for i in np.flatnonzero(carries):
        lo, hi = int(starts[i]), min(int(starts[i]) + batch_size, weight.shape[0])
        if runs and runs[-1][1] == lo:
            runs[-1] = (runs[-1][0], hi)
        else:
            runs.append((lo, hi))
    return runs


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


def check_metrics(metrics, loss_code):
    """Whether ``fit(metrics=...)`` asks for the training metric (True) or not (False).

    Parameters
    ----------
    metrics : list of str or None
        Empty, or the model's metric (see :func:`metric_name`; ``"acc"`` for ``"accuracy"``).
    loss_code : int

    Raises
    ------
    TypeError, ValueError
        For anything but a list of the model's metric name.
    """
    if metrics is None:
        return False
    if isinstance(metrics, str) or not isinstance(metrics, (list, tuple)):
        raise TypeError(f"metrics must be a list of names, e.g. ['accuracy']; got {metrics!r}")
    own = metric_name(loss_code)
    for name in metrics:
        if _METRIC_NAMES.get(name) != own:
            raise ValueError(f"unknown metric {name!r} for this model: its loss gives "
                             f"{own!r}; fit computes metrics=[{own!r}] (or [])")
    return len(metrics) > 0


def class_sample_weight(class_weight, Y, loss_code, sample_weight):
    """``sample_weight`` (ones if None) times each row's class weight, as Keras multiplies them.

    Parameters
    ----------
    class_weight : dict {int: float} or None
        None returns ``sample_weight`` as it is.
    Y : ndarray, shape (n, n_outputs)
        Checked targets: one-hot (or probability) rows for ``cross_entropy``, whose class is the
        argmax; one 0/1 column for ``binary_cross_entropy``, whose class is the target rounded.
    loss_code : int
    sample_weight : array-like of shape (n,) or None

    Returns
    -------
    ndarray of shape (n,) (float64), or ``sample_weight`` when ``class_weight`` is None

    Raises
    ------
    ValueError
        For a regression loss, a multilabel output, or keys or weights that are not classes and
        finite non-negative numbers.
    """
    if class_weight is None:
        return sample_weight
    table = _class_weight_table(class_weight, loss_code, Y.shape[1])
    classes = Y.argmax(axis=1) if loss_code == codes.CROSS_ENTROPY else \
        np.rint(Y[:, 0]).astype(np.intp)
    # the sample weights are checked here first, so that theirs are the messages of bad ones
    check_sample_weight(sample_weight, Y.shape[0], np.float64)
    base = 1.0 if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    return base * table[classes]


def _class_weight_table(class_weight, loss_code, n_outputs):
    """``class_weight`` as an array indexed by class (1 for the classes it leaves out)."""
    if loss_code == codes.CROSS_ENTROPY:
        n_classes = n_outputs
    elif loss_code == codes.BINARY_CROSS_ENTROPY and n_outputs == 1:
        n_classes = 2
    elif loss_code == codes.BINARY_CROSS_ENTROPY:
        raise ValueError(f"class_weight is for one label per row; this model has {n_outputs} "
                         f"binary_cross_entropy outputs (multilabel): weight the rows with "
                         f"sample_weight")
    else:
        raise ValueError(f"class_weight is for the classification losses (cross_entropy, "
                         f"binary_cross_entropy); this model's loss is "
                         f"{codes.LOSS_NAMES[loss_code]!r}: weight the rows with sample_weight")
    if not isinstance(class_weight, Mapping):
        raise TypeError(f"class_weight must be a dict {{class index: weight}}; got "
                        f"{class_weight!r}")
    table = np.ones(n_classes)
    for key, weight in class_weight.items():
        if isinstance(key, (bool, np.bool_)) or not isinstance(key, numbers.Integral) or \
                not 0 <= key < n_classes:
            raise ValueError(f"class_weight has the key {key!r}, which is not a class of this "
                             f"model: the classes are 0 to {n_classes - 1}")
        if isinstance(weight, (bool, np.bool_)) or not isinstance(weight, numbers.Real) or \
                not (math.isfinite(weight) and weight >= 0):
            raise ValueError(f"class_weight[{key!r}] must be a finite number >= 0; got "
                             f"{weight!r}")
        table[key] = weight
    return table


def _logged_names(name, validated, train_metric):
    """The names each epoch's logs hold for callbacks (those of ``History.history``)."""
    names = ["loss"] + ([name] if train_metric else []) + ["lr", "time"]
    return names + (["val_loss", f"val_{name}"] if validated else [])


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
    X, Y, w, validation = _split_validation(X, Y, w, validation_data, validation_split, model)
    _check_monitors(stopper, schedule, metric_name(loss_code), validation is not None,
                    train_metric)
    if not np.any(w > 0):
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
        logged = _logged_names(name, validated, train_metric) + (["val_metric"] if validated
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


def train(model, data, plan, rng):
    """Train ``model`` in place for the epochs of ``plan`` on data already checked.

    Nothing is checked here: ``data`` must be what :func:`fit` passes after its checks (arrays in
    the model's dtype, C-contiguous, of the model's widths, some weight positive). The divergence
    handling, interruption and best-weights restoring are :meth:`fastbp.Sequential.fit`'s.

    Parameters
    ----------
    model : fastbp.Sequential
    data : tuple (X, Y, w, validation)
        ``X`` of shape (n, n_inputs), ``Y`` of shape (n, n_outputs), ``w`` of shape (n,) the
        sample weights (each batch is weighted by ``w / sum(w)`` over the batch; ``fit`` passes
        them normalised to sum to 1), ``validation`` a pair ``(X_val, Y_val)`` or None.
    plan : TrainingPlan
    rng : numpy.random.Generator
        Draws the dropout seed, then each epoch's order.

    Returns
    -------
    fastbp.History

    Raises
    ------
    fastbp.DivergenceError
        When the loss or weights become non-finite (unless ``plan.stopper`` finishes diverging
        fits); the last weights with finite results are kept.
    """
    X, Y, w, validation = data
    epochs, batch_size, opt, schedule, stopper, shuffle, penalty, verbose = plan[:8]
    name = metric_name(model.network.loss)
    # first, as a callback may refuse the fit (a figure it monitors is not logged)
    _begin_callbacks(plan, model, _logged_names(name, validation is not None, plan.train_metric))
    k = model.kernels
    n = X.shape[0]
    dropout_seed = int(rng.integers(2**63))
    moments = opt._bind(model.n_params, model.dtype)
    # everything the epochs touch goes to the backend's memory once
    # the epochs train a copy, handed to the model after each (a host backend's to_device would
    # otherwise return the model's own vector, which only set_parameters writes)
    theta = k.to_device(np.array(model.parameters))
    grad = k.to_device(np.empty_like(model.parameters))
    state = TrainingState(theta, grad, *(k.to_device(moment) for moment in moments))
    Xd, Yd, wd = k.to_device(X), k.to_device(Y), k.to_device(w)
    network = model.network
    ordered = np.arange(n, dtype=np.int64)
    ordered_runs = weighted_batch_runs(w, batch_size)
    all_weighted = bool(np.all(w > 0))
    if validation is not None:
        Xv, Yv = validation
        validation_device = (k.to_device(Xv), k.to_device(Yv),
                             k.to_device(np.full(Xv.shape[0], 1 / Xv.shape[0], model.dtype)))

    history = History(name)
    progress = Progress(verbose, epochs)
    schedule.reset()
    if stopper is not None:
        stopper.reset()
    finishing = stopper is not None and stopper.finishes_diverging_fits

    def checkpoint():
        """Host copies of the weights and the optimizer state, to fall back on."""
        return (k.to_host(theta).copy(), k.to_host(state.moment_1).copy(),
                k.to_host(state.moment_2).copy(), opt.steps)

    def restore(saved):
        model.set_parameters(saved[0])
        for device, host in zip((theta, state.moment_1, state.moment_2), saved[:3]):
            k.copy_to_device(device, host)
        opt.steps = saved[3]

    def run_epoch(lr):
        """One pass over the data; the mean loss of the batches that carried weight."""
        order = rng.permutation(n).astype(np.int64) if shuffle else ordered
        # every batch carries weight when every sample does (the usual case): nothing to look for
        runs = (weighted_batch_runs(w[order], batch_size) if shuffle and not all_weighted
                else ordered_runs)
        total, count = 0.0, 0
        settings = opt.settings(lr)
        for lo, hi in runs:
            batches = Batches(Xd, Yd, wd, k.to_device(order[lo:hi]), batch_size)
            part, opt.steps = k.train_epoch(state, network, batches, settings, penalty,
                                            dropout_seed, opt.steps)
            if len(runs) == 1:
                return part
            total, count = total + part * (hi - lo), count + (hi - lo)
            if not math.isfinite(part):
                break
        return total / count

    def finite_at(saved):
        """Whether the network's loss and output on the training data are finite at ``saved``."""
        model.set_parameters(saved[0])
        with np.errstate(over="ignore", invalid="ignore"):  # what is being checked for
            loss, output = model.evaluate(Xd, Yd, wd)
        return math.isfinite(loss) and bool(np.all(np.isfinite(output)))

    def fall_back(done):
        """Restore the last weights the data gives finite results at; returns their epoch."""
        # weights can stay finite yet be so large that the next forward pass overflows; the
        # checkpoint before them began an epoch whose losses were all finite
        kept = done if finite_at(saved[done]) else max(done - 1, 0)
        restore(saved[kept])
        return kept

    samples_before = model.samples_seen
    saved = {0: checkpoint()}  # completed epochs -> the state at their end
    best = None
    diverged = False
    # the CPU backend holds BLAS to one thread for the whole run: an OpenBLAS worker left spinning
    # by a threaded validation pass would steal a core from the next epoch's threads
    with k.training_session():
        try:
            for epoch in range(epochs):
                start = time.perf_counter()
                lr = float(schedule.lr(epoch, opt.lr, samples_before + n * epoch))
                if diverged:
                    loss = math.nan
                else:
                    # an overflow shows as a non-finite loss or weights, reported just below
                    with np.errstate(over="ignore", invalid="ignore"):
                        loss = run_epoch(lr)
                    if not (math.isfinite(loss) and np.isfinite(k.to_host(theta)).all()):
                        kept = fall_back(epoch)
                        where = "the initial weights" if kept == 0 else \
                            f"the weights from the end of epoch {kept}"
                        if not finishing:
                            raise DivergenceError(
                                f"training diverged in epoch {epoch + 1}: the loss became {loss} "
                                f"at learning rate {lr:g}; {where} were kept. Try a smaller "
                                f"learning rate.")
                        diverged, loss = True, math.nan
                        progress.message(f"training diverged in epoch {epoch + 1}; {where} were "
                                         f"kept, and the epochs left are recorded as NaN")
                    else:
                        model.set_parameters(k.to_host(theta))
                saved[epoch + 1] = checkpoint()
                logs = {"epoch": epoch, "loss": loss}
                if plan.train_metric:
                    logs[name] = math.nan if diverged else _training_metric(model, X, Y)
                logs["lr"] = lr
                if validation is not None:
                    logs["val_loss"], logs["val_metric"] = (
                        (math.nan, math.nan) if diverged else
                        _validate(model, validation_device, validation[1], theta))
                    logs[f"val_{name}"] = logs["val_metric"]
                logs["time"] = time.perf_counter() - start
                _record(history, logs, validation is not None)  # commits the epoch
                model.samples_seen = samples_before + n * history.epochs
                saved.pop(epoch - 1, None)
                progress.epoch_end(logs)
                schedule.update(epoch, logs)
                stop = _epoch_end_callbacks(plan.callbacks, model, epoch, logs)
                if stop:
                    progress.message(f"a callback stopped the fit after epoch {epoch + 1}")
                if stopper is not None:
                    improved, stopper_stops = stopper.update(epoch, logs)
                    if improved and stopper.restore_best_weights:
                        best = saved[epoch + 1][0]
                    if stopper_stops:
                        stop = True
                        progress.message(f"early stopping after epoch {epoch + 1}: "
                                         f"{stopper.monitor} has not improved for "
                                         f"{stopper.patience} epochs")
                if stop:
                    history.stopped_early = True
                    break
        except KeyboardInterrupt:
            # The backend may have been stopped mid-update, or the epoch's figures not yet
            # recorded: go back to the end of the last epoch the history reports.
            restore(saved[history.epochs])
            history.interrupted = True
            warnings.warn(f"training interrupted after {history.epochs} completed epochs; their "
                          f"weights were kept", RuntimeWarning, stacklevel=4)
        finally:
            # most important first: a second Ctrl-C may land anywhere in here
            model.samples_seen = samples_before + n * history.epochs
            # the optimizer keeps its moments for the next fit, wherever this one computed them
            for host, device in zip(opt._moments, (state.moment_1, state.moment_2)):
                if device is not host:
                    host[...] = k.to_host(device)
            progress.close()

    if best is not None:
        model.set_parameters(best)
        history.best_epoch = stopper.best_epoch
    last = {key: figures[-1] for key, figures in history.history.items() if figures}
    for callback in plan.callbacks:
        callback.on_train_end(last)
    return history


def _begin_callbacks(plan, model, logged):
    """Hand the callbacks the model and the fit's settings, then start them."""
    model.stop_training = False
    for callback in plan.callbacks:
        callback.set_model(model)
        callback.set_params({"epochs": plan.epochs, "verbose": plan.verbose,
                             "metrics": list(logged)})
    for callback in plan.callbacks:
        callback.on_train_begin({})


def _epoch_end_callbacks(callbacks, model, epoch, logs):
    """Call every callback's ``on_epoch_end`` (each with its own copy of the logs, by their
    ``History.history`` names); whether one asked to stop, by its return value or by
    ``model.stop_training`` (Keras's way)."""
    stop = False
    for callback in callbacks:
        public = {key: value for key, value in logs.items() if key not in _INTERNAL_LOGS}
        stop = bool(callback.on_epoch_end(epoch, public)) or stop
    return stop or bool(model.stop_training)


def _training_metric(model, X, Y):
    """The metric on the training rows at the model's current weights: one forward pass."""
    with np.errstate(over="ignore", invalid="ignore"):  # recorded as it comes, like validation's
        return validation_metric(model.network.loss, model.forward_validated(X), Y)


def _validate(model, validation_device, Yv, parameters):
    """Validation loss and metric at ``parameters`` (in the backend's memory; infinite where they
    overflow: recorded as such)."""
    with np.errstate(over="ignore", invalid="ignore"):
        val_loss, output = model.evaluate(*validation_device, parameters)
        return val_loss, validation_metric(model.network.loss, output, Yv)


def _record(history, logs, validated):
    """Append an epoch's figures; the training loss goes last, as it is what counts the epochs."""
    history.lr.append(logs["lr"])
    history.time.append(logs["time"])
    if history.metric_name in logs:
        history.metric.append(logs[history.metric_name])
    if validated:
        history.val_loss.append(logs["val_loss"])
        history.val_metric.append(logs["val_metric"])
    history.loss.append(logs["loss"])

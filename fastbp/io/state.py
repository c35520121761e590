"""The training state a model file holds, turned into header fields and back.

Everything is read and written through public interfaces: a network's parameters and
samples-seen clock (``Sequential.parameters``, ``samples_seen``), an optimizer's state
(``Optimizer.moments``, ``steps``, ``set_state``), and an estimator's label binarizer, optimizer,
learning-rate schedule, stopping rule and early-stopping snapshot through
:mod:`fastbp.estimators.training`, the estimators' contract for them.
"""

import numpy as np

from ..errors import ModelFileError
from ..training.optimizers import SGD, Adam
from .format import fail

OPTIMIZER_CLASSES = {"sgd": SGD, "adam": Adam}
#: Label types a classifier's LabelBinarizer may have learned.
Y_TYPES = ("binary", "multiclass", "multilabel-indicator")


# ---- optimizers ---------------------------------------------------------------------------------
def optimizer_header(optimizer):
    """An optimizer's class and hyper-parameters as header fields."""
    name = {SGD: "sgd", Adam: "adam"}.get(type(optimizer))
    if name is None:
        raise TypeError(f"optimizer must be a fastbp.SGD or fastbp.Adam; got {optimizer!r}")
    fields = {"name": name, "lr": optimizer.lr, "steps": int(optimizer.steps)}
    if name == "sgd":
        fields.update(momentum=optimizer.momentum, nesterov=optimizer.nesterov)
    else:
        fields.update(beta_1=optimizer.beta_1, beta_2=optimizer.beta_2, epsilon=optimizer.epsilon)
    return fields


def optimizer_arrays(optimizer, n_params, dtype):
    """The optimizer's two state vectors, shape (n_params,); zeros if it has not run yet."""
    state = optimizer.moments
    if state is None:
        return np.zeros(n_params, dtype), np.zeros(n_params, dtype)
    if state[0].shape != (n_params,) or state[0].dtype != dtype:
        raise ValueError(f"the optimizer's state is {state[0].dtype} of shape {state[0].shape}; "
                         f"this model needs {np.dtype(dtype).name} of shape ({n_params},): was it "
                         f"used to train another model?")
    return state[0], state[1]


def build_optimizer(fields, moment_1, moment_2):
    """An optimizer from checked header fields and its state vectors (copied)."""
    cls = OPTIMIZER_CLASSES[fields["name"]]
    keys = ("momentum", "nesterov") if cls is SGD else ("beta_1", "beta_2", "epsilon")
    try:
        optimizer = cls(fields["lr"], **{key: fields[key] for key in keys})
    except (TypeError, ValueError) as error:
        raise fail(f"header.optimizer: {error}") from None
    optimizer.set_state((moment_1, moment_2), fields["steps"])
    return optimizer


# ---- estimators ---------------------------------------------------------------------------------
# Imported on first use: saving or loading a Sequential must not import scikit-learn.
def _contract():
    from ..estimators import training

    return training


def estimator_optimizer(estimator):
    """The optimizer a stochastic estimator's ``partial_fit`` continues with, or None."""
    return _contract().training_state(estimator).optimizer


def label_binarizer(estimator):
    """``{"y_type": ...}`` of a fitted classifier's label binarizer."""
    return {"y_type": str(_contract().label_binarizer(estimator).y_type_)}


def set_label_binarizer(estimator, fields, classes):
    """Give ``estimator`` a label binarizer of the saved target type for ``classes`` (which
    become its ``classes_``)."""
    from sklearn.preprocessing import LabelBinarizer

    binarizer = LabelBinarizer()
    binarizer.y_type_, binarizer.sparse_input_, binarizer.classes_ = (fields["y_type"], False,
                                                                      classes)
    _contract().set_label_binarizer(estimator, binarizer)


def training_rules(estimator):
    """Header fields of the stopping rule and learning-rate schedule (None where absent)."""
    state = _contract().training_state(estimator)
    stopping, schedule = state.stopping, state.schedule
    stop = None if stopping is None else {
        "monitor": stopping.monitor, "patience": stopping.patience,
        "min_delta": stopping.min_delta, "best": stopping.best, "best_epoch": stopping.best_epoch,
        "wait": stopping.wait}
    sched = None if schedule is None else {
        "kind": schedule.kind, "power_t": schedule.power_t, "scale": schedule.scale,
        "fresh": schedule.fresh}
    return stop, sched


def best_parameters(estimator):
    """The early-stopping snapshot of the flat parameters, shape (n_params,), or None."""
    return _contract().training_state(estimator).best_parameters


def restore_estimator(estimator, stop, sched, optimizer, best):
    """Give a freshly made estimator its training state, then bind its network.

    ``stop``/``sched`` are decoded header fields (or None), ``optimizer`` an Optimizer or None,
    ``best`` an array or None; the fitted public attributes are already set.
    """
    from ..estimators.rules import SklearnSchedule, SklearnStopping

    training = _contract()
    schedule = stopping = None
    if sched is not None:
        schedule = SklearnSchedule(sched["kind"], sched["power_t"])
        schedule.scale, schedule.fresh = sched["scale"], sched["fresh"]
    if stop is not None:
        stopping = SklearnStopping(stop["monitor"] == "val_metric", stop["patience"] - 1,
                                   stop["min_delta"], schedule)
        stopping.best, stopping.best_epoch, stopping.wait = (stop["best"], stop["best_epoch"],
                                                             stop["wait"])
    training.restore_training_state(
        estimator, training.TrainingState(optimizer, schedule, stopping, best))
    try:
        training.network(estimator)  # rebuilds the Sequential from coefs_/intercepts_, binds them
    except (TypeError, ValueError) as error:
        raise ModelFileError(f"the saved network cannot be rebuilt: {error}") from None

"""The estimator part of a model file: parameters, fitted attributes and training rules.

An estimator's header holds ``estimator.params`` (``get_params(deep=False)``), ``estimator.fitted``
(the public fitted attributes in :data:`FITTED`), its label binarizer's target type (classifier),
its stopping rule and, with the optimizer, its learning-rate schedule. Each is checked against a
fixed schema and against the network's layers before anything is built.
"""

from dataclasses import dataclass

import numpy as np

from ..estimators import MLPClassifier, MLPRegressor, training
from ..estimators.base import HIDDEN_ACTIVATIONS
from . import format as fmt
from . import state
from .model_types import ACCEPTED, type_name
from .values import decode, encode

CLASSES = {"mlp_classifier": MLPClassifier, "mlp_regressor": MLPRegressor}
OUT_ACTIVATIONS = {"mlp_classifier": ("softmax", "logistic"),
                   "mlp_regressor": ("identity", "exp")}
SCHEDULES = ("constant", "invscaling", "adaptive")
MONITORS = ("loss", "val_metric")


def _is_count(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _is_numbers(v):
    return isinstance(v, list) and all(_is_number(x) for x in v)


def _is_names(v):
    return isinstance(v, np.ndarray) and v.ndim == 1 and (v.dtype == object or v.dtype.kind == "U")


def _optional(check):
    return lambda v: v is None or check(v)


#: Public fitted attributes a file may hold, with the check each value must pass.
FITTED = {
    "n_features_in_": _is_count, "feature_names_in_": _is_names, "n_iter_": _is_count,
    "t_": _is_count, "n_outputs_": _is_count, "n_layers_": _is_count,
    "out_activation_": lambda v: isinstance(v, str), "loss_": _is_number,
    "best_loss_": _optional(_is_number), "loss_curve_": _is_numbers,
    "validation_scores_": _optional(_is_numbers), "validation_loss_curve_": _optional(_is_numbers),
    "best_validation_score_": _optional(_is_number),
    "classes_": lambda v: isinstance(v, np.ndarray) and v.ndim == 1,
}
REQUIRED = ("n_features_in_", "n_iter_", "n_outputs_", "n_layers_", "out_activation_")


def kind_of(estimator):
    """The file kind of an estimator; TypeError for any other object (subclasses included: a
    loader must never need to import a class it reads a name of)."""
    for kind, cls in CLASSES.items():
        if type(estimator) is cls:
            return kind
    subclass = " (not a subclass)" if isinstance(estimator, tuple(CLASSES.values())) else ""
    raise TypeError(f"save takes {ACCEPTED}{subclass}; got {type_name(estimator)}")


def network(estimator):
    """A fitted estimator's Sequential."""
    if not hasattr(estimator, "coefs_"):
        raise ValueError(f"this {type(estimator).__name__} is not fitted yet: call fit before "
                         f"saving it")
    return training.network(estimator)


def describe(estimator, header, arrays):
    """Add the estimator's part to a network header and its arrays; returns both."""
    fitted = {name: encode(getattr(estimator, name)) for name in FITTED
              if name in vars(estimator)}
    stop, sched = state.training_rules(estimator)
    best = state.best_parameters(estimator)
    part = {"params": {name: encode(value)
                       for name, value in estimator.get_params(deep=False).items()},
            "fitted": fitted,
            "label_binarizer": (state.label_binarizer(estimator)
                                if isinstance(estimator, MLPClassifier) else None),
            "stopping": None if stop is None else {k: encode(v) for k, v in stop.items()},
            # the schedule travels with the optimizer: a fresh optimizer gets a fresh schedule
            "schedule": sched if header["optimizer"] is not None else None,
            "best_parameters": best is not None}
    if best is not None:
        arrays[fmt.BEST_PARAMETERS] = best
    header["estimator"] = part
    return header, arrays


@dataclass
class Plan:
    """A checked estimator header, ready to build once its arrays are checked."""

    kind: str
    header: dict
    params: dict
    fitted: dict
    stop: dict
    extra_arrays: tuple

    def build(self, arrays, backend):
        estimator = CLASSES[self.kind]()
        try:
            estimator.set_params(**self.params)
            if backend is not None:
                estimator.set_params(backend=backend)
            training.validate_params(estimator)
        except (TypeError, ValueError) as error:
            raise fmt.fail(f"header.estimator.params: {error}") from None
        for name, value in self.fitted.items():
            setattr(estimator, name, value)
        n = len(self.header["layers"])
        estimator.coefs_ = [np.array(arrays[fmt.layer_arrays(i)[0]]) for i in range(n)]
        estimator.intercepts_ = [np.array(arrays[fmt.layer_arrays(i)[1]]) for i in range(n)]
        part = self.header["estimator"]
        if part["label_binarizer"] is not None:
            state.set_label_binarizer(estimator, part["label_binarizer"], self.fitted["classes_"])
        optimizer = None
        if self.header["optimizer"] is not None:
            optimizer = state.build_optimizer(self.header["optimizer"],
                                              *(arrays[k] for k in fmt.OPTIMIZER_ARRAYS))
        best = arrays.get(fmt.BEST_PARAMETERS)
        state.restore_estimator(estimator, self.stop, part["schedule"], optimizer, best)
        return estimator


def check(header, kind):
    """Check the estimator part of a header whose common part passed :func:`format.check_header`.

    Returns
    -------
    Plan
    """
    part = fmt.field(header, "estimator", dict, "header")
    where = "header.estimator"
    params = _params(fmt.field(part, "params", dict, where), kind)
    fitted = _fitted(fmt.field(part, "fitted", dict, where), kind)
    _check_consistent(header, kind, params, fitted)
    binarizer = fmt.field(part, "label_binarizer", (dict, type(None)), where)
    if (binarizer is None) != (kind != "mlp_classifier"):
        raise fmt.fail(f"{where}.label_binarizer: expected it for a classifier only")
    if binarizer is not None:
        y_type = fmt.one_of(binarizer, "y_type", state.Y_TYPES, f"{where}.label_binarizer")
        _check_classes(y_type, fitted, header)
    stopping = fmt.field(part, "stopping", (dict, type(None)), where)
    stop = None if stopping is None else _stopping(stopping)
    schedule = fmt.field(part, "schedule", (dict, type(None)), where)
    if schedule is not None:
        _schedule(schedule)
    best = fmt.field(part, "best_parameters", bool, where)
    return Plan(kind, header, params, fitted, stop, (fmt.BEST_PARAMETERS,) if best else ())


def _params(raw, kind):
    names = set(CLASSES[kind]().get_params(deep=False))
    unknown = sorted(set(raw) - names)
    if unknown:
        raise fmt.fail(f"header.estimator.params: unknown parameters {unknown} for "
                       f"{CLASSES[kind].__name__}")
    return {name: decode(value, f"header.estimator.params.{name}") for name, value in raw.items()}


def _fitted(raw, kind):
    fitted = {}
    for name, value in raw.items():
        if name not in FITTED:
            raise fmt.fail(f"header.estimator.fitted: unknown attribute {name!r}; expected some "
                           f"of {sorted(FITTED)}")
        value = decode(value, f"header.estimator.fitted.{name}")
        if not FITTED[name](value):
            raise fmt.fail(f"header.estimator.fitted.{name}: value of the wrong type: "
                           f"{value!r}"[:300])
        fitted[name] = value
    required = REQUIRED + (("classes_",) if kind == "mlp_classifier" else ())
    missing = [name for name in required if name not in fitted]
    if missing:
        raise fmt.fail(f"header.estimator.fitted: missing {missing}")
    return fitted


def _check_consistent(header, kind, params, fitted):
    """The fitted attributes and parameters must describe the stored layers."""
    layers = header["layers"]
    expected = {"n_features_in_": layers[0]["n_in"], "n_outputs_": layers[-1]["n_out"],
                "n_layers_": len(layers) + 1}
    for name, value in expected.items():
        if fitted[name] != value:
            raise fmt.fail(f"header.estimator.fitted.{name}: expected {value} from the layers; "
                           f"got {fitted[name]}")
    names = fitted.get("feature_names_in_")
    if names is not None and len(names) != fitted["n_features_in_"]:
        raise fmt.fail(f"header.estimator.fitted.feature_names_in_: expected "
                       f"{fitted['n_features_in_']} names; got {len(names)}")
    out = fitted["out_activation_"]
    if out not in OUT_ACTIVATIONS[kind]:
        raise fmt.fail(f"header.estimator.fitted.out_activation_: expected one of "
                       f"{list(OUT_ACTIVATIONS[kind])}; got {out!r}")
    hidden = params.get("activation", "relu")
    if hidden not in HIDDEN_ACTIVATIONS:
        raise fmt.fail(f"header.estimator.params.activation: expected one of "
                       f"{list(HIDDEN_ACTIVATIONS)}; got {hidden!r}")
    dropout = params.get("dropout", 0.0)
    for i, layer in enumerate(layers):
        last = i == len(layers) - 1
        activation = _canonical(out if last else hidden)
        if layer["activation"] != activation or layer["dropout"] != (0.0 if last else dropout):
            raise fmt.fail(f"header.layers[{i}]: expected activation {activation!r} and dropout "
                           f"{0.0 if last else dropout} from the estimator's parameters; got "
                           f"{layer['activation']!r} and {layer['dropout']}")


def _canonical(activation):
    return "sigmoid" if activation == "logistic" else activation


def _check_classes(y_type, fitted, header):
    classes, n_out = fitted["classes_"], header["layers"][-1]["n_out"]
    if classes.dtype == object or classes.dtype.kind == "U":
        pass
    elif classes.dtype.kind not in "biuf":
        raise fmt.fail(f"header.estimator.fitted.classes_: dtype {classes.dtype} is not a label "
                       f"type")
    expected = (1, 2) if y_type == "binary" else (n_out,)
    outputs = 1 if y_type == "binary" else len(classes)
    if len(classes) not in expected or outputs != n_out:
        raise fmt.fail(f"header.estimator.fitted.classes_: {len(classes)} {y_type} classes do "
                       f"not fit {n_out} output units")


def _stopping(raw):
    where = "header.estimator.stopping"
    stop = {key: decode(value, f"{where}.{key}") for key, value in raw.items()}
    fmt.one_of(stop, "monitor", MONITORS, where)
    for key, minimum in (("patience", 1), ("min_delta", 0)):
        value = stop.get(key)
        if not _is_number(value) or not value >= minimum:
            raise fmt.fail(f"{where}.{key}: expected a number >= {minimum}; got {value!r}")
    if not _is_number(stop.get("best")):
        raise fmt.fail(f"{where}.best: expected a number; got {stop.get('best')!r}")
    fmt.field(stop, "best_epoch", (int, type(None)), where)
    fmt.count(stop, "wait", where)
    extra = sorted(set(stop) - {"monitor", "patience", "min_delta", "best", "best_epoch", "wait"})
    if extra:
        raise fmt.fail(f"{where}: unknown fields {extra}")
    return stop


def _schedule(raw):
    where = "header.estimator.schedule"
    fmt.one_of(raw, "kind", SCHEDULES, where)
    fmt.field(raw, "power_t", (int, float), where)
    scale = fmt.field(raw, "scale", (int, float), where)
    if not scale > 0:
        raise fmt.fail(f"{where}.scale: expected a number > 0; got {scale}")
    fmt.field(raw, "fresh", bool, where)

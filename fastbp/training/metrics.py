"""The figure a fit records besides its loss: accuracy for the classification losses, R^2 for the
regression ones, on the validation rows (and on the training rows when ``fit`` is asked)."""

import numpy as np

from ..kernels import codes

#: ``fit(metrics=...)`` names, by the metric each gives.
_METRIC_NAMES = {"accuracy": "accuracy", "acc": "accuracy", "r2": "r2"}


def validation_metric(loss_code, output, Y):
    """Accuracy for the cross-entropy losses (exact match for multilabel), R^2 otherwise.

    Parameters
    ----------
    loss_code : int
    output, Y : ndarray, shape (n, k)

    Returns
    -------
    float
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
    """The metric of :func:`validation_metric` for a loss: ``"accuracy"`` or ``"r2"``.

    Parameters
    ----------
    loss_code : int

    Returns
    -------
    str
    """
    classifying = loss_code in (codes.CROSS_ENTROPY, codes.BINARY_CROSS_ENTROPY)
    return "accuracy" if classifying else "r2"


def check_metrics(metrics, loss_code):
    """Whether ``fit(metrics=...)`` asks for the training metric (True) or not (False).

    Parameters
    ----------
    metrics : list of str or None
        Empty, or the model's metric (see :func:`metric_name`; ``"acc"`` for ``"accuracy"``).
    loss_code : int

    Returns
    -------
    bool

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

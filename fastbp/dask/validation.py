"""The validation score of a Dask fit from sums the workers compute on the rows they hold out.

A local fit scores its validation rows with :func:`fastbp.training.fit.validation_metric`
(accuracy for the classification losses, the mean R^2 over outputs otherwise). Here each worker
returns a few sums over its own held-out rows, and the client adds them and finishes the same
formula, so no validation row and no prediction leaves its worker.
"""

import numpy as np

from ..kernels import codes


def validation_sums(model, validation, parameters, scale):
    """Sums over one worker's held-out rows at ``parameters``.

    Parameters
    ----------
    model : fastbp.Sequential
    validation : (ndarray of shape (m, n_inputs), ndarray of shape (m, n_outputs))
    parameters : ndarray of shape (n_params,)
    scale : (float, ndarray of shape (n_outputs,) or None)
        ``1 / (rows held out on all workers)`` and the mean of every worker's held-out targets.

    Returns
    -------
    ndarray of float64
        The worker's share of the validation loss, then: the rows predicted right (the
        classification losses), or per output the residual and total sums of squares.
    """
    X, Y = validation
    weight, target_mean = scale
    w = np.full(X.shape[0], weight, model.dtype)
    with np.errstate(over="ignore", invalid="ignore"):  # recorded as they are, as locally
        loss, output = model.evaluate(X, Y, w, parameters)
    loss_code = model.network.loss
    if loss_code == codes.CROSS_ENTROPY:
        hits = [np.sum(output.argmax(axis=1) == Y.argmax(axis=1))]
    elif loss_code == codes.BINARY_CROSS_ENTROPY:
        hits = [np.sum(np.all((output > 0.5) == (Y > 0.5), axis=1))]
    else:
        residual = ((Y - output) ** 2).sum(axis=0, dtype=np.float64)
        total = ((Y - target_mean) ** 2).sum(axis=0, dtype=np.float64)
        return np.concatenate([[loss], residual, total])
    return np.array([loss, *hits], np.float64)


def validation_figures(loss_code, sums, rows):
    """``(val_loss, val_metric)`` from the workers' :func:`validation_sums` added up.

    Parameters
    ----------
    loss_code : int
    sums : ndarray of float64
        The sum of every worker's :func:`validation_sums`.
    rows : int
        Rows held out on all workers.

    Returns
    -------
    (float, float)
        As :func:`fastbp.training.fit.validation_metric` gives them on the same rows.

    Examples
    --------
    >>> import numpy as np
    >>> from fastbp.kernels import codes
    >>> validation_figures(codes.CROSS_ENTROPY, np.array([0.25, 3.0]), 4)
    (0.25, 0.75)
    """
    loss = float(sums[0])
    if loss_code in (codes.CROSS_ENTROPY, codes.BINARY_CROSS_ENTROPY):
        return loss, float(sums[1] / rows)
    k = (sums.shape[0] - 1) // 2
    residual, total = sums[1:1 + k], sums[1 + k:]
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(total > 0, 1 - residual / total, np.where(residual > 0, 0.0, 1.0))
    return loss, float(r2.mean())

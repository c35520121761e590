"""Prediction and scores on Dask collections: each row block through the fitted local estimator,
on the worker that holds it, with the output's shape and dtype stated up front (Dask never has
to guess them by predicting a row of zeros)."""

import numpy as np

from .inputs import as_array


def _call(block, estimator, method):
    return getattr(estimator, method)(block)


def blocks(estimator, X, method):
    """``estimator.method`` on each row block of ``X``, lazily.

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
        Fitted.
    X : dask.array.Array or dask DataFrame of shape (n, n_features)
    method : {"predict", "predict_proba"}

    Returns
    -------
    dask.array.Array
        Of shape (n,) or (n, k), as the method returns for one block.
    """
    X = as_array(X, "X", (2,), lengths=False)
    if X.shape[1] != estimator.n_features_in_:
        raise ValueError(f"X has {X.shape[1]} features, but {type(estimator).__name__} is "
                         f"expecting {estimator.n_features_in_} features as input")
    width, dtype = _output(estimator, method)
    meta = np.empty((0,) if width is None else (0, width), dtype)
    if width is None:
        return X.map_blocks(_call, estimator, method, drop_axis=1, dtype=dtype, meta=meta)
    return X.map_blocks(_call, estimator, method, chunks=(X.chunks[0], (width,)), dtype=dtype,
                        meta=meta)


def _output(estimator, method):
    """(columns or None for a 1-d output, dtype) of ``estimator.method``."""
    floats = estimator.coefs_[0].dtype
    if method == "predict_proba":
        return max(2, len(estimator.classes_)), floats
    if hasattr(estimator, "classes_"):
        if estimator.n_outputs_ > 1 and not estimator.out_activation_ == "softmax":
            return estimator.n_outputs_, np.dtype(np.int64)  # multilabel: an indicator matrix
        return None, estimator.classes_.dtype
    return (None if estimator.n_outputs_ == 1 else estimator.n_outputs_), floats


def accuracy(predicted, y, sample_weight):
    """Mean (weighted) accuracy, as a 0-d Dask array.

    Parameters
    ----------
    predicted, y : dask.array.Array of shape (n,), or (n, n_labels) for multilabel targets
        (a row is right when every label is: scikit-learn's subset accuracy)
    sample_weight : dask.array.Array of shape (n,) or None
    """
    right = predicted == y
    if right.ndim == 2:
        right = right.all(axis=1)
    right = right.astype(np.float64)
    if sample_weight is None:
        return right.mean()
    return (right * sample_weight).sum() / sample_weight.sum()


def r2(predicted, y, sample_weight):
    """R^2, averaged over outputs with equal weights (scikit-learn's ``score``), as a 0-d Dask
    array.

    Parameters
    ----------
    predicted, y : dask.array.Array of shape (n,) or (n, n_outputs)
    sample_weight : dask.array.Array of shape (n,) or None
    """
    import dask.array as da

    y, predicted = y.astype(np.float64), predicted.astype(np.float64)
    if sample_weight is None:
        w = da.ones_like(y)
    else:
        w = sample_weight.astype(np.float64)
        w = w[:, None] if y.ndim == 2 else w
    mean = (w * y).sum(axis=0) / (w * da.ones_like(y)).sum(axis=0)
    residual = (w * (y - predicted) ** 2).sum(axis=0)
    spread = (w * (y - mean) ** 2).sum(axis=0)
    # scikit-learn's convention for a constant target: 1 if predicted exactly, else 0
    scores = da.where(spread > 0, 1 - residual / da.where(spread > 0, spread, 1.0),
                      da.where(residual > 0, 0.0, 1.0))
    return scores.mean()

"""Dask collections in: checked, made arrays partitioned by rows, and located on the workers."""

from collections import defaultdict

import numpy as np


def _dataframe_types():
    try:
        import dask.dataframe as dd
    except ImportError:  # dask installed without its dataframe extra
        return ()
    return dd.DataFrame, dd.Series


def _named(value):
    return f"{type(value).__module__}.{type(value).__qualname__}"


def as_array(value, name, ndims, lengths=True):
    """A Dask array from a Dask array, DataFrame or Series; anything else is refused.

    Parameters
    ----------
    value : dask.array.Array, dask.dataframe.DataFrame or dask.dataframe.Series
    name : str
        For the error messages ("X", "y").
    ndims : tuple of int
        The numbers of dimensions allowed.
    lengths : bool
        Compute the partitions' lengths of a DataFrame (needed to line rows up).

    Returns
    -------
    dask.array.Array
        With one chunk along every dimension but the first.
    """
    import dask.array as da

    if isinstance(value, _dataframe_types()):
        value = value.to_dask_array(lengths=lengths)
    elif not isinstance(value, da.Array):
        raise TypeError(f"{name} must be a dask.array.Array or a dask DataFrame/Series "
                        f"partitioned by rows; got {_named(value)} (wrap an in-memory array with "
                        f"dask.array.from_array, or use fastbp.MLPClassifier/MLPRegressor)")
    if value.ndim not in ndims:
        raise ValueError(f"{name} must have {' or '.join(map(str, ndims))} dimensions; got "
                         f"shape {value.shape}")
    if value.ndim == 2 and len(value.chunks[1]) > 1:
        value = value.rechunk({1: -1})  # rows stay where they are; each row becomes one piece
    return value


def feature_names(X):
    """A DataFrame's column names when they are all strings (scikit-learn's rule), else None."""
    columns = getattr(X, "columns", None)
    if columns is None or not all(isinstance(c, str) for c in columns):
        return None
    return np.asarray(list(columns), dtype=object)


def aligned(X, other, name):
    """``other`` (targets or weights) split into the same row chunks as ``X``."""
    if other.shape[0] != X.shape[0] and not (np.isnan(other.shape[0]) or np.isnan(X.shape[0])):
        raise ValueError(f"X has {X.shape[0]} rows but {name} has {other.shape[0]}")
    if other.chunks[0] != X.chunks[0]:
        if any(np.isnan(c) for c in X.chunks[0] + other.chunks[0]):
            raise ValueError(f"the row chunks of X and {name} are not known: pass dask arrays "
                             f"with known chunks, or DataFrames (their lengths are computed)")
        other = other.rechunk({0: X.chunks[0]})
    return other


def _together(*arrays):
    return arrays


def partitions(client, X, y, sample_weight):
    """Each row partition as one future of ``(X, y, sample_weight)``, computed where Dask places
    it (next to its rows); no rows go to the client.

    Parameters
    ----------
    client : distributed.Client
    X : dask.array.Array of shape (n, n_features)
    y : dask.array.Array of shape (n,) or (n, n_outputs)
    sample_weight : dask.array.Array of shape (n,) or None
        Both in the row chunks of ``X`` (:func:`aligned`).

    Returns
    -------
    list of distributed.Future
        In row order.
    """
    import dask

    X_parts, y_parts = X.to_delayed().ravel(), y.to_delayed().ravel()
    w_parts = [None] * len(X_parts) if sample_weight is None else \
        sample_weight.to_delayed().ravel()
    return client.compute([dask.delayed(_together)(xp, yp, wp)
                           for xp, yp, wp in zip(X_parts, y_parts, w_parts)])


def group_by_worker(client, futures):
    """Worker address -> the futures (finished) it holds, in their order; workers in the order of
    their first future, so the same placement always gives the same grouping."""
    holders = client.who_has(futures)
    by_worker = defaultdict(list)
    for future in futures:
        workers = sorted(holders.get(future.key, ()))
        if not workers:
            raise RuntimeError(f"no worker holds partition {future.key} any more")
        by_worker[workers[0]].append(future)
    return dict(by_worker)

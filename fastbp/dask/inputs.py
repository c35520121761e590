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
        value = value.to_dask_array(lengths=True if lengths else None)
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


def _flat_keys(array):
    """An array's chunk keys in row order (it has one chunk along its other dimensions)."""
    keys = array.__dask_keys__()
    while keys and isinstance(keys[0], list):
        keys = [k for sub in keys for k in sub]
    return keys


def located(client, arrays, timeout):
    """Persist ``arrays`` (a no-op for arrays already persisted) and group their row chunks by
    the worker holding the chunk of the first array; no rows go to the client.

    Parameters
    ----------
    client : distributed.Client
    arrays : list of dask.array.Array
        ``X`` first, then targets and weights, all in the row chunks of ``X`` (:func:`aligned`).
    timeout : float
        Seconds to wait for the chunks to be computed.

    Returns
    -------
    dict
        Worker address -> list of tuples of futures, one tuple ``(X, y, ...)`` per row chunk
        of ``X`` with rows, in row order; workers in the order of their first chunk, so the same
        placement always gives the same grouping.
    """
    from distributed import futures_of

    from .waiting import results

    persisted = client.persist(arrays)
    by_key = {future.key: future for array in persisted for future in futures_of(array)}
    rows = [[by_key[key] for key in _flat_keys(array)] for array in persisted]
    results(client, [f for column in rows for f in column], list(client.nthreads()), timeout,
            "computing the rows")
    holders = client.who_has(rows[0])
    by_worker = defaultdict(list)
    for i, n in enumerate(persisted[0].chunks[0]):
        if n == 0:
            continue
        where = sorted(holders.get(rows[0][i].key, ()))
        if not where:
            raise RuntimeError(f"no worker holds row chunk {i} of X any more")
        by_worker[where[0]].append(tuple(column[i] for column in rows))
    return dict(by_worker)

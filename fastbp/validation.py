"""Checks and conversions of user data into the arrays the kernels take.

Built on scikit-learn's ``check_array`` (imported on first use: scikit-learn costs ~1 s to import).
"""

import math
import numbers

import numpy as np

from .kernels.codes import BINARY_CROSS_ENTROPY, CROSS_ENTROPY, POISSON


def check_X(X, n_features, dtype, finite=True):
    """Validate ``X`` and return it as a C-contiguous array of ``dtype``.

    ``finite=False`` leaves out the check that an ndarray already of ``dtype``, C-contiguous, is
    finite: for a caller whose next pass over ``X`` checks it (see :func:`ready`).

    Returns
    -------
    ndarray, shape (n_samples, n_features)
    """
    if not ready(X, dtype, finite=finite):
        from sklearn.utils.validation import check_array

        # values beyond dtype's range become inf, and the finiteness check sums +inf and -inf to
        # NaN: both are reported as the error that follows, not as warnings first
        with np.errstate(over="ignore", invalid="ignore"):
            X = check_array(X, dtype=dtype, order="C", input_name="X")
    if X.shape[1] != n_features:
        raise ValueError(f"X has {X.shape[1]} features, but the model's first layer expects "
                         f"{n_features}")
    return X


def ready(X, dtype, n_features=None, finite=True):
    """Whether ``X`` is already what ``check_array`` would return (a finite, non-empty, C-contiguous
    2-D ndarray of ``dtype``, ``n_features`` wide if given): then its checks can be skipped, which
    cost more than a prediction on a few rows (``check_array`` ~80 us, scikit-learn's
    ``validate_data`` ~130 us, against ~10 us for a row through a 100-256-128-10 network). Anything
    else goes through scikit-learn for its messages.

    Parameters
    ----------
    X : object
    dtype : numpy dtype
    n_features : int, optional
    finite : bool, default True
        Whether to check that every value is finite. False for a caller that has it checked on
        the way (:meth:`fastbp.Sequential.forward_validated` with ``finite=False``).

    Returns
    -------
    bool
    """
    return (type(X) is np.ndarray and X.dtype == dtype and X.ndim == 2 and X.shape[0] > 0
            and X.shape[1] > 0 and (n_features is None or X.shape[1] == n_features)
            and X.flags.c_contiguous and (not finite or all_finite(X)))


def refuse_non_finite(X):
    """Raise scikit-learn's error for an ``X`` that holds NaN or infinity (its ``check_array``
    message, naming which).

    Parameters
    ----------
    X : ndarray
        Known to hold a value that is not finite.

    Raises
    ------
    ValueError
    """
    from sklearn.utils.validation import check_array

    with np.errstate(over="ignore", invalid="ignore"):  # as in check_X
        check_array(X, dtype=None, input_name="X")
    raise ValueError("Input X contains NaN or infinity.")  # where scikit-learn's check passed


def all_finite(array):
    """Whether every value of a real ``array`` is finite.

    One pass over it, its sum, as scikit-learn's check makes (NaN and infinity make the sum
    non-finite); only a sum that overflows is followed by the value-by-value check. Each pass
    over a large array is a NumPy call that releases the GIL and must take it back: beside a
    busy Python thread that waits up to the switch interval, so one pass rather than two (and no
    temporary array of flags) is what a fit's set-up and each prediction pay.

    Parameters
    ----------
    array : ndarray
        Real numbers; integers and booleans are always finite.

    Returns
    -------
    bool

    Examples
    --------
    >>> import numpy as np
    >>> from fastbp.validation import all_finite
    >>> all_finite(np.array([1.0, 2.0])), all_finite(np.array([1.0, np.nan]))
    (True, False)
    >>> all_finite(np.array([3e38, 3e38], np.float32))   # the sum overflows; the values do not
    True
    """
    if array.dtype.kind in "biu":
        return True
    with np.errstate(over="ignore", invalid="ignore"):
        if math.isfinite(np.sum(array)):
            return True
    return bool(np.isfinite(array).all())


def check_y(y, n_samples, n_outputs, loss, dtype):
    """Validate targets for ``loss`` and return them as an ``(n_samples, n_outputs)`` array.

    Integer class labels for ``cross_entropy`` become one-hot rows.
    """
    numeric_array = type(y) is np.ndarray and y.dtype.kind in "biuf" and y.ndim in (1, 2)
    # integers are finite: no pass over them (each may wait for the GIL beside a busy thread)
    if not (numeric_array and y.size and (y.dtype.kind in "biu" or all_finite(y))):
        from sklearn.utils.validation import check_array

        with np.errstate(over="ignore", invalid="ignore"):  # as in check_X
            y = check_array(y, ensure_2d=False, dtype=None, ensure_min_samples=0, input_name="y")
    if y.dtype.kind not in "biuf":
        raise TypeError(f"y must be numeric; got dtype {y.dtype}")
    if y.ndim == 0:
        raise ValueError(f"y must be an array of shape (n_samples,) or (n_samples, n_outputs); "
                         f"got the scalar {y!r}")
    if y.ndim > 2:
        raise ValueError(f"y must be 1D or 2D; got shape {y.shape}")
    if y.shape[0] != n_samples:
        raise ValueError(f"y has {y.shape[0]} samples, but X has {n_samples}")
    if loss == CROSS_ENTROPY and y.ndim == 1:
        if y.dtype.kind not in "iu":
            raise TypeError("cross_entropy takes integer class labels of shape (n_samples,) or "
                            f"one-hot targets of shape (n_samples, {n_outputs}); got {y.dtype} "
                            f"labels of shape {y.shape}")
        # read as unsigned, a negative label is above every class: one pass finds both kinds
        if y.view(y.dtype.str.replace("i", "u")).max() >= n_outputs:
            raise ValueError(f"class labels must lie in [0, {n_outputs}) for a model with "
                             f"{n_outputs} outputs; got labels from {y.min()} to {y.max()}")
        return np.eye(n_outputs, dtype=dtype)[y]  # one pass over the labels
    if y.ndim == 1:
        if n_outputs != 1:
            raise ValueError(f"y has shape {y.shape}, but the model has {n_outputs} outputs: "
                             f"expected shape ({n_samples}, {n_outputs})")
        y = y[:, None]
    if y.shape[1] != n_outputs:
        raise ValueError(f"y has shape {y.shape}, but the model has {n_outputs} outputs: "
                         f"expected shape ({n_samples}, {n_outputs})")
    if loss in (CROSS_ENTROPY, BINARY_CROSS_ENTROPY) and (y.min() < 0 or y.max() > 1):
        raise ValueError(f"targets for this loss must lie in [0, 1]; got values from {y.min()} "
                         f"to {y.max()}")
    if loss == POISSON and y.size and y.min() < 0:
        raise ValueError(f"poisson targets must be non-negative (counts or rates); got a minimum "
                         f"of {y.min()}")
    if loss == CROSS_ENTROPY:
        sums = y.sum(axis=1, dtype=np.float64)
        if not np.allclose(sums, 1, rtol=0, atol=1e-5):
            bad = int(np.argmax(np.abs(sums - 1)))
            raise ValueError(f"cross_entropy targets must be one-hot or probability rows summing "
                             f"to 1; row {bad} sums to {sums[bad]}")
    out = in_dtype("y", y, dtype)
    return out


def in_dtype(name, values, dtype):
    """A C-contiguous copy of finite ``values`` in ``dtype``; ValueError naming ``name`` where a
    value lies beyond the dtype's range (rather than becoming infinity)."""
    with np.errstate(over="ignore"):  # overflow to inf is reported just below
        out = np.array(values, dtype=dtype, order="C")
    if not all_finite(out):
        raise ValueError(f"{name} holds values beyond the range of {np.dtype(dtype)}")
    return out


def check_sample_weight(sample_weight, n_samples, dtype):
    """Per-sample weights normalised to sum to 1 (the batch mean lives in them).

    Returns
    -------
    ndarray, shape (n_samples,)
    """
    if sample_weight is None:
        return np.full(n_samples, 1.0 / n_samples, dtype=dtype)
    from sklearn.utils.validation import check_array

    with np.errstate(over="ignore", invalid="ignore"):  # as in check_X
        w = check_array(sample_weight, ensure_2d=False, dtype=np.float64,
                        input_name="sample_weight")
    if w.shape != (n_samples,):
        raise ValueError(f"sample_weight must have shape ({n_samples},); got {w.shape}")
    if np.any(w < 0) or not np.any(w > 0):
        with np.errstate(over="ignore"):  # an infinite sum is still worth reporting
            total = w.sum()
        raise ValueError(f"sample_weight must be non-negative with a positive sum; got minimum "
                         f"{w.min()} and sum {total}")
    # scaled by the largest first: the sum of weights near the float64 maximum would overflow
    w = w / w.max()
    return (w / w.sum()).astype(dtype)


# ---- scalar settings: a wrong type is a TypeError, a wrong value a ValueError -------------------
def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def check_positive_int(name, value):
    """``value`` as an int, if it is an integer >= 1 (bools refused)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive integer; got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value}")
    return int(value)


def check_non_negative_int(name, value):
    """``value`` as an int, if it is an integer >= 0 (bools refused)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a non-negative integer; got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be a non-negative integer; got {value}")
    return int(value)


def check_positive_float(name, value):
    """``value`` as a float, if it is a finite positive real number."""
    if not _is_real(value):
        raise TypeError(f"{name} must be a positive real number; got {value!r}")
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite positive number; got {value}")
    return float(value)


def check_non_negative_float(name, value):
    """``value`` as a float, if it is a finite real number >= 0."""
    if not _is_real(value):
        raise TypeError(f"{name} must be a finite number >= 0; got {value!r}")
    if not (np.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0; got {value!r}")
    return float(value)


def check_fraction(name, value):
    """``value`` as a float, if it is a real number in [0, 1)."""
    if not _is_real(value):
        raise TypeError(f"{name} must be a real number in [0, 1); got {value!r}")
    if not 0 <= value < 1:
        raise ValueError(f"{name} must be in [0, 1); got {value}")
    return float(value)
